"""The data of one periodic report, section by section: built once (:mod:`api.reports.service`), then
rendered as JSON, HTML (:mod:`api.reports.html`) and XLSX (:mod:`api.reports.xlsx`), so every format shows
the same figures. Money is a decimal string of yuan, as everywhere in the API; rates are decimal strings
(4 places), gaps decimal strings of percentage points (2 places)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from api.analysis.service import ExecutionLine
from api.funds.service import FlowRow, FundRow, LevelTotals
from api.reference.service import SourceStatus
from api.reports.period import Period
from monitor.ledger import OpenMonth, Stats

# --- 1. execution against time progress (序时进度) ---------------------------------------------------------


class ExecutionRow(BaseModel):
    key: str | None = Field(description="fund type (1-4, 9), region code, or region:department; null: total")
    name: str | None
    own_level: bool = Field(False, description="region rows: the region's own level (本级)")
    budget: str = Field(description="指标数 of the year, as /v1/summary and /v1/drilldown give it")
    paid: str = Field(description="支出数 up to the as-of date")
    execution_rate: str | None = Field(description="paid / budget, 4 decimals; null when budget is 0")
    time_progress: str | None = Field(description="序时进度: share of the year elapsed at the as-of date")
    gap_points: str | None = Field(description="(execution_rate - time_progress) × 100, 2 decimals")


class ExecutionSection(BaseModel):
    year: int
    as_of: date = Field(description="payments up to and including this day are counted")
    data_as_of: date | None = Field(
        description="the year's newest payment in the caller's jurisdiction: how far the data reaches"
    )
    time_progress: str | None
    cumulative: bool = Field(
        description="true: the as-of date lies before the year's newest payment, so paid is summed from the "
        "months up to it (and the as-of month's days up to it); false: paid is the year's, as the API's"
    )
    fund_types: list[ExecutionRow] = Field(
        description="the four budgets (四本预算) and other, as the data has them"
    )
    total: ExecutionRow
    regions: list[ExecutionRow] = Field(description="the region's own level and each child region's subtree")
    departments: list[ExecutionRow] = Field(description="主管部门 of the region's own level, by budget")
    reported: list[ExecutionLine] = Field(
        description="收支执行 reported as totals (gov_exec), as /v1/summary"
    )


# --- 2. special funds (专项资金) ----------------------------------------------------------------------------


class StageLag(BaseModel):
    level: int | None = Field(description="1 province, 2 city, 3 county, 4 township")
    regions: int
    plan_to_indicator_days: list[int | None] = Field(description="[median, max] over the level's regions")
    receipt_days: list[int | None]
    pass_on_days: list[int | None]
    to_payment_days: list[int | None]


class FundFlow(BaseModel):
    fund: FundRow
    year: int
    levels: list[LevelTotals]
    lags: list[StageLag] = Field(description="stage lags per level (median and max, days)")
    rows: list[FlowRow] = Field(
        description="the region's and its children's rows, as /v1/special-funds/{code}/flow gives them"
    )


class FundSection(BaseModel):
    year: int
    funds: list[FundFlow]


# --- 3. warnings (预警) ----------------------------------------------------------------------------------


class OpenRow(BaseModel):
    key: str
    name: str | None
    count: int
    amount: str


class EscalationRow(BaseModel):
    """A region of the 专项督查 list, as /v1/warnings/escalations (its oldest warning without the message,
    which may name a person)."""

    region: str
    region_name: str | None
    months: list[OpenMonth]
    oldest_id: int
    oldest_rule: str
    oldest_rule_name: str | None
    oldest_occurred_on: date
    oldest_amount: str
    oldest_link: str


class WarningSection(BaseModel):
    occurred_from: date
    occurred_to: date
    by_group: Stats = Field(description="raised in the period: /v1/warnings/stats?by=group&occurred_from=&…")
    by_region: Stats = Field(description="raised in the period: /v1/warnings/stats?by=region&…")
    open_at_end_by_group: list[OpenRow] = Field(description="open at the end of the period's last day")
    open_at_end_by_region: list[OpenRow]
    open_at_end: OpenRow
    escalation_month: str
    escalation_months: int
    escalations: list[EscalationRow]


# --- 4. inquiries (询问函) ---------------------------------------------------------------------------------


class InquiryFigures(BaseModel):
    key: str | None = Field(description="region code (own level or a child's subtree); null: total")
    name: str | None
    own_level: bool = False
    raised: int = Field(description="raised in the period")
    answered: int = Field(
        description="answers given in the period (a returned inquiry may be answered again)"
    )
    accepted: int = Field(description="accepted (采纳) in the period")
    returned: int = Field(description="returned (退回) in the period")
    overdue: int = Field(description="waiting past their deadline at the period's end (or today, if earlier)")
    answer_days_median: int | None = Field(
        description="working days from a round's start to its answer, answers in the period (nearest rank)"
    )
    answer_days_p90: int | None


class InquirySection(BaseModel):
    regions: list[InquiryFigures]
    total: InquiryFigures


# --- 5. freshness ----------------------------------------------------------------------------------------


class FreshnessSection(BaseModel):
    newest_data_date: date | None = Field(
        description="the year's newest payment in the caller's jurisdiction: how far the data reaches"
    )
    sources: list[SourceStatus]


# --- the report ------------------------------------------------------------------------------------------


class Report(BaseModel):
    period: Period
    region: str
    region_name: str | None
    year: int = Field(description="the fiscal year: the period's last day's")
    as_of: date = Field(description="the period's last day, or the data's newest payment date if earlier")
    generated_at: datetime = Field(description="UTC")
    execution: ExecutionSection
    special_funds: FundSection
    warnings: WarningSection
    inquiries: InquirySection
    freshness: FreshnessSection
