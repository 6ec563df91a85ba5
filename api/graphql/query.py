"""The root ``Query``: a field for every REST question, each calling the same service function."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

import strawberry
from sqlalchemy.orm import Session

from api.analysis import service as analysis
from api.analysis.dimensions import Dim
from api.errors import BadParameter, NotFound
from api.funds import service as funds
from api.graphql.context import Context
from api.graphql.inquiries import Inquiry, InquiryFilter, list_inquiries, one_inquiry
from api.graphql.monitoring import (
    Rule,
    Warning,
    WarningEscalations,
    WarningFilter,
    WarningStats,
    WarningStatsBy,
    filter_of,
    rule_code,
    warning_id,
)
from api.graphql.scalars import Money
from api.graphql.types import (
    After,
    Agency,
    Connection,
    Ctx,
    Dimension,
    Drilldown,
    DrillFilter,
    First,
    Indicator,
    Payee,
    Payment,
    PaymentSort,
    Project,
    Region,
    Sort,
    Source,
    SpecialFund,
    Summary,
    code,
    connection,
    dims_of,
    limit,
)
from api.orgs import service as orgs
from api.pagination import count_rows
from api.payees import service as payees
from api.payments import service as payments
from api.reference import service as reference
from api.regions import queries as region_queries
from api.regions import service as regions
from api.warnings import service as monitoring
from monitor import ledger
from security.scope import Scope

REGION = re.compile(r"^\d{9}\Z")
YEARS = (1949, 2100)


def _region(value: str | None, parameter: str = "region") -> str | None:
    if value is not None and not REGION.match(value):
        raise BadParameter(parameter, "a 9-digit finance region code")
    return value


def _year(value: int | None) -> int | None:
    if value is not None and not YEARS[0] <= value <= YEARS[1]:
        raise BadParameter("year", f"a fiscal year {YEARS[0]}-{YEARS[1]}")
    return value


def _text(parameter: str, value: str | None, longest: int = 80) -> str | None:
    if value is None:
        return None
    if len(value) > longest:
        raise BadParameter(parameter, f"at most {longest} characters")
    return code(parameter, value)


def _key(parameter: str, value: str) -> tuple[str, str]:
    """A region-qualified key (``410100000:101``)."""
    region, sep, local = code(parameter, value).partition(":")
    if not sep or not REGION.match(region) or not local:
        raise BadParameter(parameter, "region:code, as a drill-down row key (410100000:101)")
    return region, local


async def _or_none(ctx: Context, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A single object: absent and out of the caller's jurisdiction alike answer null."""
    try:
        return await ctx.call(fn, *args, **kwargs)
    except NotFound:
        return None


@strawberry.input(description="The filters of /v1/payments (all optional, combined with AND)")
class PaymentFilter(DrillFilter):
    q: str | None = strawberry.field(
        default=None,
        description="Keyword (any length) in the purpose, payee, project, unit or document number",
    )
    year: int | None = None
    region: str | None = strawberry.field(default=None, description="9-digit region; its subtree")
    own_level: bool = False
    payee_type: str | None = strawberry.field(default=None, description="资金往来对象类型 1-6, 9")
    set_mode: str | None = strawberry.field(default=None, description="结算方式: 1 转账, 2 现金, 3 公务卡 …")
    min_amount: Money | None = None
    max_amount: Money | None = None
    date_from: date | None = strawberry.field(default=None, description="vou_date on or after")
    date_to: date | None = strawberry.field(default=None, description="vou_date on or before")

    def search(self, session: Session, scope: Scope) -> payments.PaymentSearch:
        for name in ("payee_type", "set_mode"):
            value = getattr(self, name)
            if value is not None and not re.fullmatch(r"[0-9]", value):
                raise BadParameter(name, "one digit")
        return payments.PaymentSearch(
            q=_text("q", self.q, 50),
            year=_year(self.year),
            region=payments.search_root(session, scope, _region(self.region), self.own_level),
            own_level=self.own_level,
            filters=self.dims(),
            payee_type=self.payee_type,
            set_mode=self.set_mode,
            min_amount=self.min_amount,
            max_amount=self.max_amount,
            date_from=self.date_from,
            date_to=self.date_to,
        )


@strawberry.type
class Query:
    @strawberry.field(description="The four budgets of a scope: budget, transfers, paid (as /v1/summary)")
    async def summary(self, info: Ctx, year: int | None = None, region: str | None = None) -> Summary:
        found = await info.context.call(analysis.summary, year=_year(year), region=_region(region))
        return Summary.of(found)

    @strawberry.field(
        description="One breakdown of a scope; rows plus unattributed equal the total (as /v1/drilldown)"
    )
    async def drilldown(
        self,
        info: Ctx,
        by: Dimension,  # type: ignore[valid-type]
        year: int | None = None,
        region: str | None = None,
        own_level: bool = False,
        level: int | None = None,
        filter: DrillFilter | None = None,
        sort: Sort = "key",
        first: First = 50,
        after: After = None,
    ) -> Drilldown:
        found = await info.context.call(
            analysis.drilldown,
            year=_year(year),
            region=_region(region),
            own_level=own_level,
            by=Dim(by),
            level=level,
            filters=dims_of(filter),
            sort=sort,
            cursor=after,
            limit=limit(first),
        )
        return Drilldown.of(found)

    @strawberry.field(description="Finance regions the caller may see")
    async def regions(
        self,
        info: Ctx,
        parent: str | None = None,
        level: int | None = None,
        q: str | None = None,
        year: int | None = None,
        first: First = 50,
        after: After = None,
    ) -> Connection[Region]:
        ctx = info.context
        parent, q = _region(parent, "parent"), _text("q", q)
        page = await ctx.call(
            regions.list_regions, parent=parent, level=level, q=q, cursor=after, limit=limit(first)
        )
        y = await ctx.year(_year(year))

        async def total() -> int:
            query = region_queries.regions_list(ctx.scope, parent=parent, level=level, q=q)
            return await ctx.call(lambda session, _scope: count_rows(session, query))

        return connection(page.rows, lambda r: Region.of(r, y), page.next_cursor, total)

    @strawberry.field(description="One region (null when absent or outside the caller's jurisdiction)")
    async def region(self, info: Ctx, code: str, year: int | None = None) -> Region | None:
        row = await info.context.loaders.regions.load(_region(code, "code") or "")
        return Region.of(row, await info.context.year(_year(year))) if row is not None else None

    @strawberry.field(description="Budget units (预算单位)")
    async def agencies(
        self,
        info: Ctx,
        region: str | None = None,
        department: str | None = None,
        q: str | None = None,
        year: int | None = None,
        first: First = 50,
        after: After = None,
    ) -> Connection[Agency]:
        ctx = info.context
        args = {"region": _region(region), "department": _text("department", department), "q": _text("q", q)}
        page = await ctx.call(orgs.list_agencies, **args, cursor=after, limit=limit(first))
        y = await ctx.year(_year(year))

        async def total() -> int:
            return await ctx.call(
                lambda session, scope: count_rows(session, orgs.agencies_query(scope, **args))
            )

        def make(r: orgs.AgencyRow) -> Agency:
            return Agency(key=f"{r.region}:{r.code}", name=r.name, year=y, scope_region=None)

        return connection(page.rows, make, page.next_cursor, total)

    @strawberry.field(description="One budget unit by its key region:code")
    async def agency(self, info: Ctx, key: str, year: int | None = None) -> Agency | None:
        row = await info.context.loaders.agencies.load(_key("key", key))
        y = await info.context.year(_year(year))
        return (
            Agency(key=f"{row.region}:{row.code}", name=row.name, year=y, scope_region=None) if row else None
        )

    @strawberry.field(description="Projects (项目)")
    async def projects(
        self,
        info: Ctx,
        region: str | None = None,
        agency: str | None = None,
        spe_fund: str | None = None,
        q: str | None = None,
        year: int | None = None,
        first: First = 50,
        after: After = None,
    ) -> Connection[Project]:
        ctx = info.context
        args = {
            "region": _region(region),
            "agency": _text("agency", agency),
            "spe_fund": _text("spe_fund", spe_fund),
            "q": _text("q", q),
        }
        page = await ctx.call(orgs.list_projects, **args, cursor=after, limit=limit(first))
        y = await ctx.year(_year(year))

        async def total() -> int:
            return await ctx.call(
                lambda session, scope: count_rows(session, orgs.projects_query(scope, **args))
            )

        def make(r: orgs.ProjectRow) -> Project:
            return Project(key=f"{r.region}:{r.code}", name=r.name, year=y, scope_region=None)

        return connection(page.rows, make, page.next_cursor, total)

    @strawberry.field(description="One project by its key region:code")
    async def project(self, info: Ctx, key: str, year: int | None = None) -> Project | None:
        region, local = _key("key", key)
        row = await _or_none(info.context, orgs.get_project, region, local)
        y = await info.context.year(_year(year))
        return (
            Project(key=f"{row.region}:{row.code}", name=row.name, year=y, scope_region=None) if row else None
        )

    @strawberry.field(description="One indicator (预算指标): its record, upstream, downstream and payments")
    async def indicator(self, info: Ctx, bgt_id: str) -> Indicator | None:
        found = await info.context.loaders.indicators.load(code("bgt_id", bgt_id))
        if found is None:
            return None
        return Indicator(bgt_id=found.bgt_id, name=found.doc_title, year=found.fiscal_year, scope_region=None)

    @strawberry.field(description="Special funds (专项资金)")
    async def special_funds(
        self, info: Ctx, q: str | None = None, first: First = 50, after: After = None
    ) -> Connection[SpecialFund]:
        ctx = info.context
        q = _text("q", q)
        page = await ctx.call(funds.list_funds, q=q, cursor=after, limit=limit(first))

        async def total() -> int:
            return await ctx.call(lambda session, scope: count_rows(session, funds.funds_query(scope, q=q)))

        return connection(page.rows, SpecialFund.of, page.next_cursor, total)

    @strawberry.field(description="One special fund")
    async def special_fund(
        self, info: Ctx, code_: Annotated[str, strawberry.argument(name="code")]
    ) -> SpecialFund | None:
        found = await _or_none(info.context, funds.get_fund, code("code", code_))
        return SpecialFund.of(found) if found is not None else None

    @strawberry.field(description="Payments: filters, keyword search, cursor pages (as /v1/payments)")
    async def payments(
        self,
        info: Ctx,
        filter: PaymentFilter | None = None,
        sort: PaymentSort = None,
        first: First = 50,
        after: After = None,
    ) -> Connection[Payment]:
        ctx = info.context
        given = filter or PaymentFilter()
        search = await ctx.call(lambda session, scope: given.search(session, scope))
        page = await ctx.call(payments.list_payments, search, sort=sort, cursor=after, limit=limit(first))

        async def total() -> int:
            return (await ctx.call(payments.count_payments_many, [search]))[0]

        return connection(page.rows, Payment.of, page.next_cursor, total)

    @strawberry.field(description="One payment (null when absent or outside the caller's jurisdiction)")
    async def payment(self, info: Ctx, pay_cert_id: str) -> Payment | None:
        found = await _or_none(
            info.context, payments.get_payment, code("pay_cert_id", pay_cert_id), detail_limit=1
        )
        return Payment.of(found) if found is not None else None

    @strawberry.field(description="Payees (收款人); without clearance persons cannot be found by name")
    async def payees(
        self, info: Ctx, q: str | None = None, first: First = 50, after: After = None
    ) -> Connection[Payee]:
        ctx = info.context
        q = _text("q", q)
        page = await ctx.call(payees.list_payees, q=q, cursor=after, limit=limit(first))

        async def total() -> int:
            return await ctx.call(lambda session, scope: count_rows(session, payees.payees_query(scope, q=q)))

        return connection(page.rows, Payee.of_row, page.next_cursor, total)

    @strawberry.field(description="One payee: everything it received, across units, years and regions")
    async def payee(self, info: Ctx, payee_id: str) -> Payee | None:
        row = await info.context.loaders.payees.load(code("payee_id", payee_id))
        return Payee.of_row(row) if row is not None else None

    @strawberry.field(description="Last load of each source and its lag")
    async def sources(self, info: Ctx) -> list[Source]:
        found = await info.context.call(lambda session, _scope: reference.sources(session))
        return [Source.of(s) for s in found]

    # --- dynamic monitoring (预算执行动态监控) ---------------------------------------------------------

    @strawberry.field(description="The warning rules (预警规则) as configured (as /v1/rules)")
    async def rules(self, info: Ctx) -> list[Rule]:
        found = await info.context.call(lambda _session, _scope: monitoring.list_rules())
        return [Rule.of(r) for r in found.rows]

    @strawberry.field(description="One warning rule by code (null when there is none)")
    async def rule(self, info: Ctx, code_: Annotated[str, strawberry.argument(name="code")]) -> Rule | None:
        wanted = rule_code(code_)
        try:
            return Rule.of(await info.context.call(lambda _session, _scope: monitoring.get_rule(wanted)))
        except NotFound:
            return None

    @strawberry.field(description="The warnings ledger (预警台账): filters, cursor pages (as /v1/warnings)")
    async def warnings(
        self,
        info: Ctx,
        filter: WarningFilter | None = None,
        sort: Annotated[
            str | None,
            strawberry.argument(
                description="id, occurred_on or amount; '-' first for descending (default -id)"
            ),
        ] = None,
        first: First = 50,
        after: After = None,
    ) -> Connection[Warning]:
        ctx = info.context
        given = filter_of(filter)
        page = await ctx.call(monitoring.list_warnings, given, sort=sort, cursor=after, limit=limit(first))

        async def total() -> int:
            return await ctx.call(monitoring.count_warnings, given)

        return connection(page.rows, Warning.of, page.next_cursor, total)

    @strawberry.field(description="One warning (null when absent or outside the caller's jurisdiction)")
    async def warning(self, info: Ctx, id: int) -> Warning | None:
        found = await info.context.loaders.warnings.load(warning_id(id))
        return Warning.of(found) if found is not None else None

    @strawberry.field(description="Warning statistics by rule, group, region, agency or month")
    async def warning_stats(
        self,
        info: Ctx,
        by: WarningStatsBy,  # type: ignore[valid-type]
        filter: WarningFilter | None = None,
    ) -> WarningStats:
        found = await info.context.call(monitoring.warning_stats, filter_of(filter), ledger.StatsBy(by).value)
        return WarningStats.of(found)

    @strawberry.field(
        description="专项督查: regions with open warnings at each of the last escalation_months month-ends "
        "up to month (YYYY-MM; default: the month of the newest occurred_on in scope)"
    )
    async def warning_escalations(
        self, info: Ctx, month: str | None = None, region: str | None = None
    ) -> WarningEscalations:
        found = await info.context.call(
            monitoring.warning_escalations, _text("month", month, 7), _region(region)
        )
        return WarningEscalations.of(found)

    # --- inquiries (询问函) ------------------------------------------------------------------------------

    @strawberry.field(
        description="Inquiries (询问函) the caller may see: filters, cursor pages, newest first"
    )
    async def inquiries(
        self, info: Ctx, filter: InquiryFilter | None = None, first: First = 50, after: After = None
    ) -> Connection[Inquiry]:
        return await list_inquiries(info, filter, first, after)

    @strawberry.field(
        description="One inquiry with its history (null when absent or not the caller's to see)"
    )
    async def inquiry(self, info: Ctx, id: int) -> Inquiry | None:
        return await one_inquiry(info, id)
