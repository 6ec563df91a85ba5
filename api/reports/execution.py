"""Section 1: execution of the four budgets (四本预算) against time progress (序时进度), by fund type, by
region and by department.

Every figure comes from the services of ``/v1/summary`` and ``/v1/drilldown`` (and so from the same rollups),
so a report and the API agree to the fen. When the report's as-of date lies before the year's newest payment
(a past period), paid is what had been paid by that day: the months up to it from the month breakdown of the
same services, less the as-of month's payments after that day, read through the drill-down's own payments
query. The budget is always the year's, as the API gives it: an execution rate is measured against the
budget of the year, not against what had been issued by the as-of date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.analysis.breakdown import payments_query, subtree_codes
from api.analysis.dimensions import Dim
from api.analysis.measures import Measures, rate
from api.analysis.service import Drill, DrillRow, drilldown, drilldowns, summary, time_progress
from api.pagination import MAX_LIMIT
from api.reports.model import ExecutionRow, ExecutionSection
from api.reports.numbers import gap_points
from connectors.ingest.convert import format_amount, parse_amount
from schema.models import MofDiv, PayVoucher, RegionClosure
from security.scope import Scope


def execution(session: Session, scope: Scope, root: str, year: int, last_day: date) -> ExecutionSection:
    """The section for ``root``'s subtree in ``year``, as of ``last_day`` or the data's newest payment if
    earlier. The data's, not the region's: a county that stopped paying in July is measured against the
    time progress of the day the data reaches, where it is behind, not against July's."""
    figures = summary(session, scope, year=year, region=root)
    seen = figures if scope.region == root else summary(session, scope, year=year, region=None)
    newest = seen.data_as_of  # the newest payment of the year in the caller's whole jurisdiction
    as_of = min(last_day, newest) if newest else last_day
    progress = time_progress(year, as_of)
    lines = [b for b in figures.budgets if _has_data(b.measures)]
    regions = _all_rows(session, scope, year, root, own_level=False, by=Dim.region, sort="key")
    departments = _all_rows(session, scope, year, root, own_level=True, by=Dim.department, sort="-budget")
    cumulative = figures.data_as_of is not None and figures.data_as_of > as_of
    paid: dict[tuple[str, str | None], int] = {}
    if cumulative:
        paid = _paid_by(session, scope, root, year, as_of, [b.fund_type for b in lines], regions, departments)

    def row(view: str, key: str | None, name: str | None, m: Measures, own: bool = False) -> ExecutionRow:
        budget = parse_amount(m.budget)
        spent = paid[(view, key)] if cumulative else parse_amount(m.paid)
        r = rate(spent, budget)
        return ExecutionRow(
            key=key,
            name=name,
            own_level=own,
            budget=format_amount(budget),
            paid=format_amount(spent),
            execution_rate=None if r is None else str(r),
            time_progress=None if progress is None else str(progress),
            gap_points=gap_points(r, progress),
        )

    return ExecutionSection(
        year=year,
        as_of=as_of,
        data_as_of=newest,
        time_progress=None if progress is None else str(progress),
        cumulative=cumulative,
        fund_types=[row("fund_type", b.fund_type, b.name, b.measures) for b in lines],
        total=row("fund_type", None, figures.total.name, figures.total.measures),
        regions=[row("region", r.key, r.name, r.measures, r.own_level) for r in regions],
        departments=[row("department", d.key, d.name, d.measures) for d in departments],
        reported=figures.execution,
    )


def _has_data(m: Measures) -> bool:
    return any(parse_amount(v) for v in (m.budget, m.paid, m.transfer_in, m.plan))


def _all_rows(
    session: Session, scope: Scope, year: int, root: str, *, own_level: bool, by: Dim, sort: str
) -> list[DrillRow]:
    """Every row of one breakdown, page after page, as ``/v1/drilldown`` gives them."""
    rows: list[DrillRow] = []
    cursor = None
    while True:
        page = drilldown(
            session,
            scope,
            year=year,
            region=root,
            own_level=own_level,
            by=by,
            level=None,
            filters={},
            sort=sort,
            cursor=cursor,
            limit=MAX_LIMIT,
        )
        rows += page.rows
        cursor = page.next_cursor
        if cursor is None:
            return rows


def _paid_by(
    session: Session,
    scope: Scope,
    root: str,
    year: int,
    as_of: date,
    fund_types: Sequence[str | None],
    regions: Sequence[DrillRow],
    departments: Sequence[DrillRow],
) -> dict[tuple[str, str | None], int]:
    """Paid up to ``as_of`` per row: each row's month breakdown summed up to the as-of month (one batch of
    drill-downs, sent together), less that month's payments after the as-of day."""
    asks: list[tuple[tuple[str, str | None], Drill]] = [
        (("fund_type", None), Drill(year, root, False, Dim.month, None, ()))
    ]
    asks += [
        (("fund_type", ft), Drill(year, root, False, Dim.month, None, ((Dim.fund_type, ft),)))
        for ft in fund_types
        if ft is not None
    ]
    asks += [(("region", r.key), Drill(year, r.key, r.own_level, Dim.month, None, ())) for r in regions]
    asks += [
        (("department", d.key), Drill(year, root, True, Dim.month, None, ((Dim.department, d.key),)))
        for d in departments
    ]
    month = f"{as_of.month:02d}"
    answers = drilldowns(session, scope, [ask for _, ask in asks], {})
    paid = {
        key: sum(parse_amount(r.measures.paid) for r in answer.rows if r.key <= month)
        for (key, _), answer in zip(asks, answers, strict=True)
    }
    for key, fen in _paid_after(session, scope, root, year, as_of).items():
        if key in paid:
            paid[key] -= fen
    return paid


def _paid_after(
    session: Session, scope: Scope, root: str, year: int, as_of: date
) -> dict[tuple[str, str | None], int]:
    """Payments of the as-of month made after the as-of day, per row key (none: it is the month's last)."""
    end = date(as_of.year + as_of.month // 12, as_of.month % 12 + 1, 1) - timedelta(days=1)
    if as_of >= end:
        return {}
    p = PayVoucher
    base, columns = payments_query(scope, year, root, False, [], Dim.department, subtree_codes(session, root))
    department = columns[Dim.department]
    query = (
        base.with_only_columns(p.fund_type_code, p.mof_div_code, department, func.sum(p.pay_amt_fen))
        .where(p.vou_date > as_of, p.vou_date <= end)
        .group_by(p.fund_type_code, p.mof_div_code, department)
    )
    branch = _branches(session, root)
    out: dict[tuple[str, str | None], int] = defaultdict(int)
    for fund_type, region, dept, fen in session.execute(query):
        fen = int(fen or 0)
        out[("fund_type", None)] += fen
        out[("fund_type", fund_type)] += fen
        out[("region", branch.get(region))] += fen
        if region == root and dept is not None:
            out[("department", f"{region}:{dept}")] += fen
    return out


def _branches(session: Session, root: str) -> dict[str, str]:
    """Region → its row in a region breakdown: the root itself (本级) or the child whose subtree holds it."""
    rows = session.execute(
        select(RegionClosure.descendant, RegionClosure.ancestor)
        .join(MofDiv, MofDiv.mof_div_code == RegionClosure.ancestor)
        .where(MofDiv.parent_code == root)
    )
    branch: dict[str, str] = {d: a for d, a in rows}
    branch[root] = root
    return branch
