"""拨付进度 (disbursement progress): execution of a unit's budget against time progress (序时进度)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, select, tuple_

from connectors.ingest.convert import parse_amount
from monitor import thresholds as th
from monitor.calendar import FIRST_YEAR
from monitor.rule import Ctx, Level, ObjectType, Param, Rule
from monitor.rules._common import permille_text, text_null, touched_units
from schema.derived import PAYMENT
from schema.models import FactCell, Rollup


def time_progress_permille(year: int, as_of: date) -> int:
    """序时进度 of ``year`` at ``as_of``: elapsed days (1 January to the year's end of data, both counted)
    over the days of the year, in per-mille, rounded down."""
    end = min(date(year, 12, 31), as_of)
    if end < date(year, 1, 1):
        return 0
    days = (date(year, 12, 31) - date(year, 1, 1)).days + 1
    return ((end - date(year, 1, 1)).days + 1) * 1000 // days


def progress_case(ctx: Ctx, year_column: Any) -> Any:
    """The time progress of a fiscal-year column at the evaluation date, as a SQL CASE."""
    whens = [
        (year_column == y, time_progress_permille(y, ctx.as_of))
        for y in range(FIRST_YEAR, ctx.as_of.year + 1)
    ]
    return case((year_column > ctx.as_of.year, 0), *whens, else_=1000)


def _low_execution(ctx: Ctx) -> Select[Any]:
    # the per-unit rollup: each unit's budget and paid per (region, receiving region, fund type), some
    # fifty thousand rows at province scale, summed once more per unit and year
    r = Rollup
    budget = func.sum(r.budget_fen)
    paid = func.sum(r.paid_fen)
    elapsed = progress_case(ctx, r.fiscal_year)
    gap = elapsed * budget - paid * 1000  # (time progress - execution rate) × budget, in per-mille × fen
    level = case(
        (gap > int(ctx["red_points"]) * 10 * budget, Level.red.value),
        (gap > int(ctx["orange_points"]) * 10 * budget, Level.orange.value),
        else_=Level.yellow.value,
    )
    agency = func.substr(r.dim_key, 11)  # the key is the unit qualified by its region: 410100000:101
    query = (
        select(
            agency.label("object_id"),
            r.mof_div_code.label("mof_div_code"),
            r.fiscal_year.label("fiscal_year"),
            (budget - paid).label("amount_fen"),
            literal(ctx.as_of).label("occurred_on"),
            agency.label("agency_code"),
            text_null("payee_key"),
            level.label("level"),
            budget.label("ev_budget_fen"),
            paid.label("ev_paid_fen"),
            elapsed.label("ev_time_progress_permille"),
        )
        .where(r.dim == "agency", r.dim_key.is_not(None), ctx.in_regions(r.mof_div_code))
        .group_by(r.mof_div_code, r.dim_key, r.fiscal_year)
        .having(and_(budget > 0, gap > int(ctx["gap_points"]) * 10 * budget))
    )
    if ctx.incremental:  # the evaluation date has not moved: only units whose figures did
        touched = touched_units(ctx).subquery("touched")
        keys = select(touched.c.mof_div_code + ":" + touched.c.agency_code, touched.c.fiscal_year)
        query = query.where(tuple_(r.dim_key, r.fiscal_year).in_(keys))
    return query


def units_looked_at(ctx: Ctx) -> Select[Any]:
    """The units an incremental evaluation of a unit rule looks at again."""
    touched = touched_units(ctx).subquery("touched")
    return select(
        touched.c.agency_code.label("object_id"),
        touched.c.mof_div_code.label("mof_div_code"),
        touched.c.fiscal_year.label("fiscal_year"),
    )


def _explain_low(ev: dict[str, Any], params: Any) -> dict[str, Any]:
    budget, paid = parse_amount(ev["budget"]), parse_amount(ev["paid"])
    return {
        "execution_rate": permille_text(paid, budget),
        "time_progress": permille_text(int(ev["time_progress_permille"]), 1000),
    }


LOW_EXECUTION = Rule(
    code="PRG-01",
    key="low_execution",
    group="拨付进度",
    name="预算执行进度滞后",
    title="Execution behind time progress",
    level=Level.yellow,
    object_type=ObjectType.agency,
    fires_when="a budget unit's execution rate of a fiscal year (paid / current budget of its indicators) is "
    "more than {gap_points} points behind time progress (序时进度) at the evaluation date; graded "
    "黄, 橙 beyond {orange_points}, 红 beyond {red_points}",
    basis="《预算法》第五十五条、第六十六条;财政部关于加快预算执行进度的通知: 预算支出应当按序时进度均衡执行",
    message="paid {paid} of a budget of {budget} yuan ({execution_rate}) "
    "against time progress {time_progress}",
    query=_low_execution,
    inputs=("ba_bgt_info", "bgt_adj", "pay_voucher"),
    params=(
        Param("gap_points", th.LOW_EXECUTION_GAP_POINTS, "percentage points behind time progress"),
        Param("orange_points", th.LOW_EXECUTION_GRADES[1], "points behind from which it is 橙"),
        Param("red_points", th.LOW_EXECUTION_GRADES[2], "points behind from which it is 红"),
    ),
    time_dependent=True,
    explain=_explain_low,
    touched=units_looked_at,
)


def closed_through(ctx: Ctx) -> int:
    """The last fiscal year closed at the evaluation date: its 31 December is on or before it."""
    return ctx.as_of.year if ctx.as_of >= date(ctx.as_of.year, 12, 31) else ctx.as_of.year - 1


def _year_end_rush(ctx: Ctx) -> Select[Any]:
    # the payment cells: live payments summed per unit, year and month of vou_date (far fewer rows)
    c = FactCell
    months = tuple(int(m) for m in ctx["months"])
    total = func.sum(c.paid_fen)
    late = func.sum(case((c.month.in_(months), c.paid_fen), else_=0))
    query = (
        select(
            c.agency_code.label("object_id"),
            c.mof_div_code.label("mof_div_code"),
            c.fiscal_year.label("fiscal_year"),
            late.label("amount_fen"),
            func.max(c.last_paid_on).label("occurred_on"),
            c.agency_code.label("agency_code"),
            text_null("payee_key"),
            total.label("ev_paid_fen"),
            late.label("ev_year_end_fen"),
        )
        .where(
            c.record_kind == PAYMENT,
            # (an incremental run asks it of the touched units instead, which SQLite then reads first)
            c.fiscal_year <= closed_through(ctx) if not ctx.incremental else literal(True),
            ctx.in_regions(c.mof_div_code),
        )
        .group_by(c.mof_div_code, c.agency_code, c.fiscal_year)
        .having(and_(total != 0, late * 100 > int(ctx["share_pct"]) * total))
    )
    if ctx.incremental:  # the evaluation date has not moved: only units whose payments did (joined, so
        # that the cells are read through ix_fact_cell_agency, not scanned)
        units = touched_units(ctx).subquery("units")
        t = select(units).where(units.c.fiscal_year <= closed_through(ctx)).subquery("touched")
        query = query.join(
            t,
            and_(
                c.fiscal_year == t.c.fiscal_year,
                c.agency_code == t.c.agency_code,
                c.mof_div_code == t.c.mof_div_code,
            ),
        )
    return query


def _explain_rush(ev: dict[str, Any], params: Any) -> dict[str, Any]:
    return {"share": permille_text(parse_amount(ev["year_end"]), parse_amount(ev["paid"]))}


YEAR_END_RUSH = Rule(
    code="PRG-02",
    key="year_end_rush",
    group="拨付进度",
    name="年底突击花钱",
    title="Year-end spending rush",
    level=Level.yellow,
    object_type=ObjectType.agency,
    fires_when="a budget unit's payments dated in months {months} of a closed fiscal year are more than "
    "{share_pct}% of its payments of that year",
    basis="《预算法》第五十七条、《党政机关厉行节约反对浪费条例》: 各部门、各单位的支出必须按照预算执行，"
    "均衡支出，严禁年底突击花钱",
    message="paid {year_end} of {paid} yuan ({share}) in months {months}",
    query=_year_end_rush,
    inputs=("pay_voucher",),
    params=(
        Param("share_pct", th.YEAR_END_RUSH_SHARE_PCT, "percent of the year's payments"),
        Param("months", tuple(str(m) for m in th.YEAR_END_MONTHS), "the year-end months (1-12)"),
    ),
    time_dependent=True,  # which fiscal years are closed depends on the evaluation date
    explain=_explain_rush,
    touched=units_looked_at,
)

RULES: tuple[Rule, ...] = (LOW_EXECUTION, YEAR_END_RUSH)
