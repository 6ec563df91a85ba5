"""Payees (收款人): one resolved payee and everything it received, inside the caller's jurisdiction.

A payee is resolved as semantics.md says (credit code, else keyed hash of the ID number, else name plus
account), so its ``payee_id`` follows it across units, years and regions. What it received counts twice
over, kept apart: as the payee of vouchers, and as the final recipient of vouchers' detail lines (一卡通).
A person's name, ID number and account are masked unless the caller is cleared; a caller without
clearance cannot find persons by name either, since a match would confirm who they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session

from api.analysis.dimensions import Dim
from api.errors import NotFound
from api.pagination import Listed, keyset_page
from api.payments.service import PaymentPage, PaymentSearch, list_payments
from connectors.ingest.convert import format_amount
from schema.models import Agency, MofDiv, PayDetail, Payee, PayeeRegion, PayVoucher
from security.masking import mask_account, mask_name
from security.scope import Scope


class PayeeRow(Listed):
    payee_id: str
    name: str = Field(description="masked when a person, unless cleared")
    is_person: bool
    payee_type: str | None
    unifsoc_cred_code: str | None
    account_no: str | None
    vouchers: int = Field(description="vouchers paid to it, in the caller's jurisdiction")
    voucher_amount: str
    details: int = Field(description="detail lines (支付明细) paying it as the final recipient")
    detail_amount: str
    first_date: date | None
    last_date: date | None


class PayeePage(BaseModel):
    rows: list[PayeeRow]
    next_cursor: str | None


class Received(BaseModel):
    key: str
    name: str | None
    vouchers: int
    voucher_amount: str
    details: int
    detail_amount: str


class PayeeDetail(PayeeRow):
    by_year: list[Received]
    by_region: list[Received]
    by_agency: list[Received] = Field(description="the units that paid it (key region:agency_code)")
    payments: PaymentPage = Field(description="first page; /v1/payments?payee=… continues")


def _show(row: Any, pii: bool) -> dict[str, Any]:
    hide = row.is_person and not pii
    return {
        "payee_id": row.payee_key,
        "name": (mask_name(row.name) if hide else row.name) or "",
        "is_person": row.is_person,
        "payee_type": row.payee_type,
        "unifsoc_cred_code": row.unifsoc_cred_code,
        "account_no": mask_account(row.account_no) if hide else row.account_no,
    }


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _totals_query(scope: Scope) -> Any:
    r = PayeeRegion
    return (
        select(
            Payee,
            func.sum(r.vouchers),
            func.sum(r.voucher_fen),
            func.sum(r.details),
            func.sum(r.detail_fen),
            func.min(r.first_date),
            func.max(r.last_date),
        )
        .join(r, r.payee_key == Payee.payee_key)
        .where(scope.regions(r.mof_div_code))
        .group_by(Payee.payee_key)
    )


def _payee_row(r: Any, pii: bool) -> PayeeRow:
    return PayeeRow(
        **_show(r[0], pii),
        vouchers=int(r[1]),
        voucher_amount=format_amount(int(r[2])),
        details=int(r[3]),
        detail_amount=format_amount(int(r[4])),
        first_date=_date(r[5]),
        last_date=_date(r[6]),
    )


def list_payees(
    session: Session, scope: Scope, *, q: str | None, cursor: str | None, limit: int
) -> PayeePage:
    rows, next_cursor = keyset_page(
        session,
        payees_query(scope, q=q),
        "payees",
        [Payee.payee_key],
        cursor,
        limit,
        lambda r: _payee_row(r, scope.pii),
        lambda row: [row.payee_id],
    )
    return PayeePage(rows=rows, next_cursor=next_cursor)


def payees_query(scope: Scope, *, q: str | None) -> Any:
    """The payees a listing holds, with their totals, unordered (also counted for GraphQL's totalCount).
    Without clearance, a person cannot be found by name: a match would confirm who it is."""
    query = _totals_query(scope)
    if q:
        by_name = Payee.name.contains(q, autoescape=True)
        if not scope.pii:
            by_name = by_name & Payee.is_person.is_(False)
        query = query.where(or_(by_name, Payee.unifsoc_cred_code == q.upper(), Payee.payee_key == q))
    return query


def payees_by_id(session: Session, scope: Scope, payee_ids: list[str]) -> dict[str, PayeeRow]:
    """Payees with what they received in the caller's jurisdiction, in one query."""
    if not payee_ids:
        return {}
    rows = session.execute(_totals_query(scope).where(Payee.payee_key.in_(payee_ids)))
    return {r[0].payee_key: _payee_row(r, scope.pii) for r in rows}


def get_payee(session: Session, scope: Scope, payee_id: str) -> PayeeDetail:
    found = session.execute(_totals_query(scope).where(Payee.payee_key == payee_id)).first()
    if found is None:
        raise NotFound(f"no payee {payee_id!r}")
    base = _payee_row(found, scope.pii)
    p, d = PayVoucher, PayDetail
    voucher_scope = (p.payee_key == payee_id, p.is_deleted.is_(False), scope.regions(p.mof_div_code))
    detail_scope = (
        d.payee_key == payee_id,
        d.is_deleted.is_(False),
        p.is_deleted.is_(False),
        scope.regions(p.mof_div_code),
    )

    def received(key_v: Any, key_d: Any) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for k, n, fen in session.execute(
            select(key_v, func.count(), func.sum(p.pay_amt_fen)).where(*voucher_scope).group_by(key_v)
        ):
            out.setdefault(str(k), [0, 0, 0, 0])[0:2] = [int(n), int(fen)]
        for k, n, fen in session.execute(
            select(key_d, func.count(), func.sum(d.pay_amt_fen))
            .join(p, p.pay_cert_id == d.pay_cert_id)
            .where(*detail_scope)
            .group_by(key_d)
        ):
            out.setdefault(str(k), [0, 0, 0, 0])[2:4] = [int(n), int(fen)]
        return out

    def listed(values: dict[str, list[int]], names: Mapping[str, str | None]) -> list[Received]:
        return [
            Received(
                key=k,
                name=names.get(k),
                vouchers=v[0],
                voucher_amount=format_amount(v[1]),
                details=v[2],
                detail_amount=format_amount(v[3]),
            )
            for k, v in sorted(values.items())
        ]

    years = received(p.fiscal_year, p.fiscal_year)
    regions = received(p.mof_div_code, p.mof_div_code)
    unit_key = p.mof_div_code + ":" + p.agency_code
    units = received(unit_key, unit_key)
    region_names = dict(
        session.execute(
            select(MofDiv.mof_div_code, MofDiv.mof_div_name).where(MofDiv.mof_div_code.in_(list(regions)))
        ).all()
    )
    pairs = [tuple(k.split(":", 1)) for k in units]
    unit_names = {
        f"{m}:{a}": n
        for m, a, n in session.execute(
            select(Agency.mof_div_code, Agency.agency_code, Agency.agency_name).where(
                tuple_(Agency.mof_div_code, Agency.agency_code).in_(pairs), Agency.is_deleted.is_(False)
            )
        )
    }
    payments = list_payments(
        session,
        scope,
        PaymentSearch(filters={Dim.payee: payee_id}),
        sort="-vou_date",
        cursor=None,
        limit=20,
    )
    return PayeeDetail(
        **base.model_dump(),
        by_year=listed(years, {}),
        by_region=listed(regions, region_names),
        by_agency=listed(units, unit_names),
        payments=payments,
    )
