"""GraphQL types: the REST answers, navigable. Every figure comes from the same service functions as REST;
these types only shape them and hand nested fields to the request's DataLoaders."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

import strawberry
from pydantic import BaseModel
from strawberry.types import Info

from api.analysis import service as analysis
from api.analysis.breakdown import Question
from api.analysis.dimensions import Dim, parse_filter
from api.analysis.measures import Measures as MeasuresModel
from api.analysis.service import Drill
from api.errors import BadParameter
from api.funds import service as funds
from api.graphql.context import Context, PaymentsAsk
from api.graphql.scalars import Money
from api.indicators import service as indicators
from api.pagination import MAX_LIMIT, Listed, page_of
from api.payees import service as payees
from api.payments import service as payments
from api.reference import service as reference
from api.regions import service as regions

T = TypeVar("T")
Ctx = Info[Context, None]
First = Annotated[int, strawberry.argument(description=f"Rows per page, 1 to {MAX_LIMIT}")]
After = Annotated[str | None, strawberry.argument(description="endCursor of the previous page")]
PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]{1,80}\Z")


def doc(model: type[BaseModel], field: str) -> str | None:
    """A field's description, from the REST model that holds it (one wording for both APIs)."""
    return model.model_fields[field].description


def limit(first: int) -> int:
    if not 1 <= first <= MAX_LIMIT:
        raise BadParameter("first", f"rows per page, 1 to {MAX_LIMIT}; got {first}")
    return first


def code(parameter: str, value: str) -> str:
    if not PRINTABLE.match(value):
        raise BadParameter(parameter, "1 to 80 printable characters")
    return value


# --- connections --------------------------------------------------------------------------------------


@strawberry.type(description="Relay page information")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total: strawberry.Private[int | Callable[[], Awaitable[int]]]

    @strawberry.field(description="Rows of the whole listing, over all pages")
    async def total_count(self) -> int:
        return self.total if isinstance(self.total, int) else await self.total()


L = TypeVar("L", bound=Listed)


def connection(
    rows: list[L], make: Callable[[L], T], next_cursor: str | None, total: int | Callable[[], Awaitable[int]]
) -> Connection[T]:
    edges = [Edge(cursor=r.cursor or "", node=make(r)) for r in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=next_cursor is not None,
            has_previous_page=False,  # pages go forward only (keyset); a cursor is always the end
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total=total,
    )


# --- measures and breakdowns --------------------------------------------------------------------------


@strawberry.type(description="The measures of semantics.md, exact, in yuan")
class Measures:
    budget: Money = strawberry.field(description=doc(MeasuresModel, "budget"))
    transfer_in: Money = strawberry.field(description=doc(MeasuresModel, "transfer_in"))
    transfer_out: Money = strawberry.field(description=doc(MeasuresModel, "transfer_out"))
    paid: Money = strawberry.field(description=doc(MeasuresModel, "paid"))
    plan: Money = strawberry.field(description=doc(MeasuresModel, "plan"))
    execution_rate: str | None = strawberry.field(description=doc(MeasuresModel, "execution_rate"))
    payments: int = strawberry.field(description=doc(MeasuresModel, "payments"))

    @staticmethod
    def of(m: MeasuresModel) -> Measures:
        return Measures(**m.model_dump())


Dimension = strawberry.enum(Dim, name="Dimension", description="A breakdown dimension of semantics.md")


@strawberry.input(description="Filters of a drill-down: the key of a row is the next click's filter")
class DrillFilter:
    fund_type: str | None = None
    department: str | None = strawberry.field(default=None, description="code, or region:code")
    agency: str | None = strawberry.field(default=None, description="code, or region:code")
    project: str | None = strawberry.field(default=None, description="code, or region:code")
    spe_fund: str | None = None
    mof_dep: str | None = strawberry.field(default=None, description="code, or region:code")
    exp_func: str | None = strawberry.field(default=None, description="3, 5 or 7 digits (类/款/项)")
    gov_eco: str | None = strawberry.field(default=None, description="3 or 5 digits")
    dep_eco: str | None = strawberry.field(default=None, description="3 or 5 digits")
    month: str | None = strawberry.field(default=None, description="1-12")
    indicator: str | None = None
    payee: str | None = None

    def dims(self) -> dict[Dim, str]:
        given = {d: getattr(self, d.value) for d in Dim if getattr(self, d.value, None) is not None}
        if Dim.fund_type in given and not re.fullmatch(r"[0-9]", given[Dim.fund_type]):
            raise BadParameter("fund_type", "1-4 the four budgets, 9 other")
        return {d: code(d.value, v) for d, v in given.items()}


def dims_of(f: DrillFilter | None) -> dict[Dim, str]:
    return f.dims() if f is not None else {}


@strawberry.type
class FilterValue:
    dimension: str
    value: str


@strawberry.type
class ScopeInfo:
    year: int
    region: str | None = strawberry.field(description=doc(analysis.ScopeInfo, "region"))
    region_name: str | None
    own_level: bool = strawberry.field(description=doc(analysis.ScopeInfo, "own_level"))
    filters: list[FilterValue]
    by: str | None
    level: int | None

    @staticmethod
    def of(s: analysis.ScopeInfo) -> ScopeInfo:
        return ScopeInfo(
            year=s.year,
            region=s.region,
            region_name=s.region_name,
            own_level=s.own_level,
            filters=[FilterValue(dimension=k, value=v) for k, v in s.filters.items()],
            by=s.by,
            level=s.level,
        )


@strawberry.type(description="A row of a breakdown")
class DrillRow:
    key: str = strawberry.field(description=doc(analysis.DrillRow, "key"))
    name: str | None
    own_level: bool = strawberry.field(description=doc(analysis.DrillRow, "own_level"))
    measures: Measures


@strawberry.type(description="One breakdown of a scope; rows plus unattributed equal the total")
class Drilldown:
    scope: ScopeInfo
    total: Measures
    unattributed: Measures = strawberry.field(description=doc(analysis.Drilldown, "unattributed"))
    rows: Connection[DrillRow]

    @staticmethod
    def of(d: analysis.Drilldown) -> Drilldown:
        return Drilldown(
            scope=ScopeInfo.of(d.scope),
            total=Measures.of(d.total),
            unattributed=Measures.of(d.unattributed),
            rows=connection(
                d.rows,
                lambda r: DrillRow(
                    key=r.key, name=r.name, own_level=r.own_level, measures=Measures.of(r.measures)
                ),
                d.next_cursor,
                d.row_count,
            ),
        )


@strawberry.type
class BudgetLine:
    fund_type: str | None = strawberry.field(description=doc(analysis.BudgetLine, "fund_type"))
    name: str
    measures: Measures
    time_progress: str | None = strawberry.field(description=doc(analysis.BudgetLine, "time_progress"))

    @staticmethod
    def of(b: analysis.BudgetLine) -> BudgetLine:
        return BudgetLine(
            fund_type=b.fund_type,
            name=b.name,
            measures=Measures.of(b.measures),
            time_progress=b.time_progress,
        )


@strawberry.type
class ExecutionLine:
    fund_type: str
    name: str
    side: str = strawberry.field(description=doc(analysis.ExecutionLine, "side"))
    budget: Money | None = strawberry.field(description=doc(analysis.ExecutionLine, "budget"))
    adjusted: Money | None = strawberry.field(description=doc(analysis.ExecutionLine, "adjusted"))
    executed: Money = strawberry.field(description=doc(analysis.ExecutionLine, "executed"))
    execution_rate: str | None = strawberry.field(description=doc(analysis.ExecutionLine, "execution_rate"))
    month: int | None = strawberry.field(description=doc(analysis.ExecutionLine, "month"))


@strawberry.type(description="One stream of a connector source (oversight sync): where its bookmark stands")
class SourceStream:
    stream: str
    table: str = strawberry.field(description="the feed table it lands in")
    status: str = strawberry.field(description="ok, failed or running")
    last_success_at: datetime | None = strawberry.field(description="UTC, end of the last successful sync")
    last_attempt_at: datetime | None = strawberry.field(description="UTC")
    rows: int = strawberry.field(description="records read by the last successful sync")
    rows_total: int = strawberry.field(description="records read by every sync so far")
    cursor: str | None = strawberry.field(
        description="the bookmark: the newest change stamp stored, or a drop folder's last batch"
    )
    source_cursor: str | None = strawberry.field(
        description="the newest change stamp the source reported at the last attempt"
    )
    lag_seconds: int | None = strawberry.field(
        description="how far the stored rows are behind the source's newest change"
    )
    last_error: str | None
    last_error_at: datetime | None = strawberry.field(description="UTC")


@strawberry.type(description="A source of data: its last load or sync run and, for a connector, its streams")
class Source:
    source: str
    last_run: int | None
    status: str = strawberry.field(description="of the last run: done, running, failed, interrupted")
    last_success_at: datetime | None = strawberry.field(description="UTC")
    data_as_of: datetime | None = strawberry.field(
        description="the batch's extracted_at, or when a sync read the source (UTC)"
    )
    lag_seconds: int | None = strawberry.field(description="how far behind now the data is")
    rows: int = strawberry.field(description="rows read by the last successful run")
    quarantined: int
    last_error: str | None = strawberry.field(
        description="of the last run or of a stream, whichever is newer"
    )
    streams: list[SourceStream]

    @staticmethod
    def of(s: reference.SourceStatus) -> Source:
        data = s.model_dump()
        data["streams"] = [SourceStream(**x) for x in data["streams"]]
        return Source(**data)


@strawberry.type(description="The four budgets of a scope: budget, transfers, paid, and 收支执行")
class Summary:
    scope: ScopeInfo
    data_as_of: date | None = strawberry.field(description=doc(analysis.Summary, "data_as_of"))
    budgets: list[BudgetLine]
    total: BudgetLine
    execution: list[ExecutionLine] = strawberry.field(description=doc(analysis.Summary, "execution"))
    sources: list[Source]

    @staticmethod
    def of(s: analysis.Summary) -> Summary:
        return Summary(
            scope=ScopeInfo.of(s.scope),
            data_as_of=s.data_as_of,
            budgets=[BudgetLine.of(b) for b in s.budgets],
            total=BudgetLine.of(s.total),
            execution=[ExecutionLine(**e.model_dump()) for e in s.execution],
            sources=[Source.of(x) for x in s.sources],
        )


# --- the navigation: region → departments → units → projects → indicators → payments → payee ---------


async def _totals(info: Ctx, year: int, root: str | None, dim: Dim | None, key: str | None) -> Measures:
    filters = (parse_filter(dim, key),) if dim is not None and key is not None else ()
    result = await info.context.loaders.answers.load(Question(year=year, root=root, filters=filters))
    return Measures.of(result.total.measures())


async def _drill(
    info: Ctx,
    year: int,
    root: str | None,
    by: Dim,
    filters: dict[Dim, str],
    sort: str,
    first: int,
    after: str | None,
    make: Callable[[analysis.DrillRow], T],
    own_level: bool = False,
) -> Connection[T]:
    """A nested list as a drill-down of the parent's scope (through the request's loader): its rows made
    into nodes by ``make``."""
    ask = Drill(year, root, own_level, by, None, tuple(sorted(filters.items())), sort, after, limit(first))
    d = await info.context.loaders.drills.load(ask)
    return connection(d.rows, make, d.next_cursor, d.row_count)


async def _indicators(
    info: Ctx,
    year: int,
    root: str | None,
    filters: dict[Dim, str],
    sort: str,
    first: int,
    after: str | None,
    own_level: bool = False,
) -> Connection[Indicator]:
    def make(r: analysis.DrillRow) -> Indicator:
        return Indicator.of_row(r, year, root)

    return await _drill(info, year, root, Dim.indicator, filters, sort, first, after, make, own_level)


async def _payments(
    info: Ctx, search: payments.PaymentSearch, sort: str | None, first: int, after: str | None
) -> Connection[Payment]:
    ctx = info.context
    as_json = search.model_dump_json()
    page = await ctx.loaders.payments.load(PaymentsAsk(as_json, sort, after, limit(first)))
    return connection(
        page.rows, Payment.of, page.next_cursor, lambda: ctx.loaders.payment_counts.load(as_json)
    )


Sort = Annotated[
    str,
    strawberry.argument(
        description="key, name, budget, transfer_in, transfer_out, paid, plan, payments or execution_rate;"
        " '-' first for descending"
    ),
]
PaymentSort = Annotated[
    str | None, strawberry.argument(description="pay_cert_id, vou_date or pay_amt; '-' first for descending")
]


@strawberry.type(description="A finance region (财政区划); figures are of its whole subtree in ``year``")
class Region:
    code: str
    name: str
    level: int
    parent_code: str | None
    year: int

    @staticmethod
    def of(r: regions.RegionRow, year: int) -> Region:
        return Region(code=r.code, name=r.name, level=r.level, parent_code=r.parent_code, year=year)

    @strawberry.field
    async def parent(self, info: Ctx) -> Region | None:
        if self.parent_code is None:
            return None
        row = await info.context.loaders.regions.load(self.parent_code)
        return Region.of(row, self.year) if row is not None else None

    @strawberry.field(description="The regions right below it")
    async def children(self, info: Ctx, first: First = 50, after: After = None) -> Connection[Region]:
        rows = await info.context.loaders.children.load(self.code)
        page, next_cursor = page_of(rows, "regions", lambda r: [r.code], after, limit(first))
        return connection(page, lambda r: Region.of(r, self.year), next_cursor, len(rows))

    @strawberry.field(description="The measures of its whole subtree")
    async def totals(self, info: Ctx, fund_type: str | None = None) -> Measures:
        if fund_type is not None and not re.fullmatch(r"[0-9]", fund_type):
            raise BadParameter("fund_type", "1-4 the four budgets, 9 other")
        return await _totals(info, self.year, self.code, Dim.fund_type if fund_type else None, fund_type)

    @strawberry.field(
        description="Its departments (主管部门): by default its own level's (本级), as "
        "/v1/drilldown?region=code&own_level=true&by=department; ownLevel: false adds the departments of "
        "every region below it"
    )
    async def departments(
        self, info: Ctx, sort: Sort = "-paid", own_level: bool = True, first: First = 50, after: After = None
    ) -> Connection[Department]:
        def make(r: analysis.DrillRow) -> Department:
            return Department.of(r, self.year, self.code)

        return await _drill(
            info, self.year, self.code, Dim.department, {}, sort, first, after, make, own_level
        )

    @strawberry.field(description="Any breakdown of its subtree, as /v1/drilldown?region=code")
    async def drilldown(
        self,
        info: Ctx,
        by: Dimension,  # type: ignore[valid-type]
        own_level: bool = False,
        level: int | None = None,
        filter: DrillFilter | None = None,
        sort: Sort = "key",
        first: First = 50,
        after: After = None,
    ) -> Drilldown:
        ask = Drill(
            self.year,
            self.code,
            own_level,
            Dim(by),
            level,
            tuple(sorted(dims_of(filter).items())),
            sort,
            after,
            limit(first),
        )
        return Drilldown.of(await info.context.loaders.drills.load(ask))


def _qualified(key: str) -> tuple[str, str]:
    region, _, local = key.partition(":")
    return region, local


@strawberry.type(description="主管部门: a department of a region, as a row of a drill-down")
class Department:
    key: str = strawberry.field(description="region:code, as a drill-down row key")
    name: str | None
    totals: Measures
    year: int
    scope_region: strawberry.Private[str | None]

    @staticmethod
    def of(r: analysis.DrillRow, year: int, root: str | None) -> Department:
        return Department(
            key=r.key, name=r.name, totals=Measures.of(r.measures), year=year, scope_region=root
        )

    @strawberry.field
    def region(self) -> str:
        return _qualified(self.key)[0]

    @strawberry.field
    def code(self) -> str:
        return _qualified(self.key)[1]

    @strawberry.field(description="Its budget units (预算单位)")
    async def agencies(
        self, info: Ctx, sort: Sort = "-paid", first: First = 50, after: After = None
    ) -> Connection[Agency]:
        def make(r: analysis.DrillRow) -> Agency:
            return Agency(
                key=r.key, name=r.name, year=self.year, scope_region=self.scope_region, known=r.measures
            )

        filters = {Dim.department: self.key}
        return await _drill(info, self.year, self.scope_region, Dim.agency, filters, sort, first, after, make)


@strawberry.type(description="预算单位: a budget unit")
class Agency:
    key: str = strawberry.field(description="region:code")
    name: str | None
    year: int
    scope_region: strawberry.Private[str | None]
    known: strawberry.Private[MeasuresModel | None] = None

    @strawberry.field
    def region(self) -> str:
        return _qualified(self.key)[0]

    @strawberry.field
    def code(self) -> str:
        return _qualified(self.key)[1]

    @strawberry.field(description="Its measures in the year")
    async def totals(self, info: Ctx) -> Measures:
        if self.known is not None:
            return Measures.of(self.known)
        return await _totals(info, self.year, self.scope_region, Dim.agency, self.key)

    async def _row(self, info: Ctx) -> Any:
        return await info.context.loaders.agencies.load(_qualified(self.key))

    @strawberry.field(description="主管部门 code")
    async def department_code(self, info: Ctx) -> str | None:
        row = await self._row(info)
        return row.department_code if row else None

    @strawberry.field
    async def department_name(self, info: Ctx) -> str | None:
        row = await self._row(info)
        return row.department_name if row else None

    @strawberry.field
    async def agency_type(self, info: Ctx) -> str | None:
        row = await self._row(info)
        return row.agency_type if row else None

    @strawberry.field(description="统一社会信用代码")
    async def unifsoc_cred_code(self, info: Ctx) -> str | None:
        row = await self._row(info)
        return row.unifsoc_cred_code if row else None

    @strawberry.field(description="Its projects (项目)")
    async def projects(
        self, info: Ctx, sort: Sort = "-paid", first: First = 50, after: After = None
    ) -> Connection[Project]:
        def make(r: analysis.DrillRow) -> Project:
            return Project(
                key=r.key, name=r.name, year=self.year, scope_region=self.scope_region, known=r.measures
            )

        filters = {Dim.agency: self.key}
        return await _drill(
            info, self.year, self.scope_region, Dim.project, filters, sort, first, after, make
        )

    @strawberry.field(description="Its indicators (预算指标)")
    async def indicators(
        self, info: Ctx, sort: Sort = "-paid", first: First = 50, after: After = None
    ) -> Connection[Indicator]:
        return await _indicators(
            info, self.year, self.scope_region, {Dim.agency: self.key}, sort, first, after
        )

    @strawberry.field(description="Its treasury payments in the year")
    async def payments(
        self, info: Ctx, sort: PaymentSort = "-vou_date", first: First = 20, after: After = None
    ) -> Connection[Payment]:
        search = payments.PaymentSearch(year=self.year, filters={Dim.agency: self.key})
        return await _payments(info, search, sort, first, after)


@strawberry.type(description="项目: a project of a budget unit")
class Project:
    key: str = strawberry.field(description="region:code")
    name: str | None
    year: int
    scope_region: strawberry.Private[str | None]
    known: strawberry.Private[MeasuresModel | None] = None

    @strawberry.field
    def region(self) -> str:
        return _qualified(self.key)[0]

    @strawberry.field
    def code(self) -> str:
        return _qualified(self.key)[1]

    @strawberry.field(description="Its measures in the year")
    async def totals(self, info: Ctx) -> Measures:
        if self.known is not None:
            return Measures.of(self.known)
        return await _totals(info, self.year, self.scope_region, Dim.project, self.key)

    @strawberry.field(description="Its indicators (预算指标)")
    async def indicators(
        self, info: Ctx, sort: Sort = "-paid", first: First = 50, after: After = None
    ) -> Connection[Indicator]:
        return await _indicators(
            info, self.year, self.scope_region, {Dim.project: self.key}, sort, first, after
        )

    @strawberry.field(description="Its treasury payments in the year")
    async def payments(
        self, info: Ctx, sort: PaymentSort = "-vou_date", first: First = 20, after: After = None
    ) -> Connection[Payment]:
        search = payments.PaymentSearch(year=self.year, filters={Dim.project: self.key})
        return await _payments(info, search, sort, first, after)


@strawberry.type
class Adjustment:
    adj_id: str
    adj_date: date
    amount: Money
    doc_no: str | None
    reason: str | None


@strawberry.type
class PlanMonth:
    month: int
    amount: Money


@strawberry.type(description="A budget indicator (预算指标) in full: 何时拨 (dates and lags) and how much")
class IndicatorRecord:
    bgt_id: str
    fiscal_year: int
    region: str
    region_name: str | None
    region_level: int | None
    kind: str = strawberry.field(description=doc(indicators.IndicatorNode, "kind"))
    doc_no: str = strawberry.field(description=doc(indicators.IndicatorNode, "doc_no"))
    doc_title: str | None
    doc_date: date
    sup_doc_no: str | None = strawberry.field(description=doc(indicators.IndicatorNode, "sup_doc_no"))
    rec_date: date | None = strawberry.field(description=doc(indicators.IndicatorNode, "rec_date"))
    source_type: str | None
    agency_code: str | None
    agency_name: str | None
    rec_div_code: str | None
    rec_div_name: str | None
    pro_code: str | None
    spe_fund_code: str | None
    fund_type: str
    exp_func_code: str
    amount: Money = strawberry.field(description=doc(indicators.IndicatorNode, "amount"))
    original_amount: Money
    paid: Money = strawberry.field(description=doc(indicators.IndicatorNode, "paid"))
    payments: int
    undistributed: Money = strawberry.field(description=doc(indicators.IndicatorNode, "undistributed"))
    lag_days: int | None = strawberry.field(description=doc(indicators.IndicatorNode, "lag_days"))
    receipt_lag_days: int | None = strawberry.field(
        description=doc(indicators.IndicatorNode, "receipt_lag_days")
    )
    parent_bgt_id: str | None
    children_count: int
    adjustments: list[Adjustment]
    plan: list[PlanMonth] = strawberry.field(description=doc(indicators.Indicator, "plan"))

    @staticmethod
    def of(i: indicators.Indicator) -> IndicatorRecord:
        data = i.model_dump(exclude={"children", "adjustments", "plan"})
        return IndicatorRecord(
            **data,
            adjustments=[Adjustment(**a.model_dump()) for a in i.adjustments],
            plan=[PlanMonth(**p.model_dump()) for p in i.plan],
        )


@strawberry.type(description="A node of an indicator's downstream tree")
class TraceNode:
    bgt_id: str
    region: str
    region_name: str | None
    region_level: int | None
    kind: str
    doc_no: str
    doc_date: date
    rec_date: date | None
    agency_code: str | None
    agency_name: str | None
    rec_div_code: str | None
    rec_div_name: str | None
    amount: Money
    paid: Money
    payments: int
    undistributed: Money = strawberry.field(description=doc(indicators.IndicatorNode, "undistributed"))
    lag_days: int | None = strawberry.field(description=doc(indicators.IndicatorNode, "lag_days"))
    receipt_lag_days: int | None
    children: list[TraceNode]

    @staticmethod
    def of(n: indicators.IndicatorNode) -> TraceNode:
        return TraceNode(
            bgt_id=n.bgt_id,
            region=n.region,
            region_name=n.region_name,
            region_level=n.region_level,
            kind=n.kind,
            doc_no=n.doc_no,
            doc_date=n.doc_date,
            rec_date=n.rec_date,
            agency_code=n.agency_code,
            agency_name=n.agency_name,
            rec_div_code=n.rec_div_code,
            rec_div_name=n.rec_div_name,
            amount=Money(n.amount),
            paid=Money(n.paid),
            payments=n.payments,
            undistributed=Money(n.undistributed),
            lag_days=n.lag_days,
            receipt_lag_days=n.receipt_lag_days,
            children=[TraceNode.of(c) for c in n.children],
        )


@strawberry.type
class TraceTotals:
    root_amount: Money
    assigned_leaves: Money = strawberry.field(description=doc(indicators.TraceTotals, "assigned_leaves"))
    undistributed: Money = strawberry.field(description=doc(indicators.TraceTotals, "undistributed"))
    paid: Money = strawberry.field(description=doc(indicators.TraceTotals, "paid"))
    nodes: int
    truncated: bool


@strawberry.type
class Downstream:
    tree: TraceNode = strawberry.field(description=doc(indicators.Trace, "downstream"))
    totals: TraceTotals


@strawberry.type
class UpstreamStep:
    bgt_id: str | None = strawberry.field(description=doc(indicators.UpstreamStep, "bgt_id"))
    region: str | None
    region_name: str | None
    region_level: int | None
    doc_no: str
    doc_date: date | None
    rec_date: date | None = strawberry.field(description=doc(indicators.UpstreamStep, "rec_date"))
    amount: Money | None


@strawberry.type(description="预算指标: an indicator, with its figures, its lineage and its payments")
class Indicator:
    bgt_id: str
    name: str | None = strawberry.field(description="its document title (or number) as a drill-down names it")
    year: int
    scope_region: strawberry.Private[str | None]
    known: strawberry.Private[MeasuresModel | None] = None

    @staticmethod
    def of_row(r: analysis.DrillRow, year: int, root: str | None) -> Indicator:
        return Indicator(bgt_id=r.key, name=r.name, year=year, scope_region=root, known=r.measures)

    @strawberry.field(description="Its measures (budget, paid, plan, payments) in the drill-down's scope")
    async def totals(self, info: Ctx) -> Measures:
        if self.known is not None:
            return Measures.of(self.known)
        return await _totals(info, self.year, self.scope_region, Dim.indicator, self.bgt_id)

    @strawberry.field(description="The indicator in full, as /v1/indicators/{bgt_id}")
    async def record(self, info: Ctx) -> IndicatorRecord | None:
        found = await info.context.loaders.indicators.load(self.bgt_id)
        return IndicatorRecord.of(found) if found is not None else None

    @strawberry.field(description=doc(indicators.Trace, "upstream"))
    async def upstream(self, info: Ctx) -> list[UpstreamStep]:
        t = await info.context.loaders.traces.load(self.bgt_id)
        return [UpstreamStep(**s.model_dump()) for s in t.upstream] if t is not None else []

    @strawberry.field(
        description="The tree of indicators continuing it, with lags and undistributed per node"
    )
    async def downstream(self, info: Ctx) -> Downstream | None:
        t = await info.context.loaders.traces.load(self.bgt_id)
        if t is None:
            return None
        return Downstream(tree=TraceNode.of(t.downstream), totals=TraceTotals(**t.totals.model_dump()))

    @strawberry.field(description="Payments against this indicator (怎么用)")
    async def payments(
        self, info: Ctx, sort: PaymentSort = "-vou_date", first: First = 20, after: After = None
    ) -> Connection[Payment]:
        search = payments.PaymentSearch(filters={Dim.indicator: self.bgt_id})
        return await _payments(info, search, sort, first, after)


@strawberry.type(
    description="收款人: a resolved payee; a person's name, ID and account are masked unless cleared"
)
class Payee:
    payee_id: str
    name: str
    is_person: bool
    payee_type: str | None
    unifsoc_cred_code: str | None
    account_no: str | None
    known: strawberry.Private[payees.PayeeRow | None] = None

    @staticmethod
    def of_row(r: payees.PayeeRow) -> Payee:
        return Payee(
            payee_id=r.payee_id,
            name=r.name,
            is_person=r.is_person,
            payee_type=r.payee_type,
            unifsoc_cred_code=r.unifsoc_cred_code,
            account_no=r.account_no,
            known=r,
        )

    @strawberry.field(description="What it received in the caller's jurisdiction, all years")
    async def received(self, info: Ctx) -> Received | None:
        row = self.known or await info.context.loaders.payees.load(self.payee_id)
        return Received.of(row) if row is not None else None

    @strawberry.field(description="Its treasury payments, every year")
    async def payments(
        self, info: Ctx, sort: PaymentSort = "-vou_date", first: First = 20, after: After = None
    ) -> Connection[Payment]:
        search = payments.PaymentSearch(filters={Dim.payee: self.payee_id})
        return await _payments(info, search, sort, first, after)

    @strawberry.field(description="What it received by year (二级 breakdown; one payee at a time)")
    async def by_year(self, info: Ctx) -> list[ReceivedLine]:
        d = await info.context.loaders.payee_details.load(self.payee_id)
        return [ReceivedLine(**x.model_dump()) for x in d.by_year] if d else []

    @strawberry.field(description="What it received by region")
    async def by_region(self, info: Ctx) -> list[ReceivedLine]:
        d = await info.context.loaders.payee_details.load(self.payee_id)
        return [ReceivedLine(**x.model_dump()) for x in d.by_region] if d else []

    @strawberry.field(description=doc(payees.PayeeDetail, "by_agency"))
    async def by_agency(self, info: Ctx) -> list[ReceivedLine]:
        d = await info.context.loaders.payee_details.load(self.payee_id)
        return [ReceivedLine(**x.model_dump()) for x in d.by_agency] if d else []


@strawberry.type
class Received:
    vouchers: int = strawberry.field(description=doc(payees.PayeeRow, "vouchers"))
    voucher_amount: Money
    details: int = strawberry.field(description=doc(payees.PayeeRow, "details"))
    detail_amount: Money
    first_date: date | None
    last_date: date | None

    @staticmethod
    def of(r: payees.PayeeRow) -> Received:
        return Received(
            vouchers=r.vouchers,
            voucher_amount=Money(r.voucher_amount),
            details=r.details,
            detail_amount=Money(r.detail_amount),
            first_date=r.first_date,
            last_date=r.last_date,
        )


@strawberry.type
class ReceivedLine:
    key: str
    name: str | None
    vouchers: int
    voucher_amount: Money
    details: int
    detail_amount: Money


@strawberry.type(description="A treasury payment (国库集中支付): 拨给谁、怎么用")
class Payment:
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
    amount: Money
    use_des: str = strawberry.field(description="用途")
    fund_type: str
    set_mode: str | None
    pay_type: str | None
    exp_func_code: str | None
    gov_eco_code: str | None
    dep_eco_code: str | None
    contract_no: str | None
    payee_info: strawberry.Private[payments.PayeeInfo]

    @staticmethod
    def of(p: payments.PaymentRow) -> Payment:
        return Payment(**p.model_dump(exclude={"payee"}), payee_info=p.payee)

    @strawberry.field(description="Who received it (masked when a person, unless cleared)")
    def payee(self) -> PaymentPayee:
        return PaymentPayee(**self.payee_info.model_dump())

    @strawberry.field(description="The indicator it was paid against; null: 无指标支付")
    def indicator(self) -> Indicator | None:
        if self.bgt_id is None:
            return None
        return Indicator(bgt_id=self.bgt_id, name=None, year=self.fiscal_year, scope_region=None)


@strawberry.type(description="The payee as the payment names it, and the resolved payee behind it")
class PaymentPayee:
    payee_id: str
    name: str
    account_no: str | None
    bank_name: str | None
    payee_type: str | None
    unifsoc_cred_code: str | None
    iden_no: str | None
    is_person: bool

    @strawberry.field(description="The resolved payee: what it received, its other payments")
    async def resolved(self, info: Ctx) -> Payee | None:
        row = await info.context.loaders.payees.load(self.payee_id)
        return Payee.of_row(row) if row is not None else None


# --- special funds ------------------------------------------------------------------------------------


@strawberry.type(
    description="One region's share of a special fund: plan, indicators, payments and stage lags"
)
class FundAllocation:
    region: str
    region_name: str | None
    level: int | None
    allocated: Money = strawberry.field(description=doc(funds.FlowRow, "allocated"))
    allocated_to_units: Money = strawberry.field(description=doc(funds.FlowRow, "allocated_to_units"))
    received: Money = strawberry.field(description=doc(funds.FlowRow, "received"))
    passed_on: Money = strawberry.field(description=doc(funds.FlowRow, "passed_on"))
    assigned: Money = strawberry.field(description=doc(funds.FlowRow, "assigned"))
    undistributed: Money | None = strawberry.field(description=doc(funds.FlowRow, "undistributed"))
    paid: Money
    payments: int
    allocated_on: date | None
    issued_on: date | None = strawberry.field(description=doc(funds.FlowRow, "issued_on"))
    registered_on: date | None = strawberry.field(description=doc(funds.FlowRow, "registered_on"))
    passed_on_on: date | None = strawberry.field(description=doc(funds.FlowRow, "passed_on_on"))
    first_paid_on: date | None
    plan_to_indicator_days: int | None = strawberry.field(
        description=doc(funds.FlowRow, "plan_to_indicator_days")
    )
    receipt_days: int | None = strawberry.field(description=doc(funds.FlowRow, "receipt_days"))
    pass_on_days: int | None = strawberry.field(description=doc(funds.FlowRow, "pass_on_days"))
    to_payment_days: int | None = strawberry.field(description=doc(funds.FlowRow, "to_payment_days"))
    fund_code: strawberry.Private[str]
    year: strawberry.Private[int]

    @strawberry.field(description="The fund's indicators this region issued or assigned (its own level)")
    async def indicators(
        self, info: Ctx, sort: Sort = "-paid", first: First = 50, after: After = None
    ) -> Connection[Indicator]:
        filters = {Dim.spe_fund: self.fund_code}
        return await _indicators(info, self.year, self.region, filters, sort, first, after, own_level=True)


@strawberry.type
class LevelTotals:
    level: int | None
    regions: int
    allocated: Money
    received: Money
    passed_on: Money
    assigned: Money
    undistributed: Money
    paid: Money


@strawberry.type
class FundYear:
    year: int
    allocated: Money = strawberry.field(description="分配方案 lines of the year")
    measures: Measures


@strawberry.type(description="专项资金: a special fund")
class SpecialFund:
    code: str
    name: str
    region: str = strawberry.field(description=doc(funds.FundRow, "region"))
    region_name: str | None
    mof_dep_code: str | None
    fund_type: str | None
    policy_doc_no: str | None
    start_year: int | None
    end_year: int | None

    @staticmethod
    def of(f: funds.FundRow) -> SpecialFund:
        return SpecialFund(**f.model_dump(include=set(funds.FundRow.model_fields)))

    @strawberry.field(description="Each year of the fund: what was allocated and its measures")
    async def years(self, info: Ctx) -> list[FundYear]:
        fund = await info.context.call(funds.get_fund, self.code)
        return [
            FundYear(year=y.year, allocated=Money(y.allocated), measures=Measures.of(y.measures))
            for y in fund.years
        ]

    @strawberry.field(description="Allocation plan vs indicators vs payments per region, one fund at a time")
    async def flow(
        self,
        info: Ctx,
        year: int | None = None,
        region: str | None = None,
        first: First = 100,
        after: After = None,
    ) -> FundFlow:
        ctx = info.context
        flow = await ctx.call(
            funds.flow, self.code, year=year, region=region, cursor=after, limit=limit(first)
        )
        return FundFlow.of(flow, self.code)


@strawberry.type
class FundFlow:
    year: int
    levels: list[LevelTotals] = strawberry.field(description=doc(funds.Flow, "levels"))
    allocations: Connection[FundAllocation]

    @staticmethod
    def of(f: funds.Flow, code: str) -> FundFlow:
        return FundFlow(
            year=f.year,
            levels=[LevelTotals(**lv.model_dump()) for lv in f.levels],
            allocations=connection(
                f.rows,
                lambda r: FundAllocation(**r.model_dump(), fund_code=code, year=f.year),
                f.next_cursor,
                f.row_count,
            ),
        )
