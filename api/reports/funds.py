"""Section 2: each special fund's flow (专项资金: 何时拨、拨给谁、怎么用) in the region, from the service of
``/v1/special-funds/{code}/flow``: allocated, received, passed on, assigned and paid per region and level,
and the lag of each stage summed up per level (median and max days)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.funds.service import FlowRow, flow, list_funds
from api.pagination import MAX_LIMIT
from api.reports.model import FundFlow, FundSection, StageLag
from api.reports.numbers import nearest_rank
from schema.models import MofDiv
from security.scope import Scope

STAGES = ("plan_to_indicator_days", "receipt_days", "pass_on_days", "to_payment_days")


def special_funds(session: Session, scope: Scope, root: str, year: int) -> FundSection:
    """The flows of every fund the caller sees that moved money in ``root``'s subtree in ``year`` (the
    flow is the year's to date: the fund's documents carry no cut-off but the year). The level totals and
    stage lags cover every region of the subtree; the rows only the region and its children, the ones a
    report of the region is about (a province holds some 2,700 townships: their rows are one API call
    away, ``/v1/special-funds/{code}/flow?region=``)."""
    codes: list[str] = []
    cursor = None
    while True:
        page = list_funds(session, scope, q=None, cursor=cursor, limit=MAX_LIMIT)
        codes += [f.code for f in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    shown = {root, *session.execute(select(MofDiv.mof_div_code).where(MofDiv.parent_code == root)).scalars()}
    funds = []
    for code in codes:
        rows: list[FlowRow] = []
        cursor = None
        while True:
            page_ = flow(session, scope, code, year=year, region=root, cursor=cursor, limit=MAX_LIMIT)
            rows += page_.rows
            cursor = page_.next_cursor
            if cursor is None:
                break
        if rows:
            near = [r for r in rows if r.region in shown]
            funds.append(
                FundFlow(fund=page_.fund, year=year, levels=page_.levels, lags=_lags(rows), rows=near)
            )
    return FundSection(year=year, funds=funds)


def _lags(rows: list[FlowRow]) -> list[StageLag]:
    by_level: dict[int | None, list[FlowRow]] = {}
    for r in rows:
        by_level.setdefault(r.level, []).append(r)
    out = []
    for level in sorted(by_level, key=lambda lv: (lv is None, lv or 0)):
        mine = by_level[level]
        spans = {}
        for stage in STAGES:
            days = [d for d in (getattr(r, stage) for r in mine) if d is not None]
            spans[stage] = [nearest_rank(days, 0.5), max(days) if days else None]
        out.append(StageLag(level=level, regions=len(mine), **spans))
    return out
