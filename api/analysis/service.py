"""``summary`` and ``drilldown``: the figures of one scope, and one breakdown of them, page by page."""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.analysis.breakdown import Answer, Question, answer, roots
from api.analysis.dimensions import LEVELS, Dim, Filter, check_level, names, parse_filter, prefix_digits
from api.analysis.measures import Measures, Sums, rate
from api.errors import BadParameter, NotFound
from api.pagination import Listed, decode_cursor, encode_cursor
from api.reference.service import SourceStatus, sources
from connectors.ingest.convert import format_amount
from schema.derived import ExecRollup, Rollup, ScopeRollup
from schema.models import CodeSet, MofDiv
from security.scope import Scope

FOUR_BUDGETS = ("1", "2", "3", "4")  # 一般公共, 政府性基金, 国有资本经营, 社会保险基金


class ScopeInfo(BaseModel):
    year: int
    region: str | None = Field(description="root of the scope; null: the whole dataset the caller sees")
    region_name: str | None
    own_level: bool = Field(description="only the region's own level (本级), not the regions below it")
    filters: dict[str, str]
    by: str | None = None
    level: int | None = None


# --- scope --------------------------------------------------------------------------------------------


def resolve_scope(session: Session, scope: Scope, region: str | None) -> tuple[str | None, str | None]:
    """The region a question is about: one the caller may see (an unknown or foreign one is a 404)."""
    if region is None:
        if scope.region is None:
            tops = roots(session, scope)
            return (tops[0], _region_name(session, tops[0])) if len(tops) == 1 else (None, None)
        region = scope.region
    row = session.execute(
        select(MofDiv.mof_div_code, MofDiv.mof_div_name).where(
            MofDiv.mof_div_code == region, scope.regions(MofDiv.mof_div_code)
        )
    ).first()
    if row is None:
        raise NotFound(f"no region {region!r}")
    return row[0], row[1]


def _region_name(session: Session, code: str) -> str | None:
    return session.execute(select(MofDiv.mof_div_name).where(MofDiv.mof_div_code == code)).scalar()


def default_year(session: Session) -> int:
    year = session.execute(select(func.max(Rollup.fiscal_year))).scalar()
    return int(year) if year is not None else date.today().year


# --- summary ------------------------------------------------------------------------------------------


class BudgetLine(BaseModel):
    fund_type: str | None = Field(description="1-4 for the four budgets (四本预算), 9 other; null: all")
    name: str
    measures: Measures
    time_progress: str | None = Field(
        description="时间进度: share of the year elapsed at the data's as-of date"
    )


class ExecutionLine(BaseModel):
    fund_type: str
    name: str
    side: str = Field(description="income (收入) or expense (支出)")
    budget: str | None = Field(description="年初预算")
    adjusted: str | None = Field(description="调整预算")
    executed: str = Field(description="cumulative execution to the latest reported month")
    execution_rate: str | None = Field(description="executed / (adjusted, else budget)")
    month: int | None = Field(description="latest month reported by every region in scope")


class Summary(BaseModel):
    scope: ScopeInfo
    data_as_of: date | None = Field(description="latest payment date in the scope's year")
    budgets: list[BudgetLine]
    total: BudgetLine
    execution: list[ExecutionLine] = Field(description="收支执行 from gov_exec, revenue included")
    sources: list[SourceStatus]


def time_progress(year: int, as_of: date | None) -> Decimal | None:
    if as_of is None:
        return None
    if as_of.year > year:
        return Decimal("1.0000")
    if as_of.year < year:
        return Decimal("0.0000")
    days = 366 if calendar.isleap(year) else 365
    return rate(as_of.timetuple().tm_yday, days)


def summary(session: Session, scope: Scope, *, year: int | None, region: str | None) -> Summary:
    year = year or default_year(session)
    root, root_name = resolve_scope(session, scope, region)
    q = Question(year=year, root=root, by=Dim.fund_type)
    result = answer(session, scope, q)
    as_of = _as_of(session, scope, year, root)
    progress = time_progress(year, as_of)
    progress_text = None if progress is None else str(progress)
    fund_names = _fund_names(session)
    codes = list(FOUR_BUDGETS) + sorted(k for k in result.rows if k not in FOUR_BUDGETS)
    lines = [
        BudgetLine(
            fund_type=code,
            name=fund_names.get(code, code),
            measures=result.rows.get(code, Sums()).measures(),
            time_progress=progress_text,
        )
        for code in codes
    ]
    total = BudgetLine(
        fund_type=None, name="合计", measures=result.total.measures(), time_progress=progress_text
    )
    return Summary(
        scope=ScopeInfo(year=year, region=root, region_name=root_name, own_level=False, filters={}),
        data_as_of=as_of,
        budgets=lines,
        total=total,
        execution=_execution(session, scope, year, root, fund_names),
        sources=sources(session),
    )


def _fund_names(session: Session) -> dict[str, str]:
    rows = session.execute(select(CodeSet.code, CodeSet.name).where(CodeSet.code_set == "fund_type_code"))
    return dict(rows.all())  # type: ignore[arg-type]


def _as_of(session: Session, scope: Scope, year: int, root: str | None) -> date | None:
    s = ScopeRollup
    scopes = [root] if root else roots(session, scope)
    value = session.execute(
        select(func.max(s.last_paid_on)).where(
            s.fiscal_year == year, s.dim == "total", s.scope_code.in_(scopes)
        )
    ).scalar()
    if isinstance(value, str):  # SQLite hands back text from an aggregate
        return date.fromisoformat(value)
    return value  # type: ignore[no-any-return]


def _execution(
    session: Session, scope: Scope, year: int, root: str | None, fund_names: dict[str, str]
) -> list[ExecutionLine]:
    """Per fund type and side: each region's latest reported month, summed over the scope (exec_rollup)."""
    e = ExecRollup
    scopes = [root] if root else roots(session, scope)
    rows = session.execute(
        select(
            e.fund_type_code,
            e.side,
            func.sum(e.budget_fen),
            func.sum(e.adjusted_fen),
            func.sum(e.exec_fen),
            func.min(e.month),
        )
        .where(e.fiscal_year == year, e.scope_code.in_(scopes))
        .group_by(e.fund_type_code, e.side)
        .order_by(e.fund_type_code, e.side)
    ).all()
    out = []
    for fund_type, side, budget, adjusted, executed, month in rows:
        base = adjusted if adjusted is not None else budget
        r = rate(int(executed), int(base)) if base is not None else None
        out.append(
            ExecutionLine(
                fund_type=fund_type,
                name=fund_names.get(fund_type, fund_type),
                side=side,
                budget=None if budget is None else format_amount(int(budget)),
                adjusted=None if adjusted is None else format_amount(int(adjusted)),
                executed=format_amount(int(executed)),
                execution_rate=None if r is None else str(r),
                month=month,
            )
        )
    return out


# --- drilldown ----------------------------------------------------------------------------------------


class DrillRow(Listed):
    key: str = Field(description="the value to pass as this dimension's filter for the next click")
    name: str | None
    own_level: bool = Field(False, description="region breakdown: this row is the region's own level (本级)")
    measures: Measures


class Drilldown(BaseModel):
    scope: ScopeInfo
    total: Measures
    rows: list[DrillRow]
    unattributed: Measures = Field(description="records the dimension does not attribute to any row")
    next_cursor: str | None


SORTS = ("key", "name", "budget", "transfer_in", "transfer_out", "paid", "plan", "payments", "execution_rate")


def drilldown(
    session: Session,
    scope: Scope,
    *,
    year: int | None,
    region: str | None,
    own_level: bool,
    by: Dim,
    level: int | None,
    filters: dict[Dim, str],
    sort: str,
    cursor: str | None,
    limit: int,
) -> Drilldown:
    level_ = check_level(by, level)
    coarser = by in LEVELS and by in filters and len(filters[by]) < prefix_digits(by, level_)
    if by is not Dim.region and by in filters and not coarser:
        raise BadParameter(
            by.value, f"a breakdown by {by} filtered to one {by} has one row; drop one of them"
        )
    parsed = tuple(parse_filter(d, v) for d, v in filters.items())
    year = year or default_year(session)
    root, root_name = resolve_scope(session, scope, region)
    if own_level and root is None:
        raise BadParameter("own_level", "needs a region: the whole dataset has several top regions")
    q = Question(year=year, root=root, own_level=own_level, filters=parsed, by=by, level=level_)
    result = answer(session, scope, q)
    rows, next_cursor = _page_rows(session, result, q, sort, cursor, limit, scope.pii)
    return Drilldown(
        scope=ScopeInfo(
            year=year,
            region=root,
            region_name=root_name,
            own_level=own_level,
            filters={f.dim.value: _filter_text(f) for f in parsed},
            by=by.value,
            level=level_ if by in LEVELS else None,
        ),
        total=result.total.measures(),
        rows=rows,
        unattributed=result.unattributed.measures(),
        next_cursor=next_cursor,
    )


def _filter_text(f: Filter) -> str:
    return f"{f.region}:{f.value}" if f.region else f.value


def _sort_value(name: str | None, key: str, sums: Sums, field: str) -> Any:
    if field == "key":
        return key
    if field == "name":
        return name or ""
    if field == "execution_rate":
        r = rate(sums.paid, sums.budget)
        return r if r is not None else Decimal(-1)  # rows without a budget sort below every rate
    return getattr(sums, field)


def _page_rows(
    session: Session, result: Answer, q: Question, sort: str, cursor: str | None, limit: int, pii: bool
) -> tuple[list[DrillRow], str | None]:
    """Rows in the order ``sort`` asks for (ties by key), the page after ``cursor``, with their names."""
    descending = sort.startswith("-")
    field = sort.removeprefix("-")
    if field not in SORTS:
        raise BadParameter("sort", f"one of {', '.join(SORTS)}, optionally prefixed with '-'")
    assert q.by is not None
    labels = names(session, q.by, result.rows.keys(), q.year, pii) if field == "name" else {}
    keyed = sorted(
        ((_sort_value(labels.get(k), k, v, field), k, v) for k, v in result.rows.items()),
        key=lambda t: (t[0], t[1]),
        reverse=descending,
    )
    listing = f"drilldown:{sort}"
    after = decode_cursor(listing, cursor, 2)
    if after is not None:
        try:
            mark = (Decimal(after[0]) if field == "execution_rate" else after[0], after[1])
            if field == "execution_rate" and not mark[0].is_finite():
                raise InvalidOperation
        except (InvalidOperation, TypeError, ValueError):
            raise BadParameter("cursor", "not a cursor of this breakdown's order") from None
        try:
            keyed = [t for t in keyed if ((t[0], t[1]) < mark if descending else (t[0], t[1]) > mark)]
        except TypeError:
            raise BadParameter("cursor", "not a cursor of this breakdown's order") from None
    page, more = keyed[:limit], len(keyed) > limit
    if field != "name":
        labels = names(session, q.by, [k for _, k, _ in page], q.year, pii)
    rows = [
        DrillRow(
            key=k,
            name=labels.get(k),
            own_level=q.by is Dim.region and k == q.root,
            measures=v.measures(),
        )
        for _, k, v in page
    ]
    for row, (value, key, _) in zip(rows, page, strict=True):
        row.at(encode_cursor(listing, [str(value) if isinstance(value, Decimal) else value, key]))
    next_cursor = rows[-1].cursor if more and rows else None
    return rows, next_cursor
