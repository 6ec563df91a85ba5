"""Special funds (专项资金): the catalogue, and one fund's flow from allocation plan to payment.

The flow of a fund in a year, per region: what the allocation plan (分配方案) gave the region, the
transfer indicators it received (上级下达), what it passed on to lower regions and assigned to its units,
what is still undistributed, what was paid, and the lag of each stage: plan → indicator issued →
registered by the region → passed on → first payment.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from api.analysis.breakdown import Question, answer
from api.analysis.dimensions import Dim, Filter, parse_filter
from api.analysis.measures import Measures
from api.analysis.service import default_year, resolve_scope
from api.errors import NotFound
from api.pagination import Listed, keyset_page, page_of
from connectors.ingest.convert import format_amount
from schema.models import BgtAdj, BgtInfo, MofDiv, PayVoucher, RegionClosure, SpeFund, SpeFundAlloc
from security.scope import Scope


class FundRow(Listed):
    code: str
    name: str
    region: str = Field(description="the level that manages it")
    region_name: str | None
    mof_dep_code: str | None
    fund_type: str | None
    policy_doc_no: str | None
    start_year: int | None
    end_year: int | None


class FundPage(BaseModel):
    rows: list[FundRow]
    next_cursor: str | None


class FundYear(BaseModel):
    year: int
    allocated: str = Field(description="allocation plan lines (分配方案) issued inside the scope")
    measures: Measures = Field(description="the scope's measures restricted to the fund")


class Fund(FundRow):
    years: list[FundYear]


def _fund_row(f: SpeFund, region_name: str | None) -> FundRow:
    return FundRow(
        code=f.spe_fund_code,
        name=f.spe_fund_name,
        region=f.mof_div_code,
        region_name=region_name,
        mof_dep_code=f.manage_mof_dep_code,
        fund_type=f.fund_type_code,
        policy_doc_no=f.policy_doc_no,
        start_year=f.start_year,
        end_year=f.end_year,
    )


def _touches_scope(scope: Scope) -> Any:
    """Funds managed inside the caller's jurisdiction, or with an indicator issued or received in it."""
    used = select(BgtInfo.spe_fund_code).where(BgtInfo.is_deleted.is_(False), scope.indicators(BgtInfo))
    return or_(scope.regions(SpeFund.mof_div_code), SpeFund.spe_fund_code.in_(used))


def list_funds(session: Session, scope: Scope, *, q: str | None, cursor: str | None, limit: int) -> FundPage:
    rows, next_cursor = keyset_page(
        session,
        funds_query(scope, q=q),
        "special-funds",
        [SpeFund.spe_fund_code],
        cursor,
        limit,
        lambda r: _fund_row(r[0], r[1]),
        lambda row: [row.code],
    )
    return FundPage(rows=rows, next_cursor=next_cursor)


def funds_query(scope: Scope, *, q: str | None) -> Any:
    """The special funds a listing holds, unordered (also counted for GraphQL's totalCount)."""
    query = (
        select(SpeFund, MofDiv.mof_div_name)
        .outerjoin(MofDiv, MofDiv.mof_div_code == SpeFund.mof_div_code)
        .where(SpeFund.is_deleted.is_(False))
    )
    if scope.region is not None:
        query = query.where(_touches_scope(scope))
    if q:
        query = query.where(
            or_(SpeFund.spe_fund_name.contains(q, autoescape=True), SpeFund.spe_fund_code == q)
        )
    return query


def _get_fund(session: Session, scope: Scope, code: str) -> tuple[SpeFund, str | None]:
    query = (
        select(SpeFund, MofDiv.mof_div_name)
        .outerjoin(MofDiv, MofDiv.mof_div_code == SpeFund.mof_div_code)
        .where(SpeFund.spe_fund_code == code, SpeFund.is_deleted.is_(False))
    )
    if scope.region is not None:
        query = query.where(_touches_scope(scope))
    found = session.execute(query).first()
    if found is None:
        raise NotFound(f"no special fund {code!r}")
    return found[0], found[1]


def get_fund(session: Session, scope: Scope, code: str) -> Fund:
    fund, region_name = _get_fund(session, scope, code)
    root = resolve_scope(session, scope, None)[0]
    years = sorted(
        y
        for (y,) in session.execute(
            select(BgtInfo.fiscal_year)
            .where(
                BgtInfo.spe_fund_code == code,
                BgtInfo.is_deleted.is_(False),
                scope.indicators(BgtInfo),
            )
            .distinct()
        )
    )
    out = []
    for year in years:
        result = answer(session, scope, Question(year=year, root=root, filters=(_fund_filter(code),)))
        alloc = session.execute(
            select(func.coalesce(func.sum(SpeFundAlloc.amount_fen), 0)).where(
                SpeFundAlloc.spe_fund_code == code,
                SpeFundAlloc.fiscal_year == year,
                SpeFundAlloc.is_deleted.is_(False),
                scope.regions(SpeFundAlloc.mof_div_code),
            )
        ).scalar_one()
        out.append(FundYear(year=year, allocated=format_amount(int(alloc)), measures=result.total.measures()))
    return Fund(**_fund_row(fund, region_name).model_dump(), years=out)


def _fund_filter(code: str) -> Filter:
    return parse_filter(Dim.spe_fund, code)


# --- flow ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Region:
    allocated: int = 0  # allocation plan lines to this region
    allocated_on: date | None = None
    allocated_to_units: int = 0  # plan lines this region gave its units
    received: int = 0  # transfer indicators issued to it
    issued_to_it_on: date | None = None  # first document date of those
    registered_on: date | None = None  # first rec_date of its own indicators
    passed_on: int = 0  # transfer indicators it issued to lower regions
    passed_on_on: date | None = None
    assigned: int = 0  # indicators it assigned to its units
    assigned_on: date | None = None
    paid: int = 0
    payments: int = 0
    first_paid_on: date | None = None


class FlowRow(Listed):
    region: str
    region_name: str | None
    level: int | None = Field(description="1 province, 2 city, 3 county, 4 township")
    allocated: str = Field(description="分配方案: plan lines allocating the fund to this region")
    allocated_to_units: str = Field(description="plan lines this region allocated to its own units")
    received: str = Field(description="上级下达: transfer indicators of the fund issued to this region")
    passed_on: str = Field(description="转移下达: transfer indicators it issued to lower regions")
    assigned: str = Field(description="indicators it assigned to its budget units")
    undistributed: str | None = Field(
        description="received - passed on - assigned; null where nothing was received"
    )
    paid: str
    payments: int
    allocated_on: date | None
    issued_on: date | None = Field(description="first document date of the indicators issued to it")
    registered_on: date | None = Field(description="first date it registered the funds (rec_date)")
    passed_on_on: date | None = Field(description="first date it passed funds on or assigned them")
    first_paid_on: date | None
    plan_to_indicator_days: int | None = Field(description="issued_on - allocated_on")
    receipt_days: int | None = Field(description="registered_on - issued_on")
    pass_on_days: int | None = Field(description="passed_on_on - registered_on (or - issued_on)")
    to_payment_days: int | None = Field(description="first_paid_on - passed_on_on")


class LevelTotals(BaseModel):
    level: int | None
    regions: int
    allocated: str
    received: str
    passed_on: str
    assigned: str
    undistributed: str
    paid: str


class Flow(BaseModel):
    fund: FundRow
    year: int
    levels: list[LevelTotals] = Field(description="the rows summed per region level")
    rows: list[FlowRow]
    row_count: int = Field(description="regions of the whole flow, over all pages")
    next_cursor: str | None


def _days(later: date | None, earlier: date | None) -> int | None:
    return (later - earlier).days if later and earlier else None


def _min(a: date | None, b: Any) -> date | None:
    if b is None:
        return a
    b = b if isinstance(b, date) else date.fromisoformat(str(b))
    return b if a is None or b < a else a


def flow(
    session: Session,
    scope: Scope,
    code: str,
    *,
    year: int | None,
    region: str | None,
    cursor: str | None,
    limit: int,
) -> Flow:
    fund, region_name = _get_fund(session, scope, code)
    year = year or default_year(session)
    root = resolve_scope(session, scope, region)[0] if region or scope.region else None
    regions: dict[str, _Region] = defaultdict(_Region)

    a = SpeFundAlloc
    live_alloc = (a.spe_fund_code == code, a.fiscal_year == year, a.is_deleted.is_(False))
    for rec_div, fen, first in session.execute(
        select(a.rec_div_code, func.sum(a.amount_fen), func.min(a.alloc_date))
        .where(*live_alloc, a.rec_div_code.is_not(None))
        .group_by(a.rec_div_code)
    ):
        target = regions[str(rec_div)]
        target.allocated += int(fen)
        target.allocated_on = _min(target.allocated_on, first)
    for div, fen in session.execute(
        select(a.mof_div_code, func.sum(a.amount_fen))
        .where(*live_alloc, a.agency_code.is_not(None))
        .group_by(a.mof_div_code)
    ):
        regions[div].allocated_to_units += int(fen)

    b = BgtInfo
    adj = (
        select(BgtAdj.bgt_id, func.sum(BgtAdj.add_amount_fen).label("fen"))
        .where(BgtAdj.is_deleted.is_(False))
        .group_by(BgtAdj.bgt_id)
        .subquery()
    )
    current = b.amount_fen + func.coalesce(adj.c.fen, 0)
    live = (b.spe_fund_code == code, b.fiscal_year == year, b.is_deleted.is_(False))
    indicators = (
        select(
            b.mof_div_code,
            b.rec_div_code,
            b.agency_code.is_not(None),
            func.sum(current),
            func.min(b.doc_date),
            func.min(b.rec_date),
        )
        .outerjoin(adj, adj.c.bgt_id == b.bgt_id)
        .where(*live)
        .group_by(b.mof_div_code, b.rec_div_code, b.agency_code.is_not(None))
    )
    for div, rec_div, assigned, fen, first_doc, first_rec in session.execute(indicators):
        r = regions[div]
        r.registered_on = _min(r.registered_on, first_rec)
        if assigned:
            r.assigned += int(fen)
            r.assigned_on = _min(r.assigned_on, first_doc)
        elif rec_div:
            r.passed_on += int(fen)
            r.passed_on_on = _min(r.passed_on_on, first_doc)
            regions[rec_div].received += int(fen)
            regions[rec_div].issued_to_it_on = _min(regions[rec_div].issued_to_it_on, first_doc)

    p = PayVoucher
    for div, fen, n, first in session.execute(
        select(p.mof_div_code, func.sum(p.pay_amt_fen), func.count(), func.min(p.vou_date))
        .where(p.bgt_id.in_(select(b.bgt_id).where(*live)), p.is_deleted.is_(False))
        .group_by(p.mof_div_code)
    ):
        regions[div].paid += int(fen)
        regions[div].payments += int(n)
        regions[div].first_paid_on = _min(regions[div].first_paid_on, first)

    visible = _visible_regions(session, scope, root, list(regions))
    info = {
        c: (n, lv)
        for c, n, lv in session.execute(
            select(MofDiv.mof_div_code, MofDiv.mof_div_name, MofDiv.level_no).where(
                MofDiv.mof_div_code.in_(visible)
            )
        )
    }
    levels = _levels([(regions[c], info.get(c, (None, None))[1]) for c in visible])
    rows = [_flow_row(c, regions[c], *info.get(c, (None, None))) for c in sorted(visible)]
    page, next_cursor = page_of(rows, f"flow:{code}:{year}", lambda r: [r.region], cursor, limit)
    return Flow(
        fund=_fund_row(fund, region_name),
        year=year,
        levels=levels,
        rows=page,
        row_count=len(rows),
        next_cursor=next_cursor,
    )


def _visible_regions(session: Session, scope: Scope, root: str | None, codes: list[str]) -> list[str]:
    query = select(MofDiv.mof_div_code).where(
        MofDiv.mof_div_code.in_(codes), scope.regions(MofDiv.mof_div_code)
    )
    if root is not None:
        query = query.where(
            MofDiv.mof_div_code.in_(select(RegionClosure.descendant).where(RegionClosure.ancestor == root))
        )
    return list(session.execute(query).scalars())


def _flow_row(code: str, r: _Region, name: str | None, level: int | None) -> FlowRow:
    undistributed = r.received - r.passed_on - r.assigned if r.received else None
    handed_on = min((d for d in (r.passed_on_on, r.assigned_on) if d), default=None)
    return FlowRow(
        region=code,
        region_name=name,
        level=level,
        allocated=format_amount(r.allocated),
        allocated_to_units=format_amount(r.allocated_to_units),
        received=format_amount(r.received),
        passed_on=format_amount(r.passed_on),
        assigned=format_amount(r.assigned),
        undistributed=None if undistributed is None else format_amount(undistributed),
        paid=format_amount(r.paid),
        payments=r.payments,
        allocated_on=r.allocated_on,
        issued_on=r.issued_to_it_on,
        registered_on=r.registered_on,
        passed_on_on=handed_on,
        first_paid_on=r.first_paid_on,
        plan_to_indicator_days=_days(r.issued_to_it_on, r.allocated_on),
        receipt_days=_days(r.registered_on, r.issued_to_it_on),
        pass_on_days=_days(handed_on, r.registered_on or r.issued_to_it_on),
        to_payment_days=_days(r.first_paid_on, handed_on),
    )


def _levels(regions: list[tuple[_Region, int | None]]) -> list[LevelTotals]:
    by_level: dict[int | None, list[_Region]] = defaultdict(list)
    for r, level in regions:
        by_level[level].append(r)
    out = []
    for level in sorted(by_level, key=lambda lv: (lv is None, lv or 0)):
        rs = by_level[level]
        out.append(
            LevelTotals(
                level=level,
                regions=len(rs),
                allocated=format_amount(sum(r.allocated for r in rs)),
                received=format_amount(sum(r.received for r in rs)),
                passed_on=format_amount(sum(r.passed_on for r in rs)),
                assigned=format_amount(sum(r.assigned for r in rs)),
                undistributed=format_amount(
                    sum(r.received - r.passed_on - r.assigned for r in rs if r.received)
                ),
                paid=format_amount(sum(r.paid for r in rs)),
            )
        )
    return out
