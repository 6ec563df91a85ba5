"""Treasury payments (国库集中支付): filtered, keyword-searched, keyset-paginated; one payment in full.

Keyword search (semantics.md, "Search") looks for the keyword as a substring of a payment's purpose, payee,
project, unit and indicator document number, all held in ``payment_text.doc``. Keywords of 3 or more
characters go through the trigram index (FTS5 on SQLite, pg_trgm on PostgreSQL), which narrows the
candidates; shorter ones have no trigram, so each payment that passes the other filters is checked in
the order of the listing until a page is full. Both paths end with the same exact substring test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    String,
    any_,
    bindparam,
    func,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, aliased

from api.analysis.breakdown import payments_query, run_together, subtree_codes
from api.analysis.dimensions import Dim, Filter, parse_filter
from api.errors import BadParameter, NotFound
from api.pagination import Listed, count_rows, decode_cursor, encode_cursor
from connectors.ingest.convert import BadValue, format_amount, parse_amount
from schema.derived import PaymentText, ScopeRollup, payment_fts
from schema.models import Agency, BgtAdj, BgtInfo, MofDiv, PayDetail, PayVoucher, Project
from schema.relations import project_of, unit_of
from security.masking import is_person, mask_account, mask_id, mask_name
from security.scope import Scope

TRIGRAM = 3  # keywords at least this long can use the trigram index
SORTS = {
    "pay_cert_id": PayVoucher.pay_cert_id,
    "vou_date": PayVoucher.vou_date,
    "pay_amt": PayVoucher.pay_amt_fen,
}


# what a row shows (_row) of a payment: an export reads only these
ROW_COLUMNS: tuple[Any, ...] = (
    PayVoucher.pay_cert_id,
    PayVoucher.pay_cert_no,
    PayVoucher.fiscal_year,
    PayVoucher.mof_div_code,
    PayVoucher.agency_code,
    PayVoucher.pro_code,
    PayVoucher.bgt_id,
    PayVoucher.vou_date,
    PayVoucher.xpay_date,
    PayVoucher.pay_amt_fen,
    PayVoucher.use_des,
    PayVoucher.payee_key,
    PayVoucher.payee_acct_name,
    PayVoucher.payee_acct_no,
    PayVoucher.payee_acct_bank_name,
    PayVoucher.payee_type,
    PayVoucher.unifsoc_cred_code,
    PayVoucher.iden_no,
    PayVoucher.fund_type_code,
    PayVoucher.set_mode_code,
    PayVoucher.pay_type_code,
    PayVoucher.exp_func_code,
    PayVoucher.gov_bgt_eco_code,
    PayVoucher.dep_bgt_eco_code,
    PayVoucher.contract_no,
)


class PayeeInfo(BaseModel):
    payee_id: str = Field(description="resolved payee; /v1/payees/{payee_id} shows all it received")
    name: str = Field(description="masked (张*) when the payee is a person, unless cleared")
    account_no: str | None
    bank_name: str | None
    payee_type: str | None
    unifsoc_cred_code: str | None
    iden_no: str | None = Field(description="masked (410***********1234) unless cleared")
    is_person: bool


class PaymentRow(Listed):
    pay_cert_id: str
    pay_cert_no: str
    fiscal_year: int
    region: str
    region_name: str | None
    agency_code: str
    agency_name: str | None
    pro_code: str | None
    pro_name: str | None
    bgt_id: str | None
    vou_date: date
    xpay_date: date | None
    amount: str
    use_des: str = Field(description="用途")
    payee: PayeeInfo
    fund_type: str
    set_mode: str | None
    pay_type: str | None
    exp_func_code: str | None
    gov_eco_code: str | None
    dep_eco_code: str | None
    contract_no: str | None


class PaymentPage(BaseModel):
    rows: list[PaymentRow]
    next_cursor: str | None


class PaymentSearch(BaseModel):
    """The filters of ``/v1/payments`` (all optional, combined with AND)."""

    q: str | None = None
    year: int | None = None
    region: str | None = None
    own_level: bool = False
    filters: dict[Dim, str] = {}
    payee_type: str | None = None
    set_mode: str | None = None
    min_amount: str | None = None
    max_amount: str | None = None
    date_from: date | None = None
    date_to: date | None = None


def search_root(session: Session, scope: Scope, region: str | None, own_level: bool) -> str | None:
    """The region a search is limited to: one the caller may see (else 404); none for the whole dataset."""
    from api.analysis.service import resolve_scope

    root = resolve_scope(session, scope, region)[0] if region or own_level or scope.region else None
    if own_level and root is None:
        raise BadParameter("own_level", "needs a region: the whole dataset has several top regions")
    return root


def count_payments_many(session: Session, scope: Scope, searches: Sequence[PaymentSearch]) -> list[int]:
    """How many payments each search finds (GraphQL's ``totalCount``): one ``UNION ALL`` of counts for
    searches without a keyword, each keyword search alone."""
    counts = [0] * len(searches)
    plain: list[int] = []
    for i, s in enumerate(searches):
        if s.q is None:
            plain.append(i)
        else:
            query = search_query(session, scope, s)[0].with_only_columns(PayVoucher.pay_cert_id)
            counts[i] = count_rows(session, query)
    queries = [
        select(func.count()).select_from(
            search_query(session, scope, searches[i])[0].with_only_columns(PayVoucher.pay_cert_id).subquery()
        )
        for i in plain
    ]
    for i, rows in zip(plain, run_together(session, queries), strict=True):
        counts[i] = int(rows[0][0])
    return counts


def _fen(parameter: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_amount(value.strip())
    except BadValue as exc:
        raise BadParameter(parameter, str(exc)) from None


def check_keyword(q: str | None) -> str | None:
    if q is None:
        return None
    if not q.strip():
        raise BadParameter("q", "an empty keyword matches everything; leave q out instead")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in q):
        raise BadParameter("q", "a keyword may not hold control characters or line breaks")
    return q


def _exact(session: Session, q: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return PaymentText.doc.like(f"%{escaped}%", escape="\\")
    return func.instr(PaymentText.doc, q) > 0


COMMON = 5_000  # a keyword in at least this many documents is common


def _common(session: Session, exact: ColumnElement[bool], q: str) -> bool:
    """A short keyword has no trigram and is treated as common; a longer one is counted through the
    trigram index, stopping at ``COMMON``."""
    if len(q) < TRIGRAM:
        return True
    probe = select(PaymentText.id).where(exact).limit(COMMON).subquery()
    return int(session.execute(select(func.count()).select_from(probe)).scalar_one()) >= COMMON


def _pg_trigram(q: str) -> bool:
    """Whether pg_trgm can narrow a search for ``q``: it takes trigrams from runs of letters and digits
    only (CJK characters count), so ``石**`` (a masked name) or ``6〕9`` would have the index hand back
    nearly every document."""
    run = 0
    for ch in q:
        run = run + 1 if ch.isalnum() else 0
        if run >= TRIGRAM:
            return True
    return False


def _first_document(session: Session, regions: list[str]) -> int | None:
    """PostgreSQL: the first document in match order of the regions ``regions`` (one lookup in
    ``ix_payment_text_region`` per region), None when they have none."""
    first = text(
        "SELECT min((SELECT min(d.id) FROM payment_text AS d WHERE d.mof_div_code = code)) "
        "FROM unnest(CAST(:codes AS text[])) AS code"
    ).bindparams(codes=regions)
    value = session.execute(first).scalar()
    return None if value is None else int(value)


def with_keyword(
    session: Session, query: Select[Any], q: str, regions: list[str] | None = None
) -> tuple[Select[Any], Any]:
    """``query`` narrowed to payments whose document holds ``q``, and the column of match order.

    On SQLite a keyword of 3+ characters is looked up in the FTS5 trigram index, which hands back
    documents in rowid order, so a page in match order stops after its last row however common the
    keyword. On PostgreSQL the pg_trgm index serves the LIKE, and a page in match order is found window
    by window (see _by_windows). A shorter keyword has no trigram (on PostgreSQL, neither has one without
    three letters or digits in a row, see _pg_trigram): documents are read in order and tested until the
    page is full. Every path ends with the exact substring test. ``regions`` (the scope's
    subtree, when the search names one) is tested on the document's own region as well, before the
    payment is read."""
    t = PaymentText
    exact = _exact(session, q)
    query = query.join(t, t.pay_cert_id == PayVoucher.pay_cert_id).where(exact)
    if session.get_bind().dialect.name == "postgresql":
        if regions is not None:
            # documents before the scope's first are never read: a city's may begin deep in the order
            first = _first_document(session, regions)
            query = query.where(t.mof_div_code.in_(regions), t.id >= (first if first is not None else 0))
            query = query.execution_options(first_document=first if first is not None else 0)
        if not _pg_trigram(q):
            session.execute(text("SET LOCAL enable_bitmapscan = off"))  # no index to collect with
        else:
            query = query.execution_options(trigram_keyword=q)
    if session.get_bind().dialect.name == "sqlite" and len(q) >= TRIGRAM:
        phrase = '"' + q.replace('"', '""') + '"'
        query = query.join(payment_fts, payment_fts.c.rowid == t.id).where(
            text("payment_fts MATCH :phrase").bindparams(phrase=phrase)
        )
        return query, payment_fts.c.rowid
    return query, t.id


def search_query(session: Session, scope: Scope, s: PaymentSearch) -> tuple[Select[Any], Any, bool]:
    """The payments a search finds, the column of keyword match order (None without a keyword), and
    whether the filters leave few payments (then a page is best sorted from them, see list_payments)."""
    filters: tuple[Filter, ...] = tuple(parse_filter(d, v) for d, v in s.filters.items())
    regions = subtree_codes(session, s.region) if s.region and not s.own_level else None
    q = check_keyword(s.q)
    narrow = _narrow(session, s)
    only_regions = None  # a small subtree whose documents are read by their own region
    if q is not None and narrow and not (NARROWING & set(s.filters)):
        only_regions = [s.region] if s.region and s.own_level else regions
    merged = _merged(session, only_regions)
    # merged: the documents' own region stands for the payment's (the same column, copied), and the
    # planner, not knowing that, would count the subtree's share twice and think a page the whole result
    root = None if merged else s.region
    query, _ = payments_query(scope, s.year, root, s.own_level, filters, regions=regions)
    p = PayVoucher
    if s.payee_type:
        query = query.where(p.payee_type == s.payee_type)
    if s.set_mode:
        query = query.where(p.set_mode_code == s.set_mode)
    low, high = _fen("min_amount", s.min_amount), _fen("max_amount", s.max_amount)
    if low is not None:
        query = query.where(p.pay_amt_fen >= low)
    if high is not None:
        query = query.where(p.pay_amt_fen <= high)
    if low is not None and high is not None and low > high:
        raise BadParameter("min_amount", "is greater than max_amount")
    if s.date_from:
        query = query.where(p.vou_date >= s.date_from)
    if s.date_to:
        query = query.where(p.vou_date <= s.date_to)
    if s.date_from and s.date_to and s.date_from > s.date_to:
        raise BadParameter("date_from", "is after date_to")
    if q is None:
        return query, None, narrow
    if narrow:
        return (*_narrow_keyword(session, query, q, only_regions), narrow)
    if s.region and s.own_level:
        regions = [s.region]
    return (*with_keyword(session, query, q, regions), narrow)


NARROW = 50_000  # a search whose scope holds fewer payments reads them first, then their documents
NARROWING = frozenset({Dim.department, Dim.agency, Dim.project, Dim.indicator, Dim.payee})


def _narrow(session: Session, s: PaymentSearch) -> bool:
    """Whether the filters leave few payments: a unit, project, indicator or payee, or a small region.
    (Counted from the scope rollups, which know every region's payments per year.)"""
    if NARROWING & set(s.filters):
        return True
    if s.region is None:
        return False
    r = ScopeRollup
    count = select(func.coalesce(func.sum(r.payments), 0)).where(r.dim == "total", r.scope_code == s.region)
    if s.year is not None:
        count = count.where(r.fiscal_year == s.year)
    return int(session.execute(count).scalar_one()) < NARROW


MERGED_REGIONS = 64  # a subtree of at most this many regions is read region by region, merged in match order


def _merged(session: Session, regions: list[str] | None) -> bool:
    """PostgreSQL: whether a small scope's documents are read region by region, merged in match order."""
    return (
        session.get_bind().dialect.name == "postgresql"
        and regions is not None
        and len(regions) <= MERGED_REGIONS
    )


def _narrow_keyword(
    session: Session, query: Select[Any], q: str, regions: list[str] | None
) -> tuple[Select[Any], Any]:
    """Match order over a small set of payments, which is read first and its documents then tested.

    SQLite: the filtered payments form a subquery fenced with OFFSET 0, so the planner cannot start from
    the documents. PostgreSQL: when the set is a region subtree, the documents are read by their own
    region (one index range per region, no lookup per payment), each region's in match order and the
    regions merged, so that a page in match order stops at its last row; otherwise (a unit, a project…)
    the few payment ids are fetched first and handed back as one array parameter."""
    t = PaymentText
    p = PayVoucher
    if session.get_bind().dialect.name == "postgresql":
        if regions is not None and _merged(session, regions):
            exact = _exact(session, q)
            each = [
                select(t.id, t.pay_cert_id).where(t.mof_div_code == r, exact).order_by(t.id) for r in regions
            ]
            documents = union_all(*each).subquery("documents")
            narrowed = query.join(documents, documents.c.pay_cert_id == p.pay_cert_id)
            return narrowed.execution_options(merged_regions=True), documents.c.id
        if regions is not None:
            narrowed = query.join(t, t.pay_cert_id == p.pay_cert_id).where(t.mof_div_code.in_(regions))
        else:
            ids = list(session.execute(query.with_only_columns(p.pay_cert_id)).scalars())
            chosen = t.pay_cert_id == any_(bindparam("scoped_ids", ids, type_=ARRAY(String)))
            narrowed = select(p).join(t, t.pay_cert_id == p.pay_cert_id).where(chosen)
    else:
        fenced = query.with_only_columns(p.pay_cert_id).offset(0).subquery("scoped")
        narrowed = select(p).join(fenced, fenced.c.pay_cert_id == p.pay_cert_id)
        narrowed = narrowed.join(t, t.pay_cert_id == p.pay_cert_id)
    return narrowed.where(_exact(session, q)), t.id


def list_payments(
    session: Session, scope: Scope, search: PaymentSearch, *, sort: str | None, cursor: str | None, limit: int
) -> PaymentPage:
    """A page of payments. With a keyword and no ``sort`` they come in match order (the keyword index's
    own, stable) so that a page costs the same however many payments match; otherwise by ``sort``."""
    return list_payments_many(session, scope, [search], sort=sort, cursor=cursor, limit=limit)[0]


@dataclass(frozen=True, slots=True)
class _PagePlan:
    query: Select[Any]  # id, then the sort key columns; ordered and limited
    keys: list[Any]
    listing: str
    field: str
    descending: bool
    mode: str  # "batch" (may share a UNION), "alone", "windows" or "walk" (see list_payments_many)
    unordered: Select[Any]  # the query before its order and limit (the windows path pages it itself)
    after: Any  # the cursor's first key, or None


def list_payments_many(
    session: Session,
    scope: Scope,
    searches: Sequence[PaymentSearch],
    *,
    sort: str | None,
    cursor: str | None,
    limit: int,
) -> list[PaymentPage]:
    """A page of each search, in the same order and size: the pages of many parents (a GraphQL list of
    units, each with its latest payments) go to the database as one ``UNION ALL``, and their rows are
    then read in one query, whatever the number of searches."""
    # (API transactions run without JIT, api.deps.get_session: compiling a page's plan took longer than
    # running it, 20-30 ms of a county's 1-2 character search at province scale)
    plans = [_page_plan(session, scope, s, sort, cursor, limit) for s in searches]
    found: list[list[Any]] = [[] for _ in plans]
    batches: dict[str, list[int]] = {}
    for i, plan in enumerate(plans):
        if plan.mode == "windows":
            found[i] = _by_windows(session, plan.unordered, plan.keys[0], plan.after, limit + 1)
        elif plan.mode == "walk":
            found[i] = _walk_first(session, plan.query)
        elif plan.mode == "alone":  # keyword terms bind the same parameter names: one at a time
            found[i] = list(session.execute(plan.query).all())
        else:
            batches.setdefault(plan.listing, []).append(i)
    for members in batches.values():
        for i, rows in zip(members, run_together(session, [plans[i].query for i in members]), strict=True):
            found[i] = sorted(rows, key=lambda r: tuple(r[1:]), reverse=plans[i].descending)
    if session.get_bind().dialect.name == "postgresql" and any(s.q is not None for s in searches):
        # a keyword's plan may have turned bitmap scans off (SET LOCAL): the rest of the transaction,
        # a GraphQL request's other fields included, plans with the default again
        session.execute(text("SET LOCAL enable_bitmapscan = on"))
    ids = [r[0] for page in found for r in page[:limit]]
    by_id = {r.pay_cert_id: r for r in payment_rows(session, ids, scope.pii)}
    pages = []
    for plan, page in zip(plans, found, strict=True):
        listed: list[PaymentRow] = []
        for r in page[:limit]:
            shown = by_id[r[0]].model_copy()  # a payment can be on several parents' pages
            shown.at(encode_cursor(plan.listing, [str(k) if plan.field == "vou_date" else k for k in r[1:]]))
            listed.append(shown)
        more = len(page) > limit
        pages.append(PaymentPage(rows=listed, next_cursor=listed[-1].cursor if more else None))
    return pages


def _page_plan(
    session: Session, scope: Scope, search: PaymentSearch, sort: str | None, cursor: str | None, limit: int
) -> _PagePlan:
    query, match_order, narrow = search_query(session, scope, search)
    keys, descending, field, listing = _order(sort, match_order)
    query = query.with_only_columns(
        PayVoucher.pay_cert_id.label("id"), *(k.label(f"k{i}") for i, k in enumerate(keys))
    )
    if field == "match" and query.get_execution_options().get("merged_regions"):
        # each region's documents in match order from its index, merged: the page stops at its last row
        # (a bitmap scan, the planner's guess, reads and sorts every document of the subtree first)
        session.execute(text("SET LOCAL enable_bitmapscan = off"))
    elif narrow and not _unit_by_date(search, field):
        # Few payments: take them first and sort them, rather than walk an index in the listing's
        # order and skip everything outside the scope (the planners' guess when a scope is a subtree).
        fenced = query.offset(0).subquery("narrowed")
        query = select(fenced)
        keys = [fenced.c[f"k{i}"] for i in range(len(keys))]
    after = decode_cursor(listing, cursor, len(keys))
    if after is not None:
        numeric = field in ("pay_amt", "match")
        if not isinstance(after[0], int if numeric else str) or not isinstance(
            after[-1], int if field == "match" else str
        ):
            raise BadParameter("cursor", "not a cursor of this listing")
        if field == "vou_date":
            after[0] = _cursor_date(after[0])
        mark = tuple_(*keys) if len(keys) > 1 else keys[0]
        value = tuple_(*after) if len(keys) > 1 else after[0]
        query = query.where(mark < value if descending else mark > value)
    order = [k.desc() for k in keys] if descending else keys
    if not narrow and field == "pay_cert_id" and _walks_ids(session, scope, search):
        # A large scope listed by id: walk the id index and stop at the page's end. With full statistics
        # SQLite's planner read the scope through a region index and sorted it (5 million payments, 8 s,
        # for the first page of a province).
        query = query.with_hint(PayVoucher, f"INDEXED BY {ID_INDEX}", "sqlite")
    page_query = query.order_by(*order).limit(limit + 1)
    keyword = query.get_execution_options().get("trigram_keyword")
    if keyword is not None and field == "match":
        mode = "windows"
    elif keyword is not None and _common(session, _exact(session, keyword), keyword):
        mode = "walk"
    else:
        mode = "alone" if search.q is not None else "batch"
    first = after[0] if after is not None else None
    return _PagePlan(page_query, keys, listing, field, descending, mode, query, first)


def _unit_by_date(search: PaymentSearch, field: str) -> bool:
    """A unit's payments by date (its latest: a GraphQL unit's payments field): ``ix_pay_voucher_unit_date``
    hands them over in order, so a page is a walk of a few entries, where taking them first would read
    and sort every payment of a large unit's year."""
    return field == "vou_date" and search.q is None and set(search.filters) == {Dim.agency}


ID_INDEX = "sqlite_autoindex_pay_voucher_1"  # SQLite's index of pay_voucher's primary key


def _walks_ids(session: Session, scope: Scope, search: PaymentSearch) -> bool:
    """SQLite: whether a page listed by id is best read by walking the id index. Only for a search that
    is its scope and nothing else, over a large scope (not ``narrow``, counted for ``search.region``): a
    filter or a small scope could leave few matches far apart, and the walk would read the table to find
    them, where the planner's own plan reads only them."""
    selective = (
        search.filters,
        search.payee_type,
        search.set_mode,
        search.min_amount,
        search.max_amount,
        search.date_from,
        search.date_to,
    )
    return (
        search.q is None
        and not any(selective)
        and (search.region is not None or scope.region is None)
        and session.get_bind().dialect.name == "sqlite"
        and _has_index(session.get_bind(), ID_INDEX)
    )


_INDEXES: dict[tuple[str, str], bool] = {}


def _has_index(bind: Any, name: str) -> bool:
    """Whether the SQLite database holds the index ``name`` (asked once per database file)."""
    key = (str(bind.url), name)
    if key not in _INDEXES:
        with bind.connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
            ).first()
        _INDEXES[key] = found is not None
    return _INDEXES[key]


def _order(sort: str | None, match_order: Any) -> tuple[list[Any], bool, str, str]:
    """The key columns of a listing's order, whether it descends, the sort field and the listing's name
    (which its cursors carry): with a keyword and no ``sort``, match order; else ``sort``, ties by id."""
    if sort is None and match_order is not None:
        return [match_order], False, "match", "payments:match"
    sort = sort or "pay_cert_id"
    descending = sort.startswith("-")
    field = sort.removeprefix("-")
    if field not in SORTS:
        raise BadParameter("sort", f"one of {', '.join(SORTS)}, optionally prefixed with '-'")
    column = SORTS[field]
    keys = [column, PayVoucher.pay_cert_id] if field != "pay_cert_id" else [PayVoucher.pay_cert_id]
    return keys, descending, field, f"payments:{sort}"


def export_query(session: Session, scope: Scope, search: PaymentSearch, sort: str | None) -> Select[Any]:
    """Every payment a search finds, in the order of its listing, each with the columns and names of a
    row (:func:`payment_values`): the JSON pages' own query (:func:`search_query`, the same filters, scope
    and keyword test) without pages, for an export to stream. Bad parameters raise here, before any
    row is read."""
    query, match_order, _ = search_query(session, scope, search)
    keys, descending, _, _ = _order(sort, match_order)
    query = _with_names(query.with_only_columns(*ROW_COLUMNS))
    return query.order_by(*(k.desc() for k in keys) if descending else keys)


WINDOW = 20_000  # documents a keyword's page reads in match order before it asks the trigram index
PROBE = 4  # times the rest of a page that is asked of the trigram index, for a closer bound


def _by_windows(session: Session, query: Select[Any], key: Any, after: int | None, wanted: int) -> list[Any]:
    """The first ``wanted`` payments in match order after ``after`` of a 3+ character keyword on
    PostgreSQL, exactly, in at most three queries. pg_trgm cannot hand matches back in order, and
    collecting every match of a common keyword to sort it costs seconds, so:

    1. The next ``WINDOW`` documents in match order are read in order and tested. A keyword in more than
       a few documents in a thousand fills its page here.
    2. Otherwise the trigram index is asked for ``PROBE`` times the ``rest`` of the page beyond the
       window, in no order: a bitmap scan reads the table in its physical order and stops when it has
       them, so this is cheap however many documents match. The ``rest``-th smallest of their keys,
       ``bound``, shows that at least ``rest`` matches lie in (window, bound], so the first ``rest``
       beyond the window all do. (Asking for more than ``rest`` brings ``bound`` closer to the page's
       true end where physical order strays a little from match order.)
    3. Those are read in order from that range alone: a short range (up to ``WINDOW`` ids) like the
       window; in a longer one the trigram bitmap is ANDed with the BRIN index on ``payment_text.id``,
       so only the range's table pages that hold candidates are read (the planner, expecting the
       matches spread evenly, would read the whole range in order).

    The documents are written in match order, so physical order follows it closely and ``bound`` lies
    near the page's true end; that is why this is fast, never why it is right. A table whose physical
    order has drifted (documents rewritten by later loads) only widens the range of step 3."""
    if after is None:
        first = query.get_execution_options().get("first_document")
        if first is None:
            first = session.execute(select(func.min(PaymentText.id))).scalar_one()
        if first is None:
            return []
        after = int(first) - 1
    end = min(after + WINDOW, 2**62)
    found = list(session.execute(query.where(key <= end).order_by(key).limit(wanted)).all())
    rest = wanted - len(found)
    if rest == 0:
        return found
    beyond = query.where(key > end)
    probe = _from_trigram_bitmap(session, beyond.limit(PROBE * rest))
    keys = sorted(row[1] for row in probe)
    if len(probe) < PROBE * rest:  # every match beyond the window
        return found + sorted(probe, key=lambda row: row[1])[:rest]
    bound = keys[rest - 1]
    page = beyond.where(key <= bound).order_by(key).limit(rest)
    if bound - end <= WINDOW:  # a short range: read in order, as the window was
        return found + list(session.execute(page).all())
    # a long one, in which the planner would expect the matches spread evenly and read it in order
    return found + _from_trigram_bitmap(session, page)


def _from_trigram_bitmap(session: Session, query: Select[Any]) -> list[Any]:
    """Rows of ``query`` with the documents taken from a bitmap of the trigram index (ANDed with the
    BRIN index where the query names a range of ids): sequential and plain index scans disabled, and
    parallel workers, whose pages come back out of order. The savepoint, rolled back, undoes the
    settings."""
    savepoint = session.begin_nested()
    try:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_indexscan = off"))
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        return list(session.execute(query).all())
    finally:
        savepoint.rollback()


WALK_MS = 60  # how long a common keyword's page may walk the documents before the matches are collected


def _walk_first(session: Session, page_query: Select[Any]) -> list[Any]:
    """A page of a common keyword sorted by a column on PostgreSQL: walk in the listing's order for
    ``WALK_MS``; if the matches lie too far into it, give up and let the planner collect them through the
    trigram index. The savepoint undoes both settings. (Pages in match order go by _by_windows.)"""
    from api.deps import statement_timeout_ms

    try:
        with session.begin_nested():
            session.execute(text("SET LOCAL enable_bitmapscan = off"))
            session.execute(text(f"SET LOCAL statement_timeout = {WALK_MS}"))
            found = list(session.execute(page_query).all())
            session.execute(text(f"SET LOCAL statement_timeout = {statement_timeout_ms()}"))
            session.execute(text("SET LOCAL enable_bitmapscan = on"))
            return found
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "57014":  # query_canceled
            raise
    return list(session.execute(page_query).all())


def _cursor_date(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadParameter("cursor", "not a cursor of this listing") from None


def payment_rows(session: Session, ids: list[str], pii: bool) -> list[PaymentRow]:
    """Full rows of the payments ``ids``, in that order (one query for the whole page)."""
    if not ids:
        return []
    p = PayVoucher
    result = session.execute(_with_names(select(p)).where(p.pay_cert_id.in_(ids))).all()
    by_id = {r[0].pay_cert_id: r for r in result}
    return [_row(*by_id[i], pii=pii) for i in ids if i in by_id]


def _with_names(query: Select[Any]) -> Select[Any]:
    """``query`` over payments with the names a row shows: its region's, its unit's and its project's."""
    p = PayVoucher
    unit, project = aliased(Agency), aliased(Project)
    return (
        query.add_columns(MofDiv.mof_div_name, unit.agency_name, project.pro_name)
        .outerjoin(MofDiv, MofDiv.mof_div_code == p.mof_div_code)
        .outerjoin(unit, unit_of(p, unit))
        .outerjoin(project, project_of(p, project))
    )


# a row's fields with its payee's in their place, flattened: the order of :func:`_shown` and of an export's
# columns (``payee_id``, ``payee_name``, … where the JSON has ``payee``)
_ROW_FIELDS = tuple(PaymentRow.model_fields)
_PAYEE_FIELDS = tuple(PayeeInfo.model_fields)
_AT = _ROW_FIELDS.index("payee")
_AFTER = _AT + len(_PAYEE_FIELDS)


def payment_values(row: Any, *, pii: bool) -> tuple[Any, ...]:
    """A row of :func:`export_query` as the values of the listing's row in an export's column order (both
    come from :func:`_shown`: the same masking, the same formatting), without building the pydantic
    models, which only re-check the types the database gave."""
    return _shown(row, row.mof_div_name, row.agency_name, row.pro_name, pii=pii)


def _row(
    p: Any, region_name: str | None, agency_name: str | None, pro_name: str | None, *, pii: bool
) -> PaymentRow:
    """A payment as a row of the listing; ``p`` is a :class:`PayVoucher` or a row of ``ROW_COLUMNS``."""
    v = _shown(p, region_name, agency_name, pro_name, pii=pii)
    fields = dict(zip(_ROW_FIELDS[:_AT], v[:_AT], strict=True))
    fields.update(zip(_ROW_FIELDS[_AT + 1 :], v[_AFTER:], strict=True))
    return PaymentRow(**fields, payee=PayeeInfo(**dict(zip(_PAYEE_FIELDS, v[_AT:_AFTER], strict=True))))


def _shown(
    p: Any, region_name: str | None, agency_name: str | None, pro_name: str | None, *, pii: bool
) -> tuple[Any, ...]:
    """What a row shows of a payment and of its payee, in the order of ``PaymentRow`` with the payee's
    fields in its place: the one place that decides masking (a person is masked unless ``pii``) and
    formatting, for the JSON and for exports alike."""
    person = is_person(p.payee_type, p.iden_no)
    if person and not pii:
        name, account, iden = mask_name(p.payee_acct_name), mask_account(p.payee_acct_no), mask_id(p.iden_no)
    else:
        name, account, iden = p.payee_acct_name, p.payee_acct_no, p.iden_no
    return (
        p.pay_cert_id,
        p.pay_cert_no,
        p.fiscal_year,
        p.mof_div_code,
        region_name,
        p.agency_code,
        agency_name,
        p.pro_code,
        pro_name,
        p.bgt_id,
        p.vou_date,
        p.xpay_date,
        format_amount(p.pay_amt_fen),
        p.use_des,
        # the payee
        p.payee_key,
        name or "",
        account,
        p.payee_acct_bank_name,
        p.payee_type,
        p.unifsoc_cred_code,
        iden,
        person,
        # the rest of the payment
        p.fund_type_code,
        p.set_mode_code,
        p.pay_type_code,
        p.exp_func_code,
        p.gov_bgt_eco_code,
        p.dep_bgt_eco_code,
        p.contract_no,
    )


# --- one payment --------------------------------------------------------------------------------------


class DetailRow(BaseModel):
    pay_detail_id: str
    name: str = Field(description="the final recipient; masked when a person, unless cleared")
    account_no: str | None
    bank_name: str | None
    amount: str
    xpay_date: date | None
    iden_no: str | None
    unifsoc_cred_code: str | None
    payee_id: str
    is_person: bool
    town_code: str | None
    village_code: str | None
    pay_month: str | None
    subsidy_item: str | None
    tracking_id: str | None


class DetailPage(BaseModel):
    rows: list[DetailRow]
    next_cursor: str | None


class IndicatorRef(BaseModel):
    bgt_id: str
    region: str
    fiscal_year: int
    doc_no: str
    doc_title: str | None
    doc_date: date
    amount: str = Field(description="current amount: amount plus adjustments")
    agency_code: str | None
    pro_code: str | None
    spe_fund_code: str | None
    fund_type: str
    exp_func_code: str


class PaymentDetail(PaymentRow):
    indicator: IndicatorRef | None = Field(description="the indicator it was paid against; null: 无指标支付")
    details_count: int
    details_sum: str = Field(description="sum of the detail lines; should equal amount")
    details: DetailPage = Field(description="first page of the detail lines (支付明细)")


def get_payment(session: Session, scope: Scope, pay_cert_id: str, detail_limit: int = 100) -> PaymentDetail:
    _check_visible(session, scope, pay_cert_id)
    row = payment_rows(session, [pay_cert_id], scope.pii)[0]
    indicator = indicator_ref(session, scope, row.bgt_id) if row.bgt_id else None
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(PayDetail.pay_amt_fen), 0)).where(
            PayDetail.pay_cert_id == pay_cert_id, PayDetail.is_deleted.is_(False)
        )
    ).one()
    return PaymentDetail(
        **row.model_dump(),
        indicator=indicator,
        details_count=count,
        details_sum=format_amount(int(total)),
        details=payment_details(session, scope, pay_cert_id, cursor=None, limit=detail_limit, checked=True),
    )


def _check_visible(session: Session, scope: Scope, pay_cert_id: str) -> None:
    """A payment outside the caller's jurisdiction answers exactly like one that does not exist."""
    p = PayVoucher
    found = session.execute(
        select(p.pay_cert_id).where(
            p.pay_cert_id == pay_cert_id, p.is_deleted.is_(False), scope.regions(p.mof_div_code)
        )
    ).first()
    if found is None:
        raise NotFound(f"no payment {pay_cert_id!r}")


def indicator_ref(session: Session, scope: Scope, bgt_id: str) -> IndicatorRef | None:
    """The indicator a payment names, if the caller may see it (issued or received in its jurisdiction)."""
    b = BgtInfo
    adj = (
        select(func.coalesce(func.sum(BgtAdj.add_amount_fen), 0))
        .where(BgtAdj.bgt_id == b.bgt_id, BgtAdj.is_deleted.is_(False))
        .scalar_subquery()
    )
    r = session.execute(
        select(b, adj).where(b.bgt_id == bgt_id, b.is_deleted.is_(False), scope.indicators(b))
    ).first()
    if r is None:
        return None
    i: BgtInfo = r[0]
    return IndicatorRef(
        bgt_id=i.bgt_id,
        region=i.mof_div_code,
        fiscal_year=i.fiscal_year,
        doc_no=i.cor_bgt_doc_no,
        doc_title=i.bgt_doc_title,
        doc_date=i.doc_date,
        amount=format_amount(i.amount_fen + int(r[1])),
        agency_code=i.agency_code,
        pro_code=i.pro_code,
        spe_fund_code=i.spe_fund_code,
        fund_type=i.fund_type_code,
        exp_func_code=i.exp_func_code,
    )


def payment_details(
    session: Session, scope: Scope, pay_cert_id: str, *, cursor: str | None, limit: int, checked: bool = False
) -> DetailPage:
    if not checked:
        _check_visible(session, scope, pay_cert_id)
    d = PayDetail
    query = select(d).where(d.pay_cert_id == pay_cert_id, d.is_deleted.is_(False))
    after = decode_cursor("payment-details", cursor, 1, text=True)
    if after is not None:
        query = query.where(d.pay_detail_id > after[0])
    found = session.execute(query.order_by(d.pay_detail_id).limit(limit + 1)).scalars().all()
    rows = [_detail(x, scope.pii) for x in found[:limit]]
    more = len(found) > limit
    return DetailPage(
        rows=rows, next_cursor=encode_cursor("payment-details", [rows[-1].pay_detail_id]) if more else None
    )


def _detail(d: PayDetail, pii: bool) -> DetailRow:
    person = is_person(None, d.iden_no, d.per_name)
    hide = person and not pii
    name = d.per_name or d.corp_name or d.payee_acct_name
    return DetailRow(
        pay_detail_id=d.pay_detail_id,
        name=(mask_name(name) if hide else name) or "",
        account_no=mask_account(d.payee_acct_no) if hide else d.payee_acct_no,
        bank_name=d.payee_acct_bank_name,
        amount=format_amount(d.pay_amt_fen),
        xpay_date=d.xpay_date,
        iden_no=mask_id(d.iden_no) if hide else d.iden_no,
        unifsoc_cred_code=d.unifsoc_cred_code,
        payee_id=d.payee_key,
        is_person=person,
        town_code=d.town_code,
        village_code=d.village_code,
        pay_month=d.pay_month,
        subsidy_item=d.subsidy_item,
        tracking_id=d.tracking_id,
    )
