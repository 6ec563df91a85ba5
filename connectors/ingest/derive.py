"""Derived tables (``schema/derived.py``) rebuilt from the warehouse after a load.

Fact cells, rollups and payees are aggregates: a changed record can move money from one group to another,
and the old group is no longer known once the record is replaced, so they are rebuilt whole, in one
transaction (readers keep the previous version until it commits). The keyword text is per payment and is
refreshed only for the payments a load touched, directly or through a renamed unit, project or indicator.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    union,
    union_all,
)
from sqlalchemy.orm import aliased

from schema.derived import (
    ASSIGNED,
    OTHER,
    PAYMENT,
    TRANSFER,
    ExecRollup,
    FactCell,
    Payee,
    PayeeRegion,
    PaymentText,
    Rollup,
    ScopeRollup,
    payment_fts,
)
from schema.models import (
    Agency,
    BgtAdj,
    BgtInfo,
    GovExec,
    PayDetail,
    PayPlan,
    PayVoucher,
    Project,
    RegionClosure,
)
from schema.relations import indicator_of, project_of, unit_of

# Tables whose changes the derived tables depend on.
FACT_INPUTS = frozenset({"mof_div", "agency", "ba_bgt_info", "bgt_adj", "pay_plan", "pay_voucher"})
TEXT_INPUTS = frozenset({"pay_voucher", "project", "agency", "ba_bgt_info"})
PAYEE_INPUTS = frozenset({"pay_voucher", "pay_detail"})

TEXT_FULL_SHARE = 0.2  # refresh the keyword text whole when a load touched more than this share of payments


def month_of(column: Any) -> ColumnElement[int]:
    return cast(func.extract("month", column), Integer)


def _live(model: type) -> ColumnElement[bool]:
    return model.is_deleted.is_(False)  # type: ignore[attr-defined, no-any-return]


def current_amounts() -> tuple[Any, Any, Any]:
    """An indicator's current amount (amount plus adjustments) and the subqueries it needs."""
    adj = (
        select(BgtAdj.bgt_id, func.sum(BgtAdj.add_amount_fen).label("fen"))
        .where(_live(BgtAdj))
        .group_by(BgtAdj.bgt_id)
        .subquery("adj")
    )
    plan = (
        select(PayPlan.bgt_id, func.sum(PayPlan.plan_amt_fen).label("fen"))
        .where(_live(PayPlan))
        .group_by(PayPlan.bgt_id)
        .subquery("plan")
    )
    return BgtInfo.amount_fen + func.coalesce(adj.c.fen, 0), adj, plan


def _indicator_cells() -> Select[Any]:
    current, adj, plan = current_amounts()
    kind = case(
        (BgtInfo.agency_code.is_not(None), literal(ASSIGNED)),
        (BgtInfo.rec_div_code.is_not(None), literal(TRANSFER)),
        else_=literal(OTHER),
    )
    zero = literal(0, type_=Integer)
    return (
        select(
            kind,
            BgtInfo.fiscal_year,
            BgtInfo.mof_div_code,
            case((BgtInfo.agency_code.is_(None), BgtInfo.rec_div_code), else_=null()),
            BgtInfo.fund_type_code,
            Agency.dept_code,
            BgtInfo.agency_code,
            BgtInfo.pro_code,
            BgtInfo.spe_fund_code,
            BgtInfo.manage_mof_dep_code,
            BgtInfo.exp_func_code,
            BgtInfo.gov_bgt_eco_code,
            BgtInfo.dep_bgt_eco_code,
            month_of(BgtInfo.doc_date),
            BgtInfo.bgt_id,
            case((kind == ASSIGNED, current), else_=zero),
            case((kind == TRANSFER, current), else_=zero),
            zero,
            func.coalesce(plan.c.fen, 0),
            literal(1, type_=Integer),
            null(),
        )
        .outerjoin(adj, adj.c.bgt_id == BgtInfo.bgt_id)
        .outerjoin(plan, plan.c.bgt_id == BgtInfo.bgt_id)
        .outerjoin(Agency, unit_of(BgtInfo, Agency))
        .where(_live(BgtInfo))
    )


def _payment_cells() -> Select[Any]:
    month = month_of(PayVoucher.vou_date)
    groups = (
        PayVoucher.fiscal_year,
        PayVoucher.mof_div_code,
        PayVoucher.fund_type_code,
        Agency.dept_code,
        PayVoucher.agency_code,
        PayVoucher.pro_code,
        BgtInfo.spe_fund_code,
        BgtInfo.manage_mof_dep_code,
        PayVoucher.exp_func_code,
        PayVoucher.gov_bgt_eco_code,
        PayVoucher.dep_bgt_eco_code,
        month,
        PayVoucher.bgt_id,
    )
    zero = literal(0, type_=Integer)
    return (
        select(
            literal(PAYMENT),
            PayVoucher.fiscal_year,
            PayVoucher.mof_div_code,
            null(),
            *groups[2:],
            zero,
            zero,
            func.sum(PayVoucher.pay_amt_fen),
            zero,
            func.count(),
            func.max(PayVoucher.vou_date),
        )
        .outerjoin(Agency, unit_of(PayVoucher, Agency))
        .outerjoin(BgtInfo, indicator_of(PayVoucher, BgtInfo))
        .where(_live(PayVoucher))
        .group_by(*groups)
    )


CELL_COLUMNS = (
    "record_kind",
    "fiscal_year",
    "mof_div_code",
    "rec_div_code",
    "fund_type_code",
    "dept_code",
    "agency_code",
    "pro_code",
    "spe_fund_code",
    "mof_dep_code",
    "exp_func_code",
    "gov_eco_code",
    "dep_eco_code",
    "month",
    "bgt_id",
    "budget_fen",
    "transfer_fen",
    "paid_fen",
    "plan_fen",
    "records",
    "last_paid_on",
)


def _prefix(column: Any, digits: int) -> ColumnElement[str | None]:
    """The first ``digits`` characters of a classification code; null when the code is shorter."""
    return case((func.length(column) >= digits, func.substr(column, 1, digits)), else_=null())


def _local(column: Any) -> ColumnElement[str | None]:
    """A code that is unique only within its region, qualified by it: ``410100000:101``."""
    return case((column.is_(None), null()), else_=FactCell.mof_div_code + literal(":") + column)


def _two_digits(column: Any) -> ColumnElement[str | None]:
    as_text = cast(column, String)
    return case((column.is_(None), null()), (column < 10, literal("0") + as_text), else_=as_text)


# The rollup's dimensions and how a cell's key for each is computed. The indicator (as many keys as cells)
# and the payee (not in cells) are answered from the cells and the payments themselves.
ROLLUP_KEYS: dict[str, Any] = {
    "total": null(),
    "department": _local(FactCell.dept_code),
    "agency": _local(FactCell.agency_code),
    "project": _local(FactCell.pro_code),
    "mof_dep": _local(FactCell.mof_dep_code),
    "spe_fund": FactCell.spe_fund_code,
    "exp_func.1": _prefix(FactCell.exp_func_code, 3),
    "exp_func.2": _prefix(FactCell.exp_func_code, 5),
    "exp_func.3": _prefix(FactCell.exp_func_code, 7),
    "gov_eco.1": _prefix(FactCell.gov_eco_code, 3),
    "gov_eco.2": _prefix(FactCell.gov_eco_code, 5),
    "dep_eco.1": _prefix(FactCell.dep_eco_code, 3),
    "dep_eco.2": _prefix(FactCell.dep_eco_code, 5),
    "month": _two_digits(FactCell.month),
}


# Dimensions whose keys are shared across regions: summed per scope as well (``scope_rollup``).
SCOPE_DIMS = (
    "total",
    "spe_fund",
    "exp_func.1",
    "exp_func.2",
    "exp_func.3",
    "gov_eco.1",
    "gov_eco.2",
    "dep_eco.1",
    "dep_eco.2",
    "month",
)


def rebuild_facts(conn: Connection) -> tuple[int, int]:
    """Fact cells, rollups and scope rollups, whole. Returns (cells, rollup rows of both kinds)."""
    conn.execute(delete(ScopeRollup))
    conn.execute(delete(Rollup))
    conn.execute(delete(FactCell))
    columns = [FactCell.__table__.c[name] for name in CELL_COLUMNS]
    conn.execute(insert(FactCell).from_select(columns, union_all(_indicator_cells(), _payment_cells())))
    payments = case((FactCell.record_kind == PAYMENT, FactCell.records), else_=0)
    for dim, key in ROLLUP_KEYS.items():
        groups: tuple[Any, ...] = (
            FactCell.fiscal_year,
            FactCell.mof_div_code,
            FactCell.rec_div_code,
            FactCell.fund_type_code,
        )
        if dim != "total":  # PostgreSQL refuses GROUP BY NULL
            groups += (key,)
        query = select(
            *groups[:4],
            literal(dim),
            key,
            func.sum(FactCell.budget_fen),
            func.sum(FactCell.transfer_fen),
            func.sum(FactCell.paid_fen),
            func.sum(FactCell.plan_fen),
            func.sum(payments),
            func.max(FactCell.last_paid_on),
        ).group_by(*groups)
        conn.execute(insert(Rollup).from_select(ROLLUP_COLUMNS, query))
    _build_scope_rollup(conn)
    cells = conn.execute(select(func.count()).select_from(FactCell)).scalar_one()
    rollups = sum(
        conn.execute(select(func.count()).select_from(model)).scalar_one() for model in (Rollup, ScopeRollup)
    )
    return cells, rollups


ROLLUP_COLUMNS = [
    "fiscal_year",
    "mof_div_code",
    "rec_div_code",
    "fund_type_code",
    "dim",
    "dim_key",
    "budget_fen",
    "transfer_fen",
    "paid_fen",
    "plan_fen",
    "payments",
    "last_paid_on",
]


def _build_scope_rollup(conn: Connection) -> None:
    """Every region's subtree: its own records through the region tree's closure, and the transfers that
    cross its border, inward (receiver inside, issuer outside) and outward (the reverse)."""
    r = Rollup
    scope = aliased(RegionClosure)
    other = aliased(RegionClosure)
    zero = literal(0, type_=Integer)
    in_dims = r.dim.in_(SCOPE_DIMS)

    def crosses(end: Any) -> ColumnElement[bool]:
        """``end`` lies outside the subtree rooted at ``scope.ancestor``."""
        inside = select(other.ancestor).where(other.ancestor == scope.ancestor, other.descendant == end)
        return and_(r.rec_div_code.is_not(None), ~inside.exists())

    own = (
        select(
            r.fiscal_year.label("fiscal_year"),
            r.dim.label("dim"),
            scope.ancestor.label("scope_code"),
            r.fund_type_code.label("fund_type_code"),
            r.dim_key.label("dim_key"),
            r.budget_fen.label("budget_fen"),
            zero.label("transfer_in_fen"),
            zero.label("transfer_out_fen"),
            r.paid_fen.label("paid_fen"),
            r.plan_fen.label("plan_fen"),
            r.payments.label("payments"),
            r.last_paid_on.label("last_paid_on"),
        )
        .join(scope, scope.descendant == r.mof_div_code)
        .where(in_dims)
    )
    inward = (
        select(
            r.fiscal_year,
            r.dim,
            scope.ancestor,
            r.fund_type_code,
            r.dim_key,
            zero,
            r.transfer_fen,
            zero,
            zero,
            zero,
            zero,
            null(),
        )
        .join(scope, scope.descendant == r.rec_div_code)
        .where(in_dims, crosses(r.mof_div_code))
    )
    outward = (
        select(
            r.fiscal_year,
            r.dim,
            scope.ancestor,
            r.fund_type_code,
            r.dim_key,
            zero,
            zero,
            r.transfer_fen,
            zero,
            zero,
            zero,
            null(),
        )
        .join(scope, scope.descendant == r.mof_div_code)
        .where(in_dims, crosses(r.rec_div_code))
    )
    parts = union_all(own, inward, outward).subquery("parts")
    p = parts.c
    groups = (p.fiscal_year, p.dim, p.scope_code, p.fund_type_code, p.dim_key)
    conn.execute(
        insert(ScopeRollup).from_select(
            [
                "fiscal_year",
                "dim",
                "scope_code",
                "fund_type_code",
                "dim_key",
                "budget_fen",
                "transfer_in_fen",
                "transfer_out_fen",
                "paid_fen",
                "plan_fen",
                "payments",
                "last_paid_on",
            ],
            select(
                *groups,
                func.sum(p.budget_fen),
                func.sum(p.transfer_in_fen),
                func.sum(p.transfer_out_fen),
                func.sum(p.paid_fen),
                func.sum(p.plan_fen),
                func.sum(p.payments),
                func.max(p.last_paid_on),
            ).group_by(*groups),
        )
    )


# --- budget execution (gov_exec) ----------------------------------------------------------------------

EXEC_INPUTS = frozenset({"mof_div", "gov_exec"})


def rebuild_exec(conn: Connection) -> int:
    """Each region's latest reported month per fund type and side (the figures are cumulative), summed
    over every subtree."""
    g = GovExec
    live = g.is_deleted.is_(False)
    parts = (g.mof_div_code, g.fiscal_year, g.fund_type_code, g.side)
    latest = select(*parts, func.max(g.month).label("month")).where(live).group_by(*parts).subquery("latest")
    scope = aliased(RegionClosure)
    groups = (g.fiscal_year, scope.ancestor, g.fund_type_code, g.side)
    conn.execute(delete(ExecRollup))
    conn.execute(
        insert(ExecRollup).from_select(
            [
                "fiscal_year",
                "scope_code",
                "fund_type_code",
                "side",
                "budget_fen",
                "adjusted_fen",
                "exec_fen",
                "month",
            ],
            select(
                *groups,
                func.sum(g.budget_amt_fen),
                func.sum(g.adjusted_amt_fen),
                func.sum(g.exec_amt_fen),
                func.min(g.month),
            )
            .join(
                latest,
                and_(
                    latest.c.mof_div_code == g.mof_div_code,
                    latest.c.fiscal_year == g.fiscal_year,
                    latest.c.fund_type_code == g.fund_type_code,
                    latest.c.side == g.side,
                    latest.c.month == g.month,
                ),
            )
            .join(scope, scope.descendant == g.mof_div_code)
            .where(live)
            .group_by(*groups),
        )
    )
    return int(conn.execute(select(func.count()).select_from(ExecRollup)).scalar_one())


# --- keyword text -------------------------------------------------------------------------------------

SEPARATOR = "\n"  # between the fields of a document; a keyword may not contain it


def _documents() -> Select[Any]:
    # A person's name is searchable only in its masked form (张*): a match on the full name would
    # confirm to any caller that the person was paid. Cleared callers find persons through /v1/payees.
    person = or_(PayVoucher.payee_type == "4", PayVoucher.iden_no.is_not(None))
    stars = func.substr(literal("*" * 64), 1, func.length(PayVoucher.payee_acct_name) - 1)
    masked = func.substr(PayVoucher.payee_acct_name, 1, 1).op("||")(stars)
    fields = [
        PayVoucher.use_des,
        case((person, masked), else_=PayVoucher.payee_acct_name),
        func.coalesce(Project.pro_name, ""),
        func.coalesce(Agency.agency_name, ""),
        func.coalesce(BgtInfo.cor_bgt_doc_no, ""),
    ]
    doc: Any = fields[0]
    for field in fields[1:]:
        doc = doc + literal(SEPARATOR) + field
    return (
        select(PayVoucher.pay_cert_id, PayVoucher.mof_div_code, doc)
        .outerjoin(Project, project_of(PayVoucher, Project))
        .outerjoin(Agency, unit_of(PayVoucher, Agency))
        .outerjoin(BgtInfo, indicator_of(PayVoucher, BgtInfo))
        .where(_live(PayVoucher))
    )


def _touched_payments(run_id: int, changed: Iterable[str]) -> Any:
    """Payments whose document a run may have changed: written by it, or naming a row it wrote."""
    changed = set(changed)
    parts = []
    if "pay_voucher" in changed:
        parts.append(select(PayVoucher.pay_cert_id).where(PayVoucher.src_run_id == run_id))
    if "project" in changed:
        parts.append(
            select(PayVoucher.pay_cert_id)
            .join(Project, project_of(PayVoucher, Project, live=False))
            .where(Project.src_run_id == run_id)
        )
    if "agency" in changed:
        parts.append(
            select(PayVoucher.pay_cert_id)
            .join(Agency, unit_of(PayVoucher, Agency, live=False))
            .where(Agency.src_run_id == run_id)
        )
    if "ba_bgt_info" in changed:
        parts.append(
            select(PayVoucher.pay_cert_id)
            .join(BgtInfo, indicator_of(PayVoucher, BgtInfo, live=False))
            .where(BgtInfo.src_run_id == run_id)
        )
    return union_all(*parts) if len(parts) > 1 else parts[0]


_touched = Table(
    "touched_payment",
    MetaData(),
    Column("pay_cert_id", String(64), primary_key=True),
    prefixes=["TEMPORARY"],
)


def refresh_payment_text(conn: Connection, run_id: int | None, changed: Iterable[str]) -> int:
    """Bring ``payment_text`` (and its keyword index) up to date; ``run_id`` None rebuilds it whole.
    Returns how many documents were written."""
    sqlite = conn.dialect.name == "sqlite"
    columns = [PaymentText.pay_cert_id, PaymentText.mof_div_code, PaymentText.doc]
    total = conn.execute(select(func.count()).select_from(PaymentText)).scalar_one()
    if run_id is not None and total:
        _touched.drop(conn, checkfirst=True)
        _touched.create(conn)
        try:
            touched_ids = _touched_payments(run_id, changed).subquery()  # type: ignore[attr-defined]
            conn.execute(insert(_touched).from_select(["pay_cert_id"], select(touched_ids.c[0]).distinct()))
            touched = conn.execute(select(func.count()).select_from(_touched)).scalar_one()
            if touched <= TEXT_FULL_SHARE * total:
                _replace_documents(conn, select(_touched.c.pay_cert_id), sqlite)
                _summarize_id_ranges(conn, whole=False)
                return int(touched)
        finally:
            _touched.drop(conn)
    conn.execute(delete(PaymentText))
    conn.execute(insert(PaymentText).from_select(columns, _documents()))
    if sqlite:
        conn.execute(text("INSERT INTO payment_fts (payment_fts) VALUES ('rebuild')"))
    _summarize_id_ranges(conn, whole=True)
    return int(conn.execute(select(func.count()).select_from(PaymentText)).scalar_one())


BRIN = "ix_payment_text_id_brin"  # PostgreSQL: the id range of each run of table pages (migration 0003)


def _summarize_id_ranges(conn: Connection, whole: bool) -> None:
    """PostgreSQL: bring the BRIN index on ``payment_text.id`` up to date, which keyword pages use to read
    only the table pages of a range of match order. Pages written since the last summary are summarized
    (unsummarized ones match every range). After a whole rebuild every summary is taken anew first: the
    new documents went into pages freed by an earlier rebuild, whose summaries still span the old ids, and
    a summary only ever widens. Either way the index stays exact; this only keeps it narrow. (Only the
    index's owner may summarize it; a loader connecting as another role leaves that to VACUUM.)"""
    if conn.dialect.name != "postgresql":
        return
    owned = text(f"SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = to_regclass('{BRIN}')")
    if not conn.execute(owned).scalar():
        return
    if whole:
        conn.execute(  # one call per range of 32 pages, the index's pages_per_range
            text(
                f"SELECT count(brin_desummarize_range('{BRIN}', block)) FROM generate_series(0, "
                "pg_relation_size('payment_text') / current_setting('block_size')::int, 32) AS block"
            )
        )
    conn.execute(text(f"SELECT brin_summarize_new_values('{BRIN}')"))


def _replace_documents(conn: Connection, ids: Any, sqlite: bool) -> None:
    """Rewrite the documents of the payments ``ids``; FTS5's external content is told old and new text."""
    in_ids = PaymentText.pay_cert_id.in_(ids)
    if sqlite:
        old = select(literal("delete"), PaymentText.id, PaymentText.doc).where(in_ids)
        conn.execute(_fts_insert(["payment_fts", "rowid", "doc"], old))
    conn.execute(delete(PaymentText).where(in_ids))
    conn.execute(
        insert(PaymentText).from_select(
            [PaymentText.pay_cert_id, PaymentText.mof_div_code, PaymentText.doc],
            _documents().where(PayVoucher.pay_cert_id.in_(ids)),  # type: ignore[attr-defined]
        )
    )
    if sqlite:
        conn.execute(_fts_insert(["rowid", "doc"], select(PaymentText.id, PaymentText.doc).where(in_ids)))


def _fts_insert(columns: list[str], query: Any) -> Any:
    return insert(payment_fts).from_select([payment_fts.c[name] for name in columns], query)


# --- payees -------------------------------------------------------------------------------------------


def rebuild_payees(conn: Connection, keys: Any = None) -> int:
    """Payees and what each received per paying region, whole, or only those of ``keys`` (a query of
    payee keys). Returns the number of payees rebuilt."""
    if keys is None:
        conn.execute(delete(PayeeRegion))
        conn.execute(delete(Payee))
    else:
        conn.execute(delete(PayeeRegion).where(PayeeRegion.payee_key.in_(keys)))
        conn.execute(delete(Payee).where(Payee.payee_key.in_(keys)))
    person_voucher = or_(PayVoucher.payee_type == "4", PayVoucher.iden_no.is_not(None))
    vouchers = select(
        PayVoucher.payee_key.label("payee_key"),
        PayVoucher.payee_acct_name.label("name"),
        case((person_voucher, 1), else_=0).label("is_person"),
        PayVoucher.payee_type.label("payee_type"),
        PayVoucher.unifsoc_cred_code.label("uscc"),
        PayVoucher.payee_acct_no.label("account_no"),
        PayVoucher.mof_div_code.label("region"),
        literal(1, type_=Integer).label("vouchers"),
        PayVoucher.pay_amt_fen.label("voucher_fen"),
        literal(0, type_=Integer).label("details"),
        literal(0, type_=Integer).label("detail_fen"),
        PayVoucher.vou_date.label("paid_on"),
    ).where(_live(PayVoucher))
    if keys is not None:
        vouchers = vouchers.where(PayVoucher.payee_key.in_(keys))
    person_detail = or_(PayDetail.iden_no.is_not(None), PayDetail.per_name.is_not(None))
    details = (
        select(
            PayDetail.payee_key,
            func.coalesce(PayDetail.per_name, PayDetail.corp_name, PayDetail.payee_acct_name),
            case((person_detail, 1), else_=0),
            case((person_detail, literal("4")), else_=null()),
            PayDetail.unifsoc_cred_code,
            PayDetail.payee_acct_no,
            PayVoucher.mof_div_code,
            literal(0, type_=Integer),
            literal(0, type_=Integer),
            literal(1, type_=Integer),
            PayDetail.pay_amt_fen,
            func.coalesce(PayDetail.xpay_date, PayVoucher.vou_date),
        )
        .join(PayVoucher, and_(PayVoucher.pay_cert_id == PayDetail.pay_cert_id, _live(PayVoucher)))
        .where(_live(PayDetail))
    )
    if keys is not None:
        details = details.where(PayDetail.payee_key.in_(keys))
    received = union_all(vouchers, details).subquery("received")
    r = received.c
    conn.execute(
        insert(Payee).from_select(
            ["payee_key", "name", "is_person", "payee_type", "unifsoc_cred_code", "account_no"],
            select(
                r.payee_key,
                func.max(r.name),
                cast(func.max(r.is_person), Integer) == 1,
                func.max(r.payee_type),
                func.max(r.uscc),
                func.max(r.account_no),
            ).group_by(r.payee_key),
        )
    )
    conn.execute(
        insert(PayeeRegion).from_select(
            [
                "payee_key",
                "mof_div_code",
                "vouchers",
                "voucher_fen",
                "details",
                "detail_fen",
                "first_date",
                "last_date",
            ],
            select(
                r.payee_key,
                r.region,
                func.sum(r.vouchers),
                func.sum(r.voucher_fen),
                func.sum(r.details),
                func.sum(r.detail_fen),
                func.min(r.paid_on),
                func.max(r.paid_on),
            ).group_by(r.payee_key, r.region),
        )
    )
    if keys is not None:
        return int(
            conn.execute(
                select(func.count()).select_from(Payee).where(Payee.payee_key.in_(keys))
            ).scalar_one()
        )
    return int(conn.execute(select(func.count()).select_from(Payee)).scalar_one())


def changed_payees() -> Any:
    """The payees the kept changes concern (``payee_change``): each changed payment's payee before and
    after, the final recipients of its details (counted in the payment's region, and only while it
    stands), and the payees before and after of each changed detail."""
    from schema.derived import PayeeChange

    return union(
        select(PayeeChange.payee_key),
        select(PayDetail.payee_key).where(
            PayDetail.pay_cert_id.in_(
                select(PayeeChange.pay_cert_id).where(PayeeChange.pay_cert_id.is_not(None))
            )
        ),
    )


# --- summaries moved by deltas ------------------------------------------------------------------------


class Drift(Exception):
    """The summaries and a delta disagree (a count would go negative): rebuild them whole instead."""


# a payment cell's key: its columns but the kind, the receiving region (none for payments) and the measures
CELL_KEY = tuple(c for c in CELL_COLUMNS[1:15] if c != "rec_div_code")
_K = {name: i for i, name in enumerate(CELL_KEY)}


def _py_local(cell: tuple[Any, ...], column: str) -> str | None:
    code = cell[_K[column]]
    return None if code is None else f"{cell[_K['mof_div_code']]}:{code}"


def _py_prefix(cell: tuple[Any, ...], column: str, digits: int) -> str | None:
    code = cell[_K[column]]
    return code[:digits] if code is not None and len(code) >= digits else None


def _py_month(cell: tuple[Any, ...]) -> str | None:
    month = cell[_K["month"]]
    return None if month is None else f"{month:02d}"


# ROLLUP_KEYS in Python, over a cell's key (they must agree: a test checks deltas against a rebuild)
PY_ROLLUP_KEYS: dict[str, Any] = {
    "total": lambda c: None,
    "department": lambda c: _py_local(c, "dept_code"),
    "agency": lambda c: _py_local(c, "agency_code"),
    "project": lambda c: _py_local(c, "pro_code"),
    "mof_dep": lambda c: _py_local(c, "mof_dep_code"),
    "spe_fund": lambda c: c[_K["spe_fund_code"]],
    "exp_func.1": lambda c: _py_prefix(c, "exp_func_code", 3),
    "exp_func.2": lambda c: _py_prefix(c, "exp_func_code", 5),
    "exp_func.3": lambda c: _py_prefix(c, "exp_func_code", 7),
    "gov_eco.1": lambda c: _py_prefix(c, "gov_eco_code", 3),
    "gov_eco.2": lambda c: _py_prefix(c, "gov_eco_code", 5),
    "dep_eco.1": lambda c: _py_prefix(c, "dep_eco_code", 3),
    "dep_eco.2": lambda c: _py_prefix(c, "dep_eco_code", 5),
    "month": _py_month,
}


class _Move:
    """What the changed payments did to one aggregate row: money and count added, and the latest payment
    date among the rows below it before (``before``) and after (``after``) the change."""

    __slots__ = ("paid", "count", "before", "after")

    def __init__(self) -> None:
        self.paid, self.count = 0, 0
        self.before: Any = None
        self.after: Any = None

    def add(self, paid: int, count: int, before: Any, after: Any) -> None:
        self.paid += paid
        self.count += count
        self.before = _later(self.before, before)
        self.after = _later(self.after, after)


def _gather(moves: dict[tuple[Any, ...], _Move], key: tuple[Any, ...], move: _Move) -> None:
    """Add ``move`` into the move of ``key`` (the hot loop of the deltas: written out, not through add)."""
    m = moves.get(key)
    if m is None:
        m = moves[key] = _Move()
    m.paid += move.paid
    m.count += move.count
    before, after = move.before, move.after
    if before is not None and (m.before is None or before > m.before):
        m.before = before
    if after is not None and (m.after is None or after > m.after):
        m.after = after


def _later(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


def _new_last(stored: Any, move: _Move) -> tuple[Any, bool]:
    """The row's latest payment date after the change, and whether it must be recomputed instead (the row
    that held the latest date moved away or earlier, and what is left below it is not known here)."""
    if (
        stored is not None
        and move.before is not None
        and move.before >= stored
        and (move.after is None or move.after < stored)
    ):
        return None, True
    return _later(stored, move.after), False


def _in_batches(values: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def apply_payment_changes(conn: Connection) -> tuple[int, int, int]:
    """Move fact cells, rollups and scope rollups by the kept deltas of changed payments
    (``payment_change``, of every run that left some) instead of rebuilding them: each changed payment's
    old version is taken out and its new one put in, so the work follows the size of the change, not of
    the warehouse. Valid when payments are all that changed among the summaries' inputs. Returns the cells,
    rollup and scope rows touched; raises :class:`Drift` if a delta does not fit what is stored (the caller
    rebuilds whole)."""
    from schema.derived import PaymentChange

    pc = PaymentChange
    unit, ind = aliased(Agency), aliased(BgtInfo)
    month = month_of(pc.vou_date)
    groups = (
        pc.fiscal_year,
        pc.mof_div_code,
        pc.fund_type_code,
        unit.dept_code,
        pc.agency_code,
        pc.pro_code,
        ind.spe_fund_code,
        ind.manage_mof_dep_code,
        pc.exp_func_code,
        pc.gov_eco_code,
        pc.dep_eco_code,
        month,
        pc.bgt_id,
    )
    rows = conn.execute(
        select(
            *groups,
            func.sum(pc.sign * pc.paid_fen),
            func.sum(pc.sign),
            func.max(case((pc.sign == 1, pc.vou_date), else_=null())),
            func.max(case((pc.sign == -1, pc.vou_date), else_=null())),
        )
        .select_from(pc)
        .outerjoin(unit, unit_of(pc, unit))
        .outerjoin(ind, indicator_of(pc, ind))
        .group_by(*groups)
    ).all()
    deltas = {}
    for r in rows:
        key = tuple(r[:13])
        if r[13] == 0 and r[14] == 0 and r[15] == r[16]:
            continue  # the payments changed nothing the summaries hold (a purpose, a payee's account)
        deltas[key] = (int(r[13]), int(r[14]), r[15], r[16])
    if not deltas:
        return 0, 0, 0
    cells = _move_cells(conn, deltas)
    rollups = _move_rollups(conn, cells)
    scopes = _move_scopes(conn, rollups)
    return len(cells), len(rollups), len(scopes)


def _move_cells(
    conn: Connection, deltas: dict[tuple[Any, ...], tuple[int, int, Any, Any]]
) -> dict[tuple[Any, ...], _Move]:
    """Apply the deltas to the payment cells; returns per cell key its move and its latest date after."""
    key_cols = [FactCell.__table__.c[c] for c in CELL_KEY]
    base = select(FactCell.id, *key_cols, FactCell.paid_fen, FactCell.records, FactCell.last_paid_on).where(
        FactCell.record_kind == PAYMENT
    )
    stored: dict[tuple[Any, ...], Any] = {}
    bgt_ids = sorted({k[_K["bgt_id"]] for k in deltas if k[_K["bgt_id"]] is not None})
    for part in _in_batches(bgt_ids):
        for row in conn.execute(base.where(FactCell.bgt_id.in_(part))):
            stored[tuple(row[1:14])] = row
    for fy, div in sorted({(k[0], k[1]) for k in deltas if k[_K["bgt_id"]] is None}):
        query = base.where(
            FactCell.bgt_id.is_(None), FactCell.fiscal_year == fy, FactCell.mof_div_code == div
        )
        for row in conn.execute(query):
            stored[tuple(row[1:14])] = row
    updates, inserts, deletes, dirty = [], [], [], []
    moves: dict[tuple[Any, ...], _Move] = {}
    lasts: dict[tuple[Any, ...], Any] = {}  # each cell's latest date after the change
    for key, (paid, count, new_last, old_last) in deltas.items():
        move = moves[key] = _Move()
        move.add(paid, count, old_last, new_last)
        cell = stored.get(key)
        if cell is None:
            if count <= 0:
                raise Drift(f"payments leave a cell that is not stored: {key}")
            inserts.append(
                dict(zip(CELL_KEY, key, strict=True))
                | {"paid_fen": paid, "records": count, "last_paid_on": new_last}
            )
            lasts[key] = new_last
            continue
        records = cell.records + count
        if records < 0 or (records == 0 and cell.paid_fen + paid != 0):
            raise Drift(f"a payment cell would hold {records} payments: {key}")
        if records == 0:
            deletes.append(cell.id)
            lasts[key] = None
            continue
        last, unknown = _new_last(cell.last_paid_on, move)
        if unknown:
            dirty.append(key)
        updates.append({"i": cell.id, "p": cell.paid_fen + paid, "n": records, "l": last})
        lasts[key] = last
    if dirty:
        exact = _exact_payment_lasts(conn, dirty)
        by_id = {u["i"]: u for u in updates}
        for key in dirty:
            by_id[stored[key].id]["l"] = lasts[key] = exact.get(key)
    # the rows above a cell see its latest date before and after
    for key, move in moves.items():
        cell = stored.get(key)
        move.before = cell.last_paid_on if cell is not None else None
        move.after = lasts[key]
    table: Table = FactCell.__table__  # type: ignore[assignment]
    if updates:
        conn.execute(
            table.update()
            .where(table.c.id == bindparam("i"))
            .values(paid_fen=bindparam("p"), records=bindparam("n"), last_paid_on=bindparam("l")),
            updates,
        )
    for part in _in_batches(deletes):
        conn.execute(delete(FactCell).where(FactCell.id.in_(part)))
    if inserts:
        zero = {
            "budget_fen": 0,
            "transfer_fen": 0,
            "plan_fen": 0,
            "rec_div_code": None,
            "record_kind": PAYMENT,
        }
        conn.execute(insert(FactCell), [zero | row for row in inserts])
    return moves


def _exact_payment_lasts(conn: Connection, keys: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], Any]:
    """The latest payment date of these payment cells, from the payments themselves."""
    cells = _payment_cells().subquery("cells")
    c = list(cells.c)  # in CELL_COLUMNS order: kind, year, region, rec_div, then the key from fund type on
    by_name = dict(zip(CELL_COLUMNS, c, strict=True))
    wanted = set(keys)
    out: dict[tuple[Any, ...], Any] = {}
    bgt_ids = sorted({k[_K["bgt_id"]] for k in keys if k[_K["bgt_id"]] is not None})
    conditions: list[ColumnElement[bool]] = [by_name["bgt_id"].in_(part) for part in _in_batches(bgt_ids)]
    for fy, div in sorted({(k[0], k[1]) for k in keys if k[_K["bgt_id"]] is None}):
        conditions.append(
            and_(by_name["bgt_id"].is_(None), by_name["fiscal_year"] == fy, by_name["mof_div_code"] == div)
        )
    for condition in conditions:
        query = select(*(by_name[n] for n in CELL_KEY), by_name["last_paid_on"]).where(condition)
        for row in conn.execute(query):
            key = tuple(row[:13])
            if key in wanted:
                out[key] = row[13]
    return out


def _move_rollups(conn: Connection, cells: dict[tuple[Any, ...], _Move]) -> dict[tuple[Any, ...], _Move]:
    """Apply the cells' moves to the rollups (payments have no receiving region); returns per rollup key
    (year, region, fund type, dim, key) its move and latest date after."""
    moves: dict[tuple[Any, ...], _Move] = {}
    dims = list(PY_ROLLUP_KEYS.items())
    for cell, move in cells.items():
        head = (cell[0], cell[1], cell[2])
        for dim, key_of in dims:
            _gather(moves, (*head, dim, key_of(cell)), move)
    r = Rollup
    stored: dict[tuple[Any, ...], Any] = {}
    for fy in sorted({k[0] for k in moves}):
        divs = sorted({k[1] for k in moves if k[0] == fy})
        for part in _in_batches(divs):
            query = select(
                r.id,
                r.fiscal_year,
                r.mof_div_code,
                r.fund_type_code,
                r.dim,
                r.dim_key,
                r.budget_fen,
                r.transfer_fen,
                r.paid_fen,
                r.plan_fen,
                r.payments,
                r.last_paid_on,
            ).where(
                r.fiscal_year == fy,
                r.dim.in_(list(PY_ROLLUP_KEYS)),
                r.mof_div_code.in_(part),
                r.rec_div_code.is_(None),
            )
            for row in conn.execute(query):
                stored[tuple(row[1:6])] = row

    def cells_of(rk: tuple[Any, ...]) -> ColumnElement[bool]:
        fy, div, fund, dim, key = rk
        return and_(
            FactCell.fiscal_year == fy,
            FactCell.mof_div_code == div,
            FactCell.fund_type_code == fund,
            FactCell.rec_div_code.is_(None),
            ROLLUP_KEYS[dim].is_not_distinct_from(key),
        )

    def exists(rk: tuple[Any, ...]) -> bool:
        return conn.execute(select(literal(1)).where(cells_of(rk)).limit(1)).first() is not None

    def exact_last(rk: tuple[Any, ...]) -> Any:
        return conn.execute(select(func.max(FactCell.last_paid_on)).where(cells_of(rk))).scalar()

    return _apply_moves(conn, Rollup.__table__, moves, stored, exists, exact_last, rollup=True)  # type: ignore[arg-type]


def _apply_moves(
    conn: Connection,
    table: Table,
    moves: dict[tuple[Any, ...], _Move],
    stored: dict[tuple[Any, ...], Any],
    exists: Any,
    exact_last: Any,
    *,
    rollup: bool,
) -> dict[tuple[Any, ...], _Move]:
    """Apply moves to a rollup or scope-rollup table: update, insert or delete rows, recompute the latest
    date where the moves cannot tell it."""
    updates, inserts, deletes = [], [], []
    out: dict[tuple[Any, ...], _Move] = {}
    transfer = ("transfer_fen",) if rollup else ("transfer_in_fen", "transfer_out_fen")
    for rk, move in moves.items():
        row = stored.get(rk)
        if row is None:
            if move.count <= 0:
                if move.count == 0 and move.paid == 0:
                    continue  # payments came and went under a row that is not stored either way
                raise Drift(f"payments leave a {table.name} row that is not stored: {rk}")
            fields = dict(
                zip(
                    (
                        "fiscal_year",
                        "mof_div_code" if rollup else "scope_code",
                        "fund_type_code",
                        "dim",
                        "dim_key",
                    ),
                    rk,
                    strict=True,
                )
            )
            inserts.append(
                fields
                | {
                    "budget_fen": 0,
                    "plan_fen": 0,
                    "paid_fen": move.paid,
                    "payments": move.count,
                    "last_paid_on": move.after,
                }
                | dict.fromkeys(transfer, 0)
                | ({"rec_div_code": None} if rollup else {})
            )
            out[rk] = _settled(move, None, move.after)
            continue
        payments = row.payments + move.count
        paid = row.paid_fen + move.paid
        if payments < 0:
            raise Drift(f"a {table.name} row would hold {payments} payments: {rk}")
        if (
            payments == 0
            and paid == 0
            and row.budget_fen == 0
            and row.plan_fen == 0
            and all(getattr(row, t) == 0 for t in transfer)
            and not exists(rk)
        ):
            deletes.append(row.id)
            out[rk] = _settled(move, row.last_paid_on, None)
            continue
        last, unknown = _new_last(row.last_paid_on, move)
        if unknown:
            last = exact_last(rk)
        updates.append({"i": row.id, "p": paid, "n": payments, "l": last})
        out[rk] = _settled(move, row.last_paid_on, last)
    if updates:
        conn.execute(
            table.update()
            .where(table.c.id == bindparam("i"))
            .values(paid_fen=bindparam("p"), payments=bindparam("n"), last_paid_on=bindparam("l")),
            updates,
        )
    for part in _in_batches(deletes):
        conn.execute(table.delete().where(table.c.id.in_(part)))
    if inserts:
        conn.execute(table.insert(), inserts)
    return out


def _settled(move: _Move, before: Any, after: Any) -> _Move:
    """The move as the level above sees it: this row's latest date before and after."""
    up = _Move()
    up.paid, up.count, up.before, up.after = move.paid, move.count, before, after
    return up


def _move_scopes(conn: Connection, rollups: dict[tuple[Any, ...], _Move]) -> dict[tuple[Any, ...], _Move]:
    """Apply the rollups' moves to every scope above their region (payments cross no border)."""
    divs = sorted({rk[1] for rk in rollups})
    ancestors: dict[str, list[str]] = {}
    for part in _in_batches(divs):
        for anc, desc in conn.execute(
            select(RegionClosure.ancestor, RegionClosure.descendant).where(RegionClosure.descendant.in_(part))
        ):
            ancestors.setdefault(desc, []).append(anc)
    moves: dict[tuple[Any, ...], _Move] = {}
    for (fy, div, fund, dim, key), move in rollups.items():
        if dim not in SCOPE_DIMS:
            continue
        for scope in ancestors.get(div, []):
            _gather(moves, (fy, scope, fund, dim, key), move)
    s = ScopeRollup
    stored: dict[tuple[Any, ...], Any] = {}
    for fy in sorted({k[0] for k in moves}):
        scopes = sorted({k[1] for k in moves if k[0] == fy})
        for part in _in_batches(scopes):
            query = select(
                s.id,
                s.fiscal_year,
                s.scope_code,
                s.fund_type_code,
                s.dim,
                s.dim_key,
                s.budget_fen,
                s.transfer_in_fen,
                s.transfer_out_fen,
                s.paid_fen,
                s.plan_fen,
                s.payments,
                s.last_paid_on,
            ).where(s.fiscal_year == fy, s.scope_code.in_(part), s.dim.in_(list(SCOPE_DIMS)))
            for row in conn.execute(query):
                stored[tuple(row[1:6])] = row
    inside = aliased(RegionClosure)

    def rollups_of(sk: tuple[Any, ...], *, own: bool) -> ColumnElement[bool]:
        """The rollup rows under a scope row: its regions' own (``own``), or also transfers into them."""
        fy, scope, fund, dim, key = sk
        below = select(inside.descendant).where(inside.ancestor == scope)
        region = Rollup.mof_div_code.in_(below)
        return and_(
            Rollup.fiscal_year == fy,
            Rollup.dim == dim,
            Rollup.fund_type_code == fund,
            Rollup.dim_key.is_not_distinct_from(key),
            region if own else or_(region, Rollup.rec_div_code.in_(below)),
        )

    def exists(sk: tuple[Any, ...]) -> bool:
        query = select(literal(1)).where(rollups_of(sk, own=False)).limit(1)
        return conn.execute(query).first() is not None

    def exact_last(sk: tuple[Any, ...]) -> Any:
        return conn.execute(select(func.max(Rollup.last_paid_on)).where(rollups_of(sk, own=True))).scalar()

    return _apply_moves(conn, ScopeRollup.__table__, moves, stored, exists, exact_last, rollup=False)  # type: ignore[arg-type]
