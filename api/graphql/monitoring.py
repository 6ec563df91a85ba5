"""Dynamic monitoring in GraphQL: the rules, the warnings ledger (as /v1/rules and /v1/warnings, through the
same service functions) and the one mutation, a warning's lifecycle step.

A warning's objects resolve to the existing ``Payment``, ``Indicator``, ``Agency`` and ``Region`` types
through the request's DataLoaders; its evidence is a JSON object, exactly REST's (money as yuan strings,
never a float)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.errors import BadParameter, ProblemError
from api.graphql.scalars import Money
from api.graphql.types import Agency, Ctx, Indicator, Payment, Region, code
from api.warnings import service
from monitor import ledger
from monitor.lifecycle import Action, Verdict

WarningStatsBy = strawberry.enum(ledger.StatsBy, name="WarningStatsBy", description="How statistics group")
WarningAction = strawberry.enum(Action, name="WarningAction", description="A lifecycle step")
WarningVerdict = strawberry.enum(Verdict, name="WarningVerdict", description="违规 violation | 无误 no_issue")


@strawberry.input(description="The filters of /v1/warnings (all optional, combined with AND)")
class WarningFilter:
    rule: str | None = strawberry.field(default=None, description="rule code, e.g. USE-01")
    group: str | None = strawberry.field(default=None, description="rule group, e.g. 资金使用")
    level: str | None = strawberry.field(default=None, description="blue, yellow, orange or red")
    status: str | None = strawberry.field(
        default=None, description="pending 待核实, verified 已核实, rectifying 整改中, rectified 已整改"
    )
    verdict: str | None = strawberry.field(default=None, description="violation 违规 or no_issue 无误")
    object_type: str | None = strawberry.field(default=None, description="the primary object's type")
    object_id: str | None = strawberry.field(default=None, description="any object the warning concerns")
    region: str | None = strawberry.field(default=None, description="9-digit region: its subtree")
    own_level: bool = False
    agency_code: str | None = None
    payee_key: str | None = None
    fiscal_year: int | None = None
    occurred_from: date | None = None
    occurred_to: date | None = None
    detected_from: date | None = strawberry.field(default=None, description="a day in China")
    detected_to: date | None = strawberry.field(default=None, description="a day in China")
    min_amount: Money | None = None
    max_amount: Money | None = None
    include_cleared: bool = False
    overdue: bool = False

    def model(self) -> ledger.WarningFilter:
        return ledger.WarningFilter(
            **{name: getattr(self, name) for name in ledger.WarningFilter.model_fields},
        )


def filter_of(f: WarningFilter | None) -> ledger.WarningFilter:
    return f.model() if f is not None else ledger.WarningFilter()


# --- the rules ----------------------------------------------------------------------------------------


@strawberry.type
class RuleParam:
    name: str
    description: str
    default: JSON = strawberry.field(description="a whole number, a string or a list of strings")
    value: JSON = strawberry.field(description="as configured for the whole province")


@strawberry.type
class RuleOverride:
    region: str = strawberry.field(description="the region whose subtree the values apply to")
    params: JSON


@strawberry.type(description="预警规则: a warning rule as configured")
class Rule:
    code: str
    key: str
    group: str
    name: str = strawberry.field(description="Chinese name")
    title: str = strawberry.field(description="English name")
    level: str = strawberry.field(description="as configured: blue 蓝, yellow 黄, orange 橙, red 红")
    default_level: str
    object_type: str
    fires_when: str
    basis: str = strawberry.field(description="legal basis (法律依据)")
    params: list[RuleParam]
    overrides: list[RuleOverride]
    enabled: bool
    applies_to: list[str] = strawberry.field(description="region subtrees; empty: every region")
    time_dependent: bool

    @staticmethod
    def of(r: service.RuleInfo) -> Rule:
        data = r.model_dump(exclude={"params", "overrides"})
        return Rule(
            **data,
            params=[RuleParam(**p.model_dump()) for p in r.params],
            overrides=[RuleOverride(region=o.region, params=JSON(o.params)) for o in r.overrides],
        )


# --- a warning ----------------------------------------------------------------------------------------


@strawberry.type(description="A lifecycle step: who took it, when, why")
class WarningStep:
    id: int
    action: str
    from_status: str | None
    to_status: str
    verdict: str | None
    actor_sub: str
    actor_body: str
    actor_org: str | None
    at: datetime = strawberry.field(description="UTC")
    comment: str | None


@strawberry.type(description="An object a warning concerns, with where the API shows it")
class WarningObject:
    object_type: str
    object_id: str
    is_primary: bool
    link: str | None = strawberry.field(description="the REST route that shows it (null: none does)")
    trace: str | None = strawberry.field(description="payments and indicators: the indicator trace")
    region_code: strawberry.Private[str]
    bgt_id: strawberry.Private[str | None]
    year: strawberry.Private[int]

    @strawberry.field(description="The payment, when the object is one the caller may see")
    async def payment(self, info: Ctx) -> Payment | None:
        if self.object_type != "payment":
            return None
        row = await info.context.loaders.payment_rows.load(self.object_id)
        return Payment.of(row) if row is not None else None

    @strawberry.field(
        description="The indicator: the object itself, or the one a payment was paid against (its trace)"
    )
    async def indicator(self, info: Ctx) -> Indicator | None:
        if self.bgt_id is None:
            return None
        found = await info.context.loaders.indicators.load(self.bgt_id)
        if found is None:
            return None
        return Indicator(bgt_id=found.bgt_id, name=found.doc_title, year=found.fiscal_year, scope_region=None)

    @strawberry.field(description="The budget unit, when the object is one")
    async def agency(self, info: Ctx) -> Agency | None:
        if self.object_type != "agency":
            return None
        row = await info.context.loaders.agencies.load((self.region_code, self.object_id))
        if row is None:
            return None
        return Agency(key=f"{row.region}:{row.code}", name=row.name, year=self.year, scope_region=None)

    @strawberry.field(description="The region, when the object is one")
    async def region(self, info: Ctx) -> Region | None:
        if self.object_type != "region":
            return None
        row = await info.context.loaders.regions.load(self.object_id)
        return Region.of(row, self.year) if row is not None else None


@strawberry.type(description="预警: one finding of one rule about one object, and where its handling stands")
class Warning:
    id: int
    rule_code: str
    rule_name: str | None
    rule_group: str
    level: str
    object_type: str
    object_id: str
    facet: str
    fiscal_year: int
    region: str = strawberry.field(description="the region whose finance bureau answers the warning")
    region_name: str | None
    agency_code: str | None
    payee_key: str | None
    amount: Money
    occurred_on: date
    message: str
    status: str = strawberry.field(
        description="pending 待核实, verified 已核实, rectifying 整改中, rectified 已整改"
    )
    verdict: str | None = strawberry.field(description="violation 违规 or no_issue 无误")
    detected_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    cleared_at: datetime | None
    overdue: bool
    link: str
    known: strawberry.Private[ledger.WarningDetail | None] = None

    @staticmethod
    def of(w: ledger.WarningRow) -> Warning:
        detail = w if isinstance(w, ledger.WarningDetail) else None
        data = w.model_dump(include=set(ledger.WarningRow.model_fields))
        return Warning(**{**data, "amount": Money(w.amount)}, known=detail)

    async def _detail(self, info: Ctx) -> ledger.WarningDetail | None:
        return self.known or await info.context.loaders.warnings.load(self.id)

    @strawberry.field(description="The figures that raised it (money as yuan strings; never a float)")
    async def evidence(self, info: Ctx) -> JSON:
        d = await self._detail(info)
        return JSON(d.evidence if d is not None else {})

    @strawberry.field(description="The objects it concerns, the primary first")
    async def objects(self, info: Ctx) -> list[WarningObject]:
        d = await self._detail(info)
        return [
            WarningObject(
                object_type=o.object_type,
                object_id=o.object_id,
                is_primary=o.is_primary,
                link=o.link,
                trace=o.trace,
                region_code=o.region,
                bgt_id=o.bgt_id,
                year=self.fiscal_year,
            )
            for o in (d.objects if d is not None else [])
        ]

    @strawberry.field(description="Its lifecycle steps, oldest first")
    async def steps(self, info: Ctx) -> list[WarningStep]:
        d = await self._detail(info)
        return [WarningStep(**s.model_dump()) for s in (d.steps if d is not None else [])]

    @strawberry.field(description="The steps the state machine allows next")
    async def allowed_actions(self, info: Ctx) -> list[str]:
        d = await self._detail(info)
        return d.allowed_actions if d is not None else []

    @strawberry.field(description="The rule that raised it (null: a rule no longer defined)")
    def rule(self, info: Ctx) -> Rule | None:
        ctx = info.context
        if ctx.rule_infos is None:  # the configuration file is read once per request, not per warning
            ctx.rule_infos = {r.code: r for r in service.list_rules().rows}
        found = ctx.rule_infos.get(self.rule_code)
        return Rule.of(found) if found is not None else None


# --- statistics and escalations ------------------------------------------------------------------------


@strawberry.type
class WarningFigures:
    count: int
    amount: Money
    handled: int = strawberry.field(description="no longer pending (待核实)")
    handling_rate: str | None = strawberry.field(description="handled / count, 4 decimals; null when 0")
    closed: int
    overdue: int

    @staticmethod
    def of(f: ledger.Figures) -> WarningFigures:
        return WarningFigures(
            **{**f.model_dump(include=set(ledger.Figures.model_fields)), "amount": Money(f.amount)}
        )


@strawberry.type
class WarningStatsRow:
    key: str | None = strawberry.field(description="rule code, group, region, region:agency or YYYY-MM")
    name: str | None
    figures: WarningFigures


@strawberry.type(description="Warning statistics, as /v1/warnings/stats")
class WarningStats:
    by: str
    handling_days: int
    today: date
    rows: list[WarningStatsRow]
    total: WarningFigures

    @staticmethod
    def of(s: ledger.Stats) -> WarningStats:
        return WarningStats(
            by=s.by,
            handling_days=s.handling_days,
            today=s.today,
            rows=[WarningStatsRow(key=r.key, name=r.name, figures=WarningFigures.of(r)) for r in s.rows],
            total=WarningFigures.of(s.total),
        )


@strawberry.type
class OpenMonth:
    month: str
    open: int


@strawberry.type(description="A region on the 专项督查 list")
class Escalation:
    region: str
    region_name: str | None
    months: list[OpenMonth]
    oldest: Warning = strawberry.field(description="the oldest warning open at the last month's end")


@strawberry.type(description="专项督查, as /v1/warnings/escalations")
class WarningEscalations:
    month: str
    months: list[str]
    escalation_months: int
    rows: list[Escalation]

    @staticmethod
    def of(e: ledger.Escalations) -> WarningEscalations:
        return WarningEscalations(
            month=e.month,
            months=e.months,
            escalation_months=e.escalation_months,
            rows=[
                Escalation(
                    region=r.region,
                    region_name=r.region_name,
                    months=[OpenMonth(month=m.month, open=m.open) for m in r.months],
                    oldest=Warning.of(r.oldest),
                )
                for r in e.rows
            ],
        )


def warning_id(value: int) -> int:
    if not 1 <= value < 2**31:
        raise BadParameter("id", "a warning id, a positive whole number")
    return value


def rule_code(value: str) -> str:
    return code("code", value)


# --- the mutation ---------------------------------------------------------------------------------------


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Take a lifecycle step on a warning (finance of the warning's own region only): verify "
        "(with a verdict), start_rectification, complete_rectification; a comment is required"
    )
    async def transition_warning(
        self,
        info: Ctx,
        id: int,
        action: WarningAction,  # type: ignore[valid-type]
        comment: str,
        verdict: WarningVerdict | None = None,  # type: ignore[valid-type]
    ) -> Warning:
        ctx = info.context
        principal = ctx.principal
        if principal is None or ctx.writer is None:
            raise ProblemError.unauthorized()
        writer = ctx.writer
        wid = warning_id(id)

        def step(_session: Any, scope: Any) -> ledger.WarningDetail:
            return service.transition(
                writer,
                scope,
                principal,
                wid,
                action=Action(action).value,
                verdict=Verdict(verdict).value if verdict is not None else None,
                comment=comment,
            )

        return Warning.of(await ctx.call(step))


__all__ = [
    "Escalation",
    "Mutation",
    "Rule",
    "Warning",
    "WarningEscalations",
    "WarningFilter",
    "WarningStats",
    "WarningStatsBy",
    "filter_of",
    "rule_code",
    "warning_id",
]
