"""One indicator (预算指标) and its trace: 何时拨、拨给谁、怎么用.

Lineage (feeds.md): an indicator of region X continues ``ori_bgt_id`` (the indicator of X it was split
from) if it names one, else ``sup_bgt_id`` (the upper transfer indicator), else the transfer indicator of
one of X's ancestors whose own document number is X's ``sup_bgt_doc_no`` and whose receiving region is X.
When that document matches several upper indicators, the one of the same special fund, then of the same
function class, then the first by id is taken, so that every indicator has at most one parent and the
tree never counts money twice.

Per node: ``amount`` is the current amount (amount plus adjustments), ``paid`` the payments against the
node itself, ``lag_days`` its document date minus its parent's, and ``undistributed`` (待分配/滞留) what it
has not passed on or assigned: its amount minus its children's for a node with children or a transfer,
its whole amount for a transfer no lower region has registered, 0 for an indicator assigned to a unit.
So the amounts of the leaves assigned to units plus every node's undistributed equal the root's amount.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from api.errors import NotFound
from api.pagination import decode_cursor, encode_cursor
from api.payments.service import PaymentPage, payment_rows
from connectors.ingest.convert import format_amount
from schema.derived import PAYMENT, FactCell
from schema.models import Agency, BgtAdj, BgtInfo, MofDiv, PayPlan, PayVoucher, RegionClosure
from security.scope import Scope, whole_dataset

MAX_NODES = 20_000  # a trace larger than this is cut (and says so): no fund has that many steps


@dataclass(slots=True)
class Node:
    row: BgtInfo
    amount: int = 0
    paid: int = 0
    payments: int = 0
    parent: str | None = None
    children: list[str] | None = None

    @property
    def kind(self) -> str:
        if self.row.agency_code:
            return "assigned"
        return "transfer" if self.row.rec_div_code else "other"


class IndicatorNode(BaseModel):
    bgt_id: str
    fiscal_year: int
    region: str
    region_name: str | None
    region_level: int | None
    kind: str = Field(description="assigned (to a budget unit), transfer (to a lower region) or other")
    doc_no: str = Field(description="本级文号")
    doc_title: str | None
    doc_date: date
    sup_doc_no: str | None = Field(description="上级文号")
    rec_date: date | None = Field(description="date this region registered the funds from above")
    source_type: str | None
    agency_code: str | None
    agency_name: str | None
    rec_div_code: str | None
    rec_div_name: str | None
    pro_code: str | None
    spe_fund_code: str | None
    fund_type: str
    exp_func_code: str
    amount: str = Field(description="current amount: amount plus adjustments")
    paid: str = Field(description="payments against this indicator itself")
    payments: int
    undistributed: str = Field(description="待分配/滞留: not passed on or assigned")
    lag_days: int | None = Field(description="document date minus the parent's document date")
    receipt_lag_days: int | None = Field(description="rec_date minus the parent's document date")
    children: list[IndicatorNode] = []


class UpstreamStep(BaseModel):
    bgt_id: str | None = Field(description="null for an upper document outside the warehouse")
    region: str | None
    region_name: str | None
    region_level: int | None
    doc_no: str
    doc_date: date | None
    rec_date: date | None = Field(description="date the next region down registered these funds")
    amount: str | None


class Adjustment(BaseModel):
    adj_id: str
    adj_date: date
    amount: str
    doc_no: str | None
    reason: str | None


class PlanMonth(BaseModel):
    month: int
    amount: str


class Indicator(IndicatorNode):
    original_amount: str
    adjustments: list[Adjustment]
    plan: list[PlanMonth] = Field(description="用款计划 by month")
    parent_bgt_id: str | None
    children_count: int


class TraceTotals(BaseModel):
    root_amount: str
    assigned_leaves: str = Field(description="amount that reached budget units at the tree's ends")
    undistributed: str = Field(description="sum of every node's undistributed")
    paid: str = Field(description="payments against every node of the tree")
    nodes: int
    truncated: bool


class Trace(BaseModel):
    indicator: IndicatorNode
    upstream: list[UpstreamStep] = Field(description="from the origin down to the indicator's parent")
    downstream: IndicatorNode = Field(description="the indicator and every indicator continuing it")
    totals: TraceTotals
    payments: PaymentPage = Field(description="怎么用: payments from the tree, first page (cursor to go on)")


class TraceRow(BaseModel):
    """A node of a trace's downstream tree as a row of its export (the tree read depth first)."""

    depth: int = Field(description="0: the indicator traced; 1: what continues it directly; …")
    parent_bgt_id: str | None = Field(description="the node this one continues (null for the first row)")
    node: IndicatorNode


def trace_rows(tree: IndicatorNode) -> list[TraceRow]:
    """The nodes of a downstream tree, each before its children (the JSON's order), with depth and parent."""
    out: list[TraceRow] = []
    stack: list[tuple[IndicatorNode, int, str | None]] = [(tree, 0, None)]
    while stack:
        node, depth, parent = stack.pop()
        out.append(TraceRow(depth=depth, parent_bgt_id=parent, node=node))
        stack.extend((child, depth + 1, node.bgt_id) for child in reversed(node.children))
    return out


# --- lineage ------------------------------------------------------------------------------------------


def _live_indicators(ids: Iterable[str]) -> Any:
    return select(BgtInfo).where(BgtInfo.bgt_id.in_(list(ids)), BgtInfo.is_deleted.is_(False))


def _choose(child: BgtInfo, candidates: Sequence[BgtInfo]) -> BgtInfo | None:
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda c: (
            c.spe_fund_code != child.spe_fund_code,
            (c.exp_func_code or "")[:3] != (child.exp_func_code or "")[:3],
            c.bgt_id,
        ),
    )


def _doc_parents(session: Session, children: Sequence[BgtInfo]) -> dict[str, BgtInfo]:
    """Parents of indicators linked by document number only: one query for all of them."""
    linked = [c for c in children if not c.ori_bgt_id and not c.sup_bgt_id and c.sup_bgt_doc_no]
    if not linked:
        return {}
    pairs = {(c.sup_bgt_doc_no, c.mof_div_code) for c in linked}
    ancestors = select(RegionClosure.ancestor).where(
        RegionClosure.descendant == BgtInfo.rec_div_code, RegionClosure.depth > 0
    )
    found = session.execute(
        select(BgtInfo).where(
            tuple_(BgtInfo.cor_bgt_doc_no, BgtInfo.rec_div_code).in_(list(pairs)),
            BgtInfo.is_deleted.is_(False),
            BgtInfo.mof_div_code.in_(ancestors),
        )
    ).scalars()
    by_pair: dict[tuple[str, str], list[BgtInfo]] = defaultdict(list)
    for p in found:
        by_pair[(p.cor_bgt_doc_no, p.rec_div_code or "")].append(p)
    out = {}
    for c in linked:
        parent = _choose(c, by_pair.get((c.sup_bgt_doc_no or "", c.mof_div_code), []))
        if parent is not None:
            out[c.bgt_id] = parent
    return out


def parent_of(session: Session, row: BgtInfo) -> BgtInfo | None:
    named = row.ori_bgt_id or row.sup_bgt_id
    if named:
        return session.execute(_live_indicators([named])).scalar()
    return _doc_parents(session, [row]).get(row.bgt_id)


def _children(session: Session, nodes: Sequence[BgtInfo]) -> dict[str, list[BgtInfo]]:
    """The indicators continuing any of ``nodes``: one round of queries per tree level."""
    ids = [n.bgt_id for n in nodes]
    transfers = [(n.cor_bgt_doc_no, n.rec_div_code) for n in nodes if n.rec_div_code and not n.agency_code]
    b = BgtInfo
    live = b.is_deleted.is_(False)
    # one SELECT per way of naming a parent, each on its own index (an OR would scan the table); which
    # way applies to a row (ori before sup before the document) is decided below, not in SQL, where
    # "IS NULL" on a mostly-null indexed column misleads the planner
    queries = [select(b).where(live, b.ori_bgt_id.in_(ids)), select(b).where(live, b.sup_bgt_id.in_(ids))]
    if transfers:
        queries.append(select(b).where(live, b.sup_bgt_doc_no.in_({doc for doc, _ in transfers})))
    wanted_docs = set(transfers)
    candidates = {row.bgt_id: row for q in queries for row in session.execute(q).scalars()}
    found = sorted(
        (
            r
            for r in candidates.values()
            if r.ori_bgt_id or r.sup_bgt_id or (r.sup_bgt_doc_no, r.mof_div_code) in wanted_docs
        ),
        key=lambda r: r.bgt_id,
    )
    doc_parent = _doc_parents(session, found)
    out: dict[str, list[BgtInfo]] = defaultdict(list)
    wanted = set(ids)
    for c in found:
        parent = (
            c.ori_bgt_id or c.sup_bgt_id or (doc_parent[c.bgt_id].bgt_id if c.bgt_id in doc_parent else None)
        )
        if parent in wanted:
            out[parent].append(c)
    return out


def _amounts(
    session: Session, ids: list[str], scope: Scope | None = None
) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """Adjustment sums and (paid, count) per indicator (from the fact cells, counting only payments made
    inside ``scope``), in chunks the engines accept."""
    adj: dict[str, int] = {}
    paid: dict[str, tuple[int, int]] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        adj.update(
            session.execute(
                select(BgtAdj.bgt_id, func.sum(BgtAdj.add_amount_fen))
                .where(BgtAdj.bgt_id.in_(chunk), BgtAdj.is_deleted.is_(False))
                .group_by(BgtAdj.bgt_id)
            ).all()  # type: ignore[arg-type]
        )
        cells = FactCell
        for bgt_id, fen, n in session.execute(
            select(cells.bgt_id, func.sum(cells.paid_fen), func.sum(cells.records))
            .where(
                cells.bgt_id.in_(chunk),
                cells.record_kind == PAYMENT,
                (scope or whole_dataset()).regions(cells.mof_div_code),
            )
            .group_by(cells.bgt_id)
        ):
            if bgt_id is not None:
                paid[bgt_id] = (int(fen), int(n))
    return adj, paid


# --- scope --------------------------------------------------------------------------------------------


def _visible(scope: Scope, session: Session, rows: Sequence[BgtInfo]) -> set[str]:
    """Indicators the caller may see: issued inside its jurisdiction, or passed down into it."""
    if scope.region is None:
        return {r.bgt_id for r in rows}
    regions = {r.mof_div_code for r in rows} | {r.rec_div_code for r in rows if r.rec_div_code}
    inside = set(
        session.execute(
            select(RegionClosure.descendant).where(
                RegionClosure.ancestor == scope.region, RegionClosure.descendant.in_(regions)
            )
        ).scalars()
    )
    return {r.bgt_id for r in rows if r.mof_div_code in inside or r.rec_div_code in inside}


def _get(session: Session, scope: Scope, bgt_id: str) -> BgtInfo:
    row = session.execute(_live_indicators([bgt_id])).scalar()
    if row is None or not _visible(scope, session, [row]):
        raise NotFound(f"no indicator {bgt_id!r}")
    return row


# --- building the answer ------------------------------------------------------------------------------


class _Names:
    """Region and unit names for a set of indicators, fetched once."""

    def __init__(self, session: Session, rows: Iterable[BgtInfo]) -> None:
        rows = list(rows)
        codes = {r.mof_div_code for r in rows} | {r.rec_div_code for r in rows if r.rec_div_code}
        self.regions = {
            c: (n, lv)
            for c, n, lv in session.execute(
                select(MofDiv.mof_div_code, MofDiv.mof_div_name, MofDiv.level_no).where(
                    MofDiv.mof_div_code.in_(codes)
                )
            )
        }
        units = {(r.mof_div_code, r.agency_code) for r in rows if r.agency_code}
        self.units: dict[tuple[str, str], str] = {}
        for start in range(0, len(units), 2000):
            chunk = list(units)[start : start + 2000]
            self.units.update(
                {
                    (m, a): n
                    for m, a, n in session.execute(
                        select(Agency.mof_div_code, Agency.agency_code, Agency.agency_name).where(
                            tuple_(Agency.mof_div_code, Agency.agency_code).in_(chunk)
                        )
                    )
                }
            )

    def region(self, code: str | None) -> tuple[str | None, int | None]:
        return self.regions.get(code, (None, None)) if code else (None, None)


def _node(
    n: Node, names: _Names, parent: BgtInfo | None, undistributed: int, children: list[IndicatorNode]
) -> IndicatorNode:
    r = n.row
    region_name, level = names.region(r.mof_div_code)
    return IndicatorNode(
        bgt_id=r.bgt_id,
        fiscal_year=r.fiscal_year,
        region=r.mof_div_code,
        region_name=region_name,
        region_level=level,
        kind=n.kind,
        doc_no=r.cor_bgt_doc_no,
        doc_title=r.bgt_doc_title,
        doc_date=r.doc_date,
        sup_doc_no=r.sup_bgt_doc_no,
        rec_date=r.rec_date,
        source_type=r.source_type_code,
        agency_code=r.agency_code,
        agency_name=names.units.get((r.mof_div_code, r.agency_code or "")),
        rec_div_code=r.rec_div_code,
        rec_div_name=names.region(r.rec_div_code)[0],
        pro_code=r.pro_code,
        spe_fund_code=r.spe_fund_code,
        fund_type=r.fund_type_code,
        exp_func_code=r.exp_func_code,
        amount=format_amount(n.amount),
        paid=format_amount(n.paid),
        payments=n.payments,
        undistributed=format_amount(undistributed),
        lag_days=(r.doc_date - parent.doc_date).days if parent is not None else None,
        receipt_lag_days=(r.rec_date - parent.doc_date).days if parent is not None and r.rec_date else None,
        children=children,
    )


def _undistributed(n: Node, child_amounts: int, has_children: bool) -> int:
    if has_children or n.kind != "assigned":
        return n.amount - child_amounts
    return 0


def get_indicator(session: Session, scope: Scope, bgt_id: str) -> Indicator:
    found = get_indicators(session, scope, [bgt_id])
    if bgt_id not in found:
        raise NotFound(f"no indicator {bgt_id!r}")
    return found[bgt_id]


def get_indicators(session: Session, scope: Scope, bgt_ids: Sequence[str]) -> dict[str, Indicator]:
    """The indicators of ``bgt_ids`` the caller may see, each in full: a fixed number of queries however
    many are asked for (a GraphQL page of indicators costs the same as one)."""
    rows = list(session.execute(_live_indicators(set(bgt_ids)).order_by(BgtInfo.bgt_id)).scalars())
    visible = _visible(scope, session, rows)
    rows = [r for r in rows if r.bgt_id in visible]
    if not rows:
        return {}
    named = {r.bgt_id: r.ori_bgt_id or r.sup_bgt_id for r in rows if r.ori_bgt_id or r.sup_bgt_id}
    uppers = {u.bgt_id: u for u in session.execute(_live_indicators(set(named.values()))).scalars()}
    by_doc = _doc_parents(session, rows)
    parents = {
        r.bgt_id: uppers.get(named[r.bgt_id]) if r.bgt_id in named else by_doc.get(r.bgt_id) for r in rows
    }
    shown_parents = _visible(scope, session, [p for p in parents.values() if p is not None])
    kids = _children(session, rows)
    all_kids = [k for ks in kids.values() for k in ks]
    visible_kids = _visible(scope, session, all_kids)
    kids = {i: [k for k in ks if k.bgt_id in visible_kids] for i, ks in kids.items()}
    adj, paid = _amounts(session, [r.bgt_id for r in rows] + [k.bgt_id for k in all_kids], scope)
    names = _Names(session, rows)
    adjustments: dict[str, list[Adjustment]] = defaultdict(list)
    for a in session.execute(
        select(BgtAdj)
        .where(BgtAdj.bgt_id.in_([r.bgt_id for r in rows]), BgtAdj.is_deleted.is_(False))
        .order_by(BgtAdj.bgt_id, BgtAdj.adj_date, BgtAdj.adj_id)
    ).scalars():
        adjustments[a.bgt_id].append(
            Adjustment(
                adj_id=a.adj_id,
                adj_date=a.adj_date,
                amount=format_amount(a.add_amount_fen),
                doc_no=a.adj_doc_no,
                reason=a.reason,
            )
        )
    plan: dict[str, list[PlanMonth]] = defaultdict(list)
    for bgt_id, month, fen in session.execute(
        select(PayPlan.bgt_id, PayPlan.plan_month, func.sum(PayPlan.plan_amt_fen))
        .where(PayPlan.bgt_id.in_([r.bgt_id for r in rows]), PayPlan.is_deleted.is_(False))
        .group_by(PayPlan.bgt_id, PayPlan.plan_month)
        .order_by(PayPlan.bgt_id, PayPlan.plan_month)
    ):
        plan[bgt_id].append(PlanMonth(month=month, amount=format_amount(int(fen))))
    out = {}
    for row in rows:
        parent = parents[row.bgt_id]
        if parent is not None and parent.bgt_id not in shown_parents:
            parent = None  # neither shown nor used for a lag: its date is outside the caller's jurisdiction
        own_kids = kids.get(row.bgt_id, [])
        node = Node(row, amount=row.amount_fen + int(adj.get(row.bgt_id, 0)))
        node.paid, node.payments = paid.get(row.bgt_id, (0, 0))
        child_total = sum(k.amount_fen + int(adj.get(k.bgt_id, 0)) for k in own_kids)
        base = _node(node, names, parent, _undistributed(node, child_total, bool(own_kids)), [])
        out[row.bgt_id] = Indicator(
            **base.model_dump(exclude={"children"}),
            original_amount=format_amount(row.amount_fen),
            adjustments=adjustments.get(row.bgt_id, []),
            plan=plan.get(row.bgt_id, []),
            parent_bgt_id=parent.bgt_id if parent is not None else None,
            children_count=len(own_kids),
        )
    return out


def trace(session: Session, scope: Scope, bgt_id: str, *, cursor: str | None, limit: int) -> Trace:
    root = _get(session, scope, bgt_id)
    # downstream, level by level
    rows: dict[str, BgtInfo] = {root.bgt_id: root}
    parent_id: dict[str, str] = {}
    kids_of: dict[str, list[str]] = defaultdict(list)
    level, truncated = [root], False
    while level and not truncated:
        found = _children(session, level)
        nxt = []
        for pid, kids in found.items():
            visible = _visible(scope, session, kids)
            for k in kids:
                if k.bgt_id in rows or k.bgt_id not in visible:
                    continue  # a cycle in bad data, or outside the caller's jurisdiction
                if len(rows) >= MAX_NODES:
                    truncated = True
                    break
                rows[k.bgt_id] = k
                parent_id[k.bgt_id] = pid
                kids_of[pid].append(k.bgt_id)
                nxt.append(k)
        level = nxt
    adj, paid = _amounts(session, list(rows), scope)
    nodes = {i: Node(r, amount=r.amount_fen + int(adj.get(i, 0))) for i, r in rows.items()}
    for i, n in nodes.items():
        n.paid, n.payments = paid.get(i, (0, 0))
    names = _Names(session, rows.values())
    upper = parent_of(session, root)
    if upper is not None and not _visible(scope, session, [upper]):
        upper = None
    totals = {"leaves": 0, "undistributed": 0, "paid": 0}

    def build(i: str) -> IndicatorNode:
        n = nodes[i]
        children = [build(k) for k in kids_of.get(i, [])]
        child_total = sum(nodes[k].amount for k in kids_of.get(i, []))
        und = _undistributed(n, child_total, bool(children))
        totals["undistributed"] += und
        totals["paid"] += n.paid
        if not children and n.kind == "assigned":
            totals["leaves"] += n.amount
        parent = rows.get(parent_id[i]) if i in parent_id else upper
        return _node(n, names, parent, und, children)

    tree = build(root.bgt_id)
    return Trace(
        indicator=tree.model_copy(update={"children": []}),
        upstream=_upstream(session, scope, root),
        downstream=tree,
        totals=TraceTotals(
            root_amount=format_amount(nodes[root.bgt_id].amount),
            assigned_leaves=format_amount(totals["leaves"]),
            undistributed=format_amount(totals["undistributed"]),
            paid=format_amount(totals["paid"]),
            nodes=len(nodes),
            truncated=truncated,
        ),
        payments=_tree_payments(session, scope, list(rows), cursor, limit),
    )


def _upstream(session: Session, scope: Scope, row: BgtInfo) -> list[UpstreamStep]:
    chain: list[BgtInfo] = []
    seen = {row.bgt_id}
    node = row
    while True:
        parent = parent_of(session, node)
        if parent is None or parent.bgt_id in seen or not _visible(scope, session, [parent]):
            break
        chain.append(parent)
        seen.add(parent.bgt_id)
        node = parent
    chain.reverse()
    adj, _ = _amounts(session, [c.bgt_id for c in chain])
    names = _Names(session, chain)
    steps = []
    top = chain[0] if chain else row
    if top.sup_bgt_doc_no and parent_of(session, top) is None:
        # the origin: an upper document the warehouse holds no indicator of (e.g. the central level's)
        steps.append(
            UpstreamStep(
                bgt_id=None,
                region=None,
                region_name=None,
                region_level=None,
                doc_no=top.sup_bgt_doc_no,
                doc_date=None,
                rec_date=top.rec_date,
                amount=None,
            )
        )
    for i, c in enumerate(chain):
        below = chain[i + 1] if i + 1 < len(chain) else row
        name, level = names.region(c.mof_div_code)
        steps.append(
            UpstreamStep(
                bgt_id=c.bgt_id,
                region=c.mof_div_code,
                region_name=name,
                region_level=level,
                doc_no=c.cor_bgt_doc_no,
                doc_date=c.doc_date,
                rec_date=below.rec_date,
                amount=format_amount(c.amount_fen + int(adj.get(c.bgt_id, 0))),
            )
        )
    return steps


def _tree_payments(
    session: Session, scope: Scope, ids: list[str], cursor: str | None, limit: int
) -> PaymentPage:
    p = PayVoucher
    after = decode_cursor("trace-payments", cursor, 1, text=True)
    query = select(p.pay_cert_id).where(
        p.bgt_id.in_(ids), p.is_deleted.is_(False), scope.regions(p.mof_div_code)
    )
    if after is not None:
        query = query.where(p.pay_cert_id > after[0])
    found = session.execute(query.order_by(p.pay_cert_id).limit(limit + 1)).scalars().all()
    page = list(found[:limit])
    rows = payment_rows(session, page, scope.pii)
    more = len(found) > limit
    return PaymentPage(rows=rows, next_cursor=encode_cursor("trace-payments", [page[-1]]) if more else None)
