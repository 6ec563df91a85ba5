"""资金使用 (fund use): rules over single payments and groups of payments of one unit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, literal, select, tuple_, union_all

from monitor import thresholds as th
from monitor.rule import Ctx, Level, ObjectType, Param, Rule
from monitor.rules._common import live, payment_columns, text_null, text_value
from monitor.sql import ids_agg, year_month
from schema.models import PayVoucher

CASH = "2"  # set_mode_code 现金


def _large_cash(ctx: Ctx) -> Select[Any]:
    v = PayVoucher
    single = select(
        text_value("payment", "object_type"),
        *payment_columns(),
        literal("", type_=v.agency_code.type).label("facet"),
        text_null("related"),
        text_null("related_type"),
        text_value("single", "ev_kind"),
        literal(1).label("ev_payments"),
    ).where(
        live(v),
        v.set_mode_code == CASH,
        v.pay_amt_fen > ctx.yuan("single_limit_yuan"),
        ctx.in_regions(v.mof_div_code),
        ctx.new(v),
    )
    month = year_month(v.vou_date)
    group = (v.mof_div_code, v.agency_code, month)
    touched = select(*group).where(v.set_mode_code == CASH, ctx.new(v))
    monthly = (
        select(
            text_value("agency", "object_type"),
            v.agency_code.label("object_id"),
            v.mof_div_code.label("mof_div_code"),
            func.min(v.fiscal_year).label("fiscal_year"),
            func.sum(v.pay_amt_fen).label("amount_fen"),
            func.max(v.vou_date).label("occurred_on"),
            v.agency_code.label("agency_code"),
            text_null("payee_key"),
            month.label("facet"),
            ids_agg(v.pay_cert_id).label("related"),
            text_value("payment", "related_type"),
            text_value("monthly", "ev_kind"),
            func.count().label("ev_payments"),
        )
        .where(live(v), v.set_mode_code == CASH, ctx.in_regions(v.mof_div_code))
        .where(tuple_(*group).in_(touched) if ctx.incremental else literal(True))
        .group_by(*group)
        # one payment above the monthly limit is the single-payment finding already
        .having(func.count() >= 2, func.sum(v.pay_amt_fen) > ctx.yuan("monthly_limit_yuan"))
    )
    return union_all(single, monthly)  # type: ignore[return-value]


def _explain_cash(ev: dict[str, Any], params: Any) -> dict[str, Any]:
    if ev["kind"] == "single":
        return {"detail": f"one cash payment above {params['single_limit_yuan']} yuan"}
    return {
        "detail": f"{ev['payments']} cash payments in one month together above the monthly limit of "
        f"{params['monthly_limit_yuan']} yuan"
    }


LARGE_CASH = Rule(
    code="USE-01",
    key="large_cash",
    group="资金使用",
    name="大额提取现金",
    title="Large cash withdrawal",
    level=Level.orange,
    object_type=ObjectType.payment,
    fires_when="a cash payment (结算方式 现金) above {single_limit_yuan} yuan, or a unit's cash payments of "
    "one calendar month adding up to more than {monthly_limit_yuan} yuan",
    basis="《现金管理暂行条例》第五条、《中央预算单位银行账户和现金管理办法》: 预算单位应当减少现金支付，"
    "大额现金支付须经审批",
    message="{detail}: {amount} yuan",
    query=_large_cash,
    inputs=("pay_voucher",),
    params=(
        Param("single_limit_yuan", th.LARGE_CASH_YUAN, "one cash payment above this (yuan)"),
        Param("monthly_limit_yuan", th.CASH_MONTHLY_LIMIT_YUAN, "a unit's cash in one month above this"),
    ),
    explain=_explain_cash,
)

RULES: tuple[Rule, ...] = (LARGE_CASH,)
