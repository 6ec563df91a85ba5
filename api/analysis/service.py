"""``summary`` and ``drilldown``: the figures of one scope, and one breakdown of them, page by page."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.analysis.breakdown import Answer, Question, answer, answer_many, roots
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
    row_count: int = Field(description="rows of the whole breakdown, over all pages")
    unattributed: Measures = Field(description="records the dimension does not attribute to any row")
    next_cursor: str | None


class DrillExportRow(DrillRow):
    """A row of a breakdown's export, where what no row holds is a row too (so the rows sum to the total)."""

    unattributed: bool = Field(False, description="the records the dimension attributes to no row")


def export_rows(answer: Drilldown) -> list[DrillExportRow]:
    """Every row of a whole breakdown (asked with no limit) and, unless it is zero, ``unattributed`` as a
    last row with an empty key: their money columns then add up to ``total``, to the fen."""
    rows = [DrillExportRow(**r.model_dump()) for r in answer.rows]
    rest = answer.unattributed
    amounts = (rest.budget, rest.transfer_in, rest.transfer_out, rest.paid, rest.plan)
    if rest.payments or any(a != "0.00" for a in amounts):
        rows.append(DrillExportRow(key="", name=None, own_level=False, measures=rest, unattributed=True))
    return rows


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
    limit: int | None,
) -> Drilldown:
    """One page of a breakdown; every row with ``limit`` None (an export)."""
    year = year or default_year(session)
    root, root_name = resolve_scope(session, scope, region)
    ask = Drill(year, root, own_level, by, level, tuple(filters.items()), sort, cursor, limit)
    return drilldowns(session, scope, [ask], {root: root_name} if root else {})[0]


@dataclass(frozen=True, slots=True)
class Drill:
    """One drill-down page asked for, its region already resolved to one the caller may see."""

    year: int
    root: str | None
    own_level: bool
    by: Dim
    level: int | None
    filters: tuple[tuple[Dim, str], ...]
    sort: str = "key"
    cursor: str | None = None
    limit: int | None = 50  # None: every row


def drilldowns(
    session: Session, scope: Scope, asks: Sequence[Drill], root_names: dict[str, str | None]
) -> list[Drilldown]:
    """Several drill-down pages: their questions go to the database together (:func:`answer_many`) and
    their rows are named together, so a GraphQL page of parents costs a fixed number of queries."""
    questions = [_question(ask) for ask in asks]
    results = answer_many(session, scope, questions)
    by_name = [
        (q, list(r.rows))
        for ask, q, r in zip(asks, questions, results, strict=True)
        if _field(ask.sort) == "name"
    ]
    labels = _names_of(session, scope, by_name)
    ordered = [
        _order_rows(result, q, ask.sort, ask.cursor, labels.get((ask.by, q.year), {}))
        for ask, q, result in zip(asks, questions, results, strict=True)
    ]
    pages = [
        (q, [k for _, k, _ in keyed[: ask.limit]])
        for ask, q, keyed in zip(asks, questions, ordered, strict=True)
        if _field(ask.sort) != "name"
    ]
    for key, named in _names_of(session, scope, pages).items():
        labels.setdefault(key, {}).update(named)
    out = []
    for ask, q, result, keyed in zip(asks, questions, results, ordered, strict=True):
        assert q.by is not None
        rows, next_cursor = _page_rows(keyed, q, ask.sort, ask.limit, labels.get((q.by, q.year), {}))
        out.append(
            Drilldown(
                scope=ScopeInfo(
                    year=q.year,
                    region=q.root,
                    region_name=root_names.get(q.root) if q.root else None,
                    own_level=q.own_level,
                    filters={f.dim.value: _filter_text(f) for f in q.filters},
                    by=q.by.value,
                    level=q.level if q.by in LEVELS else None,
                ),
                total=result.total.measures(),
                rows=rows,
                row_count=len(result.rows),
                unattributed=result.unattributed.measures(),
                next_cursor=next_cursor,
            )
        )
    return out


def _question(ask: Drill) -> Question:
    filters = dict(ask.filters)
    level = check_level(ask.by, ask.level)
    coarser = ask.by in LEVELS and ask.by in filters and len(filters[ask.by]) < prefix_digits(ask.by, level)
    if ask.by is not Dim.region and ask.by in filters and not coarser:
        raise BadParameter(
            ask.by.value, f"a breakdown by {ask.by} filtered to one {ask.by} has one row; drop one of them"
        )
    if ask.own_level and ask.root is None:
        raise BadParameter("own_level", "needs a region: the whole dataset has several top regions")
    parsed = tuple(parse_filter(d, v) for d, v in ask.filters)
    return Question(
        year=ask.year, root=ask.root, own_level=ask.own_level, filters=parsed, by=ask.by, level=level
    )


def _field(sort: str) -> str:
    field = sort.removeprefix("-")
    if field not in SORTS:
        raise BadParameter("sort", f"one of {', '.join(SORTS)}, optionally prefixed with '-'")
    return field


def _names_of(
    session: Session, scope: Scope, wanted: Sequence[tuple[Question, Sequence[str]]]
) -> dict[tuple[Dim, int], dict[str, str | None]]:
    """Names of the keys of several breakdowns: one lookup per dimension and year."""
    keys: dict[tuple[Dim, int], set[str]] = {}
    for q, ks in wanted:
        assert q.by is not None
        keys.setdefault((q.by, q.year), set()).update(ks)
    return {(dim, year): names(session, dim, sorted(ks), year, scope.pii) for (dim, year), ks in keys.items()}


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


def _order_rows(
    result: Answer, q: Question, sort: str, cursor: str | None, labels: dict[str, str | None]
) -> list[tuple[Any, str, Sums]]:
    """Rows in the order ``sort`` asks for (ties by key), from the row after ``cursor`` on; ``labels``
    holds every row's name when the order is by name."""
    descending = sort.startswith("-")
    field = _field(sort)
    keyed = sorted(
        ((_sort_value(labels.get(k), k, v, field), k, v) for k, v in result.rows.items()),
        key=lambda t: (t[0], t[1]),
        reverse=descending,
    )
    after = decode_cursor(f"drilldown:{sort}", cursor, 2)
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
    return keyed


def _page_rows(
    keyed: list[tuple[Any, str, Sums]],
    q: Question,
    sort: str,
    limit: int | None,
    labels: dict[str, str | None],
) -> tuple[list[DrillRow], str | None]:
    """The first ``limit`` of the ordered rows, named, each with its cursor."""
    page, more = keyed[:limit], limit is not None and len(keyed) > limit
    rows = []
    for value, key, sums in page:
        row = DrillRow(
            key=key,
            name=labels.get(key),
            own_level=q.by is Dim.region and key == q.root,
            measures=sums.measures(),
        )
        row.at(encode_cursor(f"drilldown:{sort}", [str(value) if isinstance(value, Decimal) else value, key]))
        rows.append(row)
    return rows, rows[-1].cursor if more and rows else None
