"""What many rules share: the live-record filters, typed NULLs for UNION ALL branches, share texts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String, literal, null, select, union

from monitor.rule import Ctx
from schema.models import BgtAdj, BgtInfo, PayPlan, PayVoucher


def live(model: Any) -> Any:
    """Not deleted (``is_deleted = 1`` removes a record from every rule, as from every figure)."""
    return model.is_deleted.is_(False)


def text_null(label: str) -> Any:
    return null().cast(String).label(label)


def int_null(label: str) -> Any:
    return null().cast(Integer).label(label)


def text_value(value: str, label: str) -> Any:
    return literal(value, String).label(label)


def payment_columns(v: type[PayVoucher] = PayVoucher) -> list[Any]:
    """The finding columns of a rule about one payment."""
    return [
        v.pay_cert_id.label("object_id"),
        v.mof_div_code.label("mof_div_code"),
        v.fiscal_year.label("fiscal_year"),
        v.pay_amt_fen.label("amount_fen"),
        v.vou_date.label("occurred_on"),
        v.agency_code.label("agency_code"),
        v.payee_key.label("payee_key"),
    ]


def permille_text(part: int, whole: int) -> str:
    """``part / whole`` as a percentage with one decimal, by integer arithmetic (``38.2%``)."""
    if not whole:
        return "n/a"
    tenths = (part * 1000 + whole // 2) // whole
    return f"{tenths // 10}.{tenths % 10}%"


def touched_indicators(ctx: Ctx) -> Any:
    """An incremental run's indicators: those with a new payment, plan line, adjustment or record."""
    v, p, a, b = PayVoucher, PayPlan, BgtAdj, BgtInfo
    return union(
        select(v.bgt_id).where(ctx.new(v), v.bgt_id.is_not(None)),
        select(p.bgt_id).where(ctx.new(p)),
        select(a.bgt_id).where(ctx.new(a)),
        select(b.bgt_id).where(ctx.new(b)),
    )


def touched_units(ctx: Ctx) -> Any:
    """An incremental run's (region, unit, fiscal year): those with a new payment or indicator, or an
    indicator with a new adjustment."""
    v, a, b = PayVoucher, BgtAdj, BgtInfo
    return union(
        select(v.mof_div_code, v.agency_code, v.fiscal_year).where(ctx.new(v)),
        select(b.mof_div_code, b.agency_code, b.fiscal_year).where(ctx.new(b), b.agency_code.is_not(None)),
        select(b.mof_div_code, b.agency_code, b.fiscal_year).where(
            b.agency_code.is_not(None), b.bgt_id.in_(select(a.bgt_id).where(ctx.new(a)))
        ),
    )
