"""Indicator amounts, derived from what was paid, then transfers summed up the chains.

A unit's indicator is paid, at the year's end of data, its execution share (92–99 %) of time progress:
its current amount is ``paid / (share × time progress)``, rounded up, and never below its plans. Its
original amount is the current one less the adjustments planned for it. A transfer's amount is what its
receiving region passed on or assigned, plus a small undistributed rest (0.5–4 %).
"""

from __future__ import annotations

import random
from datetime import date

from demo.anomalies import PlantPlan
from demo.budget import Budget, Indicator, dept_division
from demo.catalog import DIVISIONS
from demo.rand import pct_text, round_up, yuan
from demo.workdays import add_workdays, last_workday, time_progress_permille
from monitor import thresholds as th

_REASONS_UP = ("追加年度预算", "预算调剂增加", "追加专项业务经费")
_REASONS_DOWN = ("收回结余资金", "压减一般性支出", "预算调剂减少")

Adjustment = tuple[str, str, date, int, str, str]  # adj_id, bgt_id, date, fen, doc, reason


def step_for(fen: int) -> int:
    if fen < 10_000_000:
        return 1_000
    if fen < 1_000_000_000:
        return 10_000
    return 100_000


def finalize(rng: random.Random, budget: Budget, plan: PlantPlan, next_doc) -> list[Adjustment]:  # type: ignore[no-untyped-def]
    """Set every indicator's amount; returns the adjustments (bgt_adj rows)."""
    tp = {y: time_progress_permille(y) for y in (2025, 2026)}
    leaves = [i for i in budget.indicators if i.agency is not None]
    for agency_index, year in plan.low_execution:
        for leaf in budget.leaves_by_agency.get(agency_index, []):
            if leaf.year == year:
                leaf.exec_pm = 300 + rng.randrange(150)
    for leaf in leaves:
        if leaf.n_pay == 0 and leaf.paid == 0:
            continue  # an idle plant: sized after its unit's other indicators
        if leaf.plant == "over_budget":
            leaf.current = max(100, leaf.paid * 100 // (112 + rng.randrange(14)) // 100 * 100)
            continue
        if leaf.exec_pm == 950 and not leaf.plant:
            leaf.exec_pm = 920 + rng.randrange(71)
        need = -(-leaf.paid * 1_000_000 // (leaf.exec_pm * tp[leaf.year]))
        leaf.current = round_up(max(need, leaf.plan_sum, 1), step_for(need))
    for leaf in leaves:
        if leaf.plant == "idle_funds" and leaf.agency is not None:
            others = sum(
                o.current
                for o in budget.leaves_by_agency[leaf.agency.index]
                if o.year == leaf.year and o is not leaf
            )
            leaf.current = max(10_000, others * (25 + rng.randrange(15)) // 1000 // 10_000 * 10_000)
    adjustments = _adjust(rng, leaves, next_doc)
    for ind in reversed(budget.indicators):  # continuations are created after the transfer they continue
        if ind.children is not None:
            passed = sum(c.current for c in ind.children)
            gross = -(-passed * 1000 // (1000 - ind.undistributed_pm))
            ind.current = round_up(max(gross, 1), step_for(gross))
            ind.amount = ind.current
    _notes(budget, plan, tp)
    return adjustments


def _adjust(rng: random.Random, leaves: list[Indicator], next_doc) -> list[Adjustment]:  # type: ignore[no-untyped-def]
    out: list[Adjustment] = []
    for leaf in leaves:
        eligible = leaf.source in ("1", "2") and leaf.sup is None and not leaf.plant and leaf.paid > 0
        if not leaf.adjust_pm and eligible and rng.randrange(100) < 8:
            leaf.adjust_pm = (1 if rng.randrange(2) else -1) * (10 + rng.randrange(90))
        if not leaf.adjust_pm:
            leaf.amount = leaf.current
            continue
        original = round_up(leaf.current * 1000 // (1000 + leaf.adjust_pm), 1_000)
        add = leaf.current - original
        if add == 0:
            leaf.amount = leaf.current
            continue
        leaf.amount = original
        first = leaf.first_pay or last_workday(leaf.year)
        if add > 0:  # a raise comes before the first payment, so nothing is ever paid beyond the amount
            day = add_workdays(leaf.doc_date, 1)
            if day >= first:
                day = leaf.doc_date
        else:
            later = min(add_workdays(first, 20 + rng.randrange(60)), last_workday(leaf.year))
            day = later
        leaf.adj_date = day
        assert leaf.agency is not None
        char = DIVISIONS[dept_division(leaf.agency)].doc_char
        reason = (_REASONS_UP if add > 0 else _REASONS_DOWN)[rng.randrange(3)]
        out.append(
            (f"TZ{len(out) + 1:08d}", leaf.bgt_id, day, add, next_doc(leaf.region, char, leaf.year), reason)
        )
    return out


def future_plans(budget: Budget) -> list[tuple[Indicator, int, int]]:
    """Plans of November and December 2026 (after the as-of date) for what the indicators still have."""
    out = []
    for leaf in budget.indicators:
        if leaf.agency is None or leaf.year != 2026 or leaf.paid == 0 or leaf.plant == "over_budget":
            continue
        remaining = leaf.current - leaf.plan_sum
        share = remaining * 45 // 100 // 10_000 * 10_000
        if share > 0:
            out.append((leaf, 11, share))
            out.append((leaf, 12, share))
    return out


def _notes(budget: Budget, plan: PlantPlan, tp: dict[int, int]) -> None:
    for plant in plan.plants:
        leaf = plant.leaf
        if plant.rule == "over_budget" and leaf is not None:
            plant.note = f"paid {yuan(leaf.paid)} yuan against a current amount of {yuan(leaf.current)}"
        elif plant.rule == "budget_change" and leaf is not None:
            plant.note = (
                f"amount {yuan(leaf.amount)} adjusted by {yuan(leaf.current - leaf.amount)} on "
                f"{leaf.adj_date} ({pct_text(leaf.current - leaf.amount, leaf.amount)}, "
                f"threshold {th.BUDGET_CHANGE_PCT}%)"
            )
        elif plant.rule == "idle_funds" and leaf is not None and leaf.agency is not None:
            plant.note = (
                f"indicator of {yuan(leaf.current)} yuan issued {leaf.doc_date}, no payment by "
                f"{last_workday(leaf.year)} (> {th.IDLE_DAYS} days)"
            )
        elif plant.rule == "idle_funds" and leaf is not None and leaf.children is not None:
            passed = sum(c.current for c in leaf.children)
            name = leaf.rec_div.name if leaf.rec_div else ""
            plant.note = (
                f"transfer {leaf.doc_no} of {yuan(leaf.current)} yuan to {name}: "
                f"{yuan(leaf.current - passed)} ({pct_text(leaf.current - passed, leaf.current)}) "
                f"never passed on or assigned"
            )
        elif plant.rule == "low_execution" and plant.agency is not None:
            mine = [i for i in budget.leaves_by_agency.get(plant.agency.index, []) if i.year == plant.year]
            paid = sum(i.paid for i in mine)
            total = sum(i.current for i in mine)
            plant.note = (
                f"{plant.agency.name}: paid {yuan(paid)} of {yuan(total)} ({pct_text(paid, total)}) "
                f"against time progress {pct_text(tp[plant.year], 1000)}"
            )
        elif plant.rule == "over_plan" and leaf is not None and not plant.note:
            plant.note = "paid more in one month than the month's plan"
