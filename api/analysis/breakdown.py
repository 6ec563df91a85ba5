"""Totals and breakdowns (drill-down) of one scope, answered from the smallest table that can answer them.

The records in a query are fixed by the scope (year, region subtree, optionally the region's own level)
and the filters; a breakdown only groups them. Each measure picks its records as semantics.md says:
budget, paid and plan by the issuing / paying region, ``transfer_in`` by the receiving region of a
transfer issued outside, ``transfer_out`` by the issuing region of a transfer leaving. Where the grouping
cannot attribute a record, it lands in ``unattributed``, so rows plus unattributed equal the total.

Sources, from smallest to largest:
- ``scope_rollup``: a scope's figures by dimensions shared across regions, when there is no filter but the
  fund type;
- ``rollup``: per region, for region, unit, department, project and division breakdowns and the region's
  own level;
- ``fact_cell``: any filter and the indicator breakdown;
- the payments themselves for the payee.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from api.analysis.dimensions import LEVELS, LOCAL, Dim, Filter, prefix_digits, rollup_dim
from api.analysis.measures import Sums
from schema.derived import FactCell, Rollup, ScopeRollup
from schema.models import Agency, BgtInfo, MofDiv, PayVoucher, RegionClosure
from schema.relations import unit_of
from security.scope import Scope

SCOPE_DIMS = frozenset(
    {Dim.fund_type, Dim.spe_fund, Dim.exp_func, Dim.gov_eco, Dim.dep_eco, Dim.month}
)  # answered per scope by scope_rollup
ROLLUP_DIMS = SCOPE_DIMS | LOCAL | {Dim.region}  # answered per region by rollup


@dataclass(frozen=True, slots=True)
class Question:
    year: int
    root: str | None  # the scope's region; None: the whole dataset
    own_level: bool = False  # only the root region's own level (本级)
    filters: tuple[Filter, ...] = ()
    by: Dim | None = None
    level: int = 1


@dataclass(slots=True)
class Answer:
    total: Sums
    rows: dict[str, Sums] = field(default_factory=dict)
    unattributed: Sums = field(default_factory=Sums)


def answer(session: Session, scope: Scope, q: Question) -> Answer:
    """The total of the question's records and, with ``by``, their partition."""
    return answer_many(session, scope, [q])[0]


@dataclass(frozen=True, slots=True)
class _Plan:
    """A question as one grouped query over a table, and how its rows become the answer."""

    query: Select[Any]
    grouped: bool
    month: bool = False

    def finish(self, rows: Sequence[Any]) -> Answer:
        result = _collect(rows, self.grouped)
        if self.month:
            result.rows = {f"{int(k):02d}": v for k, v in result.rows.items()}
        return result


UNION_TERMS = 400  # SQLite allows 500 terms in one compound SELECT
# One instance of each type for every CAST and literal: SQLAlchemy memoizes a type's cache key per instance,
# and a new instance in every term of a wide UNION made the cache key cost more than the query.
FEN, TEXT, TERM = BigInteger(), String(), Integer()


def run_together(session: Session, queries: Sequence[Select[Any]]) -> list[list[tuple[Any, ...]]]:
    """The rows of each query, sent as one ``UNION ALL`` (per ``UNION_TERMS``), each term tagged with its
    position: one round trip for a page of GraphQL parents. A UNION keeps no order of its own: a query
    whose rows must come in order is sorted by its caller."""
    out: list[list[tuple[Any, ...]]] = [[] for _ in queries]
    for start in range(0, len(queries), UNION_TERMS):
        chunk = queries[start : start + UNION_TERMS]
        terms = [
            q.add_columns(literal(n, TERM).label("term")).subquery().select() for n, q in enumerate(chunk)
        ]
        for row in session.execute(union_all(*terms) if len(terms) > 1 else terms[0]):
            out[start + row[-1]].append(tuple(row[:-1]))
    return out


def answer_many(session: Session, scope: Scope, questions: Sequence[Question]) -> list[Answer]:
    """The answers of several questions, in their order. Questions a single grouped query answers (the
    rollups and fact cells, every breakdown but by region and by payee) go to the database together, as
    one ``UNION ALL`` of their queries, so a page of GraphQL parents costs one round trip, whatever its
    breadth; the rest are answered one by one."""
    answers: list[Answer | None] = [None] * len(questions)
    plans: list[tuple[int, _Plan]] = []
    siblings: dict[tuple[Any, ...], list[int]] = {}
    for i, q in enumerate(questions):
        kin = _kin(q)
        if kin is not None:
            siblings.setdefault(kin, []).append(i)
    alone = set(range(len(questions)))
    for members in siblings.values():
        if len(members) > 1:
            for i, answer_ in zip(
                members, _answer_siblings(session, [questions[i] for i in members]), strict=True
            ):
                answers[i] = answer_
            alone -= set(members)
    for i, q in enumerate(questions):
        if i not in alone:
            continue
        plan = _plan(session, scope, q)
        if plan is None:
            answers[i] = _answer_alone(session, scope, q)
        else:
            plans.append((i, plan))
    for (i, plan), rows in zip(plans, run_together(session, [plan.query for _, plan in plans]), strict=True):
        answers[i] = plan.finish(rows)
    return [a for a in answers if a is not None]


SIBLING_DIMS = LOCAL | {Dim.spe_fund, Dim.indicator}


def _kin(q: Question) -> tuple[Any, ...] | None:
    """What makes questions siblings: the same breakdown of the same scope, filtered each to another value
    of one dimension (a page of GraphQL parents: each department's units). Siblings are answered by one
    query grouped by that dimension as well, which partitions the records exactly as the separate
    questions would (a record has one value of the dimension)."""
    if len(q.filters) != 1 or q.by is None or q.by in (Dim.region, Dim.payee):
        return None
    f = q.filters[0]
    if f.dim not in SIBLING_DIMS:
        return None
    return (q.year, q.root, q.own_level, q.by, q.level, f.dim, f.region is None)


def _answer_siblings(session: Session, questions: Sequence[Question]) -> list[Answer]:
    first = questions[0]
    dim = first.filters[0].dim
    qualified = first.filters[0].region is not None
    column = _cell_columns(FactCell)[dim]
    parent = _dim_key(dim, 1, column, FactCell.mof_div_code) if qualified else column
    shared = Question(first.year, first.root, first.own_level, (), first.by, first.level)
    filters = [q.filters[0] for q in questions]
    query = _region_grain_query(shared, FactCell, parent=parent, only=filters)
    by_parent: dict[str, list[Any]] = {}
    for row in session.execute(query):
        by_parent.setdefault(row[0], []).append(row[1:])
    plan = _Plan(query, True, month=first.by is Dim.month)
    return [
        plan.finish(by_parent.get(f"{f.region}:{f.value}" if qualified else f.value, [])) for f in filters
    ]


def _plan(session: Session, scope: Scope, q: Question) -> _Plan | None:
    fdims = {f.dim for f in q.filters}
    if Dim.payee in fdims or q.by in (Dim.payee, Dim.region):
        return None
    if fdims <= {Dim.fund_type} and not q.own_level and (q.by is None or q.by in SCOPE_DIMS):
        return _from_scope_rollup(session, scope, q)
    if fdims <= {Dim.fund_type} and (q.by is None or q.by in ROLLUP_DIMS):
        return _from_region_grain(q, Rollup)
    return _from_region_grain(q, FactCell)


def _answer_alone(session: Session, scope: Scope, q: Question) -> Answer:
    if Dim.payee in {f.dim for f in q.filters} or q.by is Dim.payee:
        return _from_payments(session, scope, q)
    model = FactCell if {f.dim for f in q.filters} - {Dim.fund_type} else Rollup
    query = _region_grain_query(q, model)
    return _fold_regions(session, scope, q, query.group_by(model.mof_div_code, model.rec_div_code))


# --- the scope, in SQL ----------------------------------------------------------------------------------


def subtree(root: str) -> Select[Any]:
    return select(RegionClosure.descendant).where(RegionClosure.ancestor == root)


def subtree_codes(session: Session, root: str) -> list[str]:
    return list(session.execute(subtree(root)).scalars())


def roots(session: Session, scope: Scope) -> list[str]:
    """The regions at the top of what the caller sees that hold any data (the reference data has every
    province of China; a warehouse usually holds one)."""
    if scope.region is not None:
        return [scope.region]
    with_data = select(ScopeRollup.scope_code).where(ScopeRollup.dim == "total")
    rows = session.execute(
        select(MofDiv.mof_div_code).where(MofDiv.parent_code.is_(None), MofDiv.mof_div_code.in_(with_data))
    )
    return [r[0] for r in rows]


# --- scope rollup -------------------------------------------------------------------------------------


def _from_scope_rollup(session: Session, scope: Scope, q: Question) -> _Plan:
    s = ScopeRollup
    whole = q.root is None
    scopes = roots(session, scope) if whole else [q.root]
    dim = rollup_dim(q.by, q.level) if q.by else "total"
    key: Any = s.fund_type_code if q.by is Dim.fund_type else s.dim_key
    # The whole dataset has no outside: transfers between top regions would be internal to it.
    tin = literal(0) if whole else func.sum(s.transfer_in_fen)
    tout = literal(0) if whole else func.sum(s.transfer_out_fen)
    query = select(
        cast(key, TEXT) if q.by is not None else cast(null(), TEXT),
        *_as_fen(
            func.sum(s.budget_fen),
            tin,
            tout,
            func.sum(s.paid_fen),
            func.sum(s.plan_fen),
            func.sum(s.payments),
        ),
    ).where(s.fiscal_year == q.year, s.scope_code.in_(scopes), s.dim == dim)
    if q.by is not None:  # PostgreSQL refuses GROUP BY NULL
        query = query.group_by(key)
    for f in q.filters:
        query = query.where(s.fund_type_code == f.value)
    return _Plan(query, q.by is not None)


def _as_fen(*measures: Any) -> list[Any]:
    """Sums as whole numbers of one type, so that the terms of a UNION agree on PostgreSQL."""
    return [cast(m, FEN) for m in measures]


def _collect(rows: Sequence[Any], grouped: bool) -> Answer:
    result = Answer(total=Sums())
    for key, *values in rows:
        sums = Sums(*(int(v or 0) for v in values))
        result.total.add(sums)
        if not grouped:
            continue
        if key is None:
            result.unattributed.add(sums)
        else:
            result.rows.setdefault(str(key), Sums()).add(sums)
    return result


# --- per-region grain: rollup or fact cells -----------------------------------------------------------


def _cell_columns(model: Any) -> dict[Dim, Any]:
    if model is Rollup:
        return {Dim.fund_type: Rollup.fund_type_code}
    c = FactCell
    return {
        Dim.fund_type: c.fund_type_code,
        Dim.department: c.dept_code,
        Dim.agency: c.agency_code,
        Dim.project: c.pro_code,
        Dim.spe_fund: c.spe_fund_code,
        Dim.mof_dep: c.mof_dep_code,
        Dim.exp_func: c.exp_func_code,
        Dim.gov_eco: c.gov_eco_code,
        Dim.dep_eco: c.dep_eco_code,
        Dim.month: c.month,
        Dim.indicator: c.bgt_id,
    }


def _cell_key(dim: Dim, level: int, model: Any) -> Any:
    """The grouping key of a breakdown over fact cells (rollups carry it ready in ``dim_key``)."""
    if model is Rollup:
        return Rollup.fund_type_code if dim is Dim.fund_type else Rollup.dim_key
    return _dim_key(dim, level, _cell_columns(FactCell)[dim], FactCell.mof_div_code)


def _dim_key(dim: Dim, level: int, column: Any, region: Any) -> Any:
    """A row key from a dimension's column: region-qualified for local codes, a prefix for a level."""
    if dim in LOCAL:
        return case((column.is_(None), null()), else_=region + literal(":") + column)
    if dim in LEVELS:
        digits = prefix_digits(dim, level)
        return case((func.length(column) >= digits, func.substr(column, 1, digits)), else_=null())
    return column


def _region_grain_query(
    q: Question, model: Any, parent: Any = None, only: Sequence[Filter] = ()
) -> Select[Any]:
    """The question's measures grouped by its breakdown; by region, per (issuing, receiving) region
    pair, ungrouped: the caller groups them."""
    region, rec_div = model.mof_div_code, model.rec_div_code
    transfer = model.transfer_fen
    joins: list[tuple[Any, ColumnElement[bool]]] = []
    if q.root is None:
        inside = region.is_not(None)
        tin_cond: ColumnElement[bool] = literal(False)
        tout_cond: ColumnElement[bool] = literal(False)
        where_scope: ColumnElement[bool] = literal(True)
    else:
        # The scope picks rows through the indexes (IN the subtree); each measure then asks whether its
        # row's regions are inside by one closure row joined per region, not by a subquery per measure.
        sub = subtree(q.root)
        issuer, receiver = aliased(RegionClosure), aliased(RegionClosure)
        joins = [
            (issuer, and_(issuer.ancestor == q.root, issuer.descendant == region)),
            (receiver, and_(receiver.ancestor == q.root, receiver.descendant == rec_div)),
        ]
        inside = issuer.descendant.is_not(None)
        rec_inside = receiver.descendant.is_not(None)
        tin_cond = and_(rec_div.is_not(None), rec_inside, ~inside)
        tout_cond = and_(rec_div.is_not(None), inside, ~rec_inside)
        where_scope = or_(region.in_(sub), rec_div.in_(sub))
        if q.own_level:
            inside = region == q.root
            tin_cond = and_(tin_cond, rec_div == q.root)
            tout_cond = and_(tout_cond, region == q.root)
            where_scope = or_(region == q.root, rec_div == q.root)
    payments = model.payments if model is Rollup else case((model.record_kind == "P", model.records), else_=0)
    measures = _as_fen(
        func.sum(case((inside, model.budget_fen), else_=0)),
        func.sum(case((tin_cond, transfer), else_=0)),
        func.sum(case((tout_cond, transfer), else_=0)),
        func.sum(case((inside, model.paid_fen), else_=0)),
        func.sum(case((inside, model.plan_fen), else_=0)),
        func.sum(case((inside, payments), else_=0)),
    )
    conditions = [model.fiscal_year == q.year, where_scope]
    if model is Rollup:
        conditions.append(model.dim == (rollup_dim(q.by, q.level) if q.by else "total"))
    columns = _cell_columns(model)
    conditions += [f.condition(columns, region) for f in q.filters]
    if only:  # siblings (see _kin): any of their filters, grouped by the filtered dimension's key too
        conditions.append(or_(*(f.condition(columns, region) for f in only)))
    if q.by is Dim.region:
        query = select(region, rec_div, *measures)
    elif q.by is None:
        query = select(cast(null(), TEXT), *measures)
    else:
        key = _cell_key(q.by, q.level, model)  # one expression in both clauses, or PostgreSQL refuses it
        query = select(cast(key, TEXT), *measures).group_by(key)
    if parent is not None:
        query = query.add_columns(cast(parent, TEXT)).group_by(parent)
        query = query.with_only_columns(
            *(list(query.selected_columns)[-1:] + list(query.selected_columns)[:-1])
        )
    query = query.select_from(model)
    for closure, on in joins:
        query = query.outerjoin(closure, on)
    return query.where(*conditions)


def _from_region_grain(q: Question, model: Any) -> _Plan:
    return _Plan(_region_grain_query(q, model), q.by is not None, month=q.by is Dim.month)


def _fold_regions(session: Session, scope: Scope, q: Question, query: Any) -> Answer:
    """Group (issuing, receiving) region pairs into the root's own level and its children's subtrees.
    A transfer counted inward belongs to its receiver's branch, every other figure to its issuer's."""
    branch = _branches(session, scope, q.root)
    result = Answer(total=Sums())
    for region, rec_div, budget, tin, tout, paid, plan, payments in session.execute(query).all():
        own = Sums(budget=int(budget or 0), transfer_out=int(tout or 0), paid=int(paid or 0))
        own.plan, own.payments = int(plan or 0), int(payments or 0)
        inward = Sums(transfer_in=int(tin or 0))
        for code, sums in ((region, own), (rec_div, inward)):
            if sums.is_zero():
                continue
            result.total.add(sums)
            key = branch.get(code) if code is not None else None
            if key is None:
                result.unattributed.add(sums)
            else:
                result.rows.setdefault(key, Sums()).add(sums)
    return result


def _branches(session: Session, scope: Scope, root: str | None) -> dict[str, str]:
    """Region → the row it falls in: the root itself (its own level) or the child whose subtree holds it.
    For the whole dataset, the rows are the top regions."""
    if root is None:
        tops = roots(session, scope)
        rows = session.execute(
            select(RegionClosure.descendant, RegionClosure.ancestor).where(RegionClosure.ancestor.in_(tops))
        )
        return dict(rows.all())  # type: ignore[arg-type]
    child = aliased(MofDiv)
    rows = session.execute(
        select(RegionClosure.descendant, RegionClosure.ancestor)
        .join(child, child.mof_div_code == RegionClosure.ancestor)
        .where(child.parent_code == root)
    )
    branch: dict[str, str] = dict(rows.all())  # type: ignore[arg-type]
    branch[root] = root
    return branch


# --- payments (the payee) -----------------------------------------------------------------------------


def payment_columns() -> tuple[dict[Dim, Any], Any, Any]:
    """Dimension columns of a payment (its special fund and division are its indicator's, its department
    its unit's), with the two joins they need."""
    unit = aliased(Agency)
    indicator = aliased(BgtInfo)
    p = PayVoucher
    columns = {
        Dim.fund_type: p.fund_type_code,
        Dim.department: unit.dept_code,
        Dim.agency: p.agency_code,
        Dim.project: p.pro_code,
        Dim.spe_fund: indicator.spe_fund_code,
        Dim.mof_dep: indicator.manage_mof_dep_code,
        Dim.exp_func: p.exp_func_code,
        Dim.gov_eco: p.gov_bgt_eco_code,
        Dim.dep_eco: p.dep_bgt_eco_code,
        Dim.month: func.extract("month", p.vou_date),
        Dim.indicator: p.bgt_id,
        Dim.payee: p.payee_key,
    }
    return columns, unit, indicator


def payments_query(
    scope: Scope,
    year: int | None,
    root: str | None,
    own_level: bool,
    filters: Sequence[Filter],
    by: Dim | None = None,
    regions: Sequence[str] | None = None,
) -> tuple[Select[Any], dict[Dim, Any]]:
    """Live payments in the scope passing the filters, joined to what the filters and ``by`` need.

    ``regions``, the root's subtree already read (:func:`subtree_codes`), replaces the subquery over the
    region closure: PostgreSQL estimates a literal list from its statistics of each region, but guesses
    at the subquery, and then scans every payment of the province for one county."""
    p = PayVoucher
    columns, unit, indicator = payment_columns()
    dims = {f.dim for f in filters} | ({by} if by else set())
    query: Select[Any] = select(p).where(p.is_deleted.is_(False), scope.regions(p.mof_div_code))
    if year is not None:
        query = query.where(p.fiscal_year == year)
    if root is not None:
        within = subtree(root) if regions is None else list(regions)
        query = query.where(p.mof_div_code == root if own_level else p.mof_div_code.in_(within))
    if Dim.department in dims:
        query = query.outerjoin(unit, unit_of(p, unit))
    if dims & {Dim.spe_fund, Dim.mof_dep}:
        query = query.outerjoin(
            indicator, and_(indicator.bgt_id == p.bgt_id, indicator.is_deleted.is_(False))
        )
    for f in filters:
        query = query.where(f.condition(columns, p.mof_div_code))
    return query, columns


def _from_payments(session: Session, scope: Scope, q: Question) -> Answer:
    """Breakdowns by payee, and anything filtered by payee: only payments carry a payee, so under a payee
    filter the indicator measures are 0, and under a payee breakdown they are unattributed."""
    filtered = any(f.dim is Dim.payee for f in q.filters)
    regions = subtree_codes(session, q.root) if q.root and not q.own_level else None
    base, columns = payments_query(scope, q.year, q.root, q.own_level, q.filters, q.by, regions)
    paid, count = func.sum(PayVoucher.pay_amt_fen), func.count()
    if q.by is Dim.region:
        query = base.with_only_columns(
            PayVoucher.mof_div_code, null(), null(), null(), null(), paid, null(), count
        )
        return _fold_regions(session, scope, q, query.group_by(PayVoucher.mof_div_code))
    key = _dim_key(q.by, q.level, columns[q.by], PayVoucher.mof_div_code) if q.by else null()
    grouped = base.with_only_columns(key, paid, count)
    rows = session.execute(grouped.group_by(key) if q.by else grouped).all()
    result = Answer(total=Sums())
    for k, fen, n in rows:
        sums = Sums(paid=int(fen or 0), payments=int(n))
        result.total.add(sums)
        if q.by is None:
            continue
        if k is None:
            result.unattributed.add(sums)
        else:
            result.rows[f"{int(k):02d}" if q.by is Dim.month else str(k)] = sums
    if filtered:
        return result
    # A payee breakdown: the total counts every record of the scope; indicators fall into no row.
    whole = answer(session, scope, Question(q.year, q.root, q.own_level, q.filters, None))
    result.total = whole.total
    result.unattributed.add(
        Sums(
            budget=whole.total.budget,
            transfer_in=whole.total.transfer_in,
            transfer_out=whole.total.transfer_out,
            plan=whole.total.plan,
        )
    )
    return result
