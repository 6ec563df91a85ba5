"""gov_exec: monthly cumulative execution of the four budgets (四本预算), income and expense, by subject.

Expense rows agree with the vouchers and indicators: a region's expense by 类 of function is what its
units (and, for a county, its townships' units, whose budgets the county consolidates) paid, against the
initial (budget_amt) and current (adjusted_amt) amounts of their indicators. Social-insurance benefits and
all revenue never pass through treasury vouchers, so those rows are synthetic, sized to the region.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from demo.budget import Budget
from demo.classify import Codes
from demo.rand import round_up, yuan
from demo.regions import Province, Region
from demo.schedules import last_month

#: per-mille of a year's revenue collected in each month (quarterly enterprise income tax peaks)
_SEASON = (110, 60, 90, 100, 80, 90, 95, 70, 80, 90, 70, 65)
_INCOME_1 = (
    ("10101", 360),
    ("10104", 160),
    ("10106", 60),
    ("10109", 70),
    ("10113", 70),
    ("10119", 100),
    ("10304", 60),
    ("10305", 40),
    ("10307", 80),
)
_INCOME_4 = (("10201", 450), ("10203", 250), ("10208", 120), ("10211", 180))
_REVENUE_FACTOR = {1: 1100, 2: 800, 3: 450}  # own revenue per-mille of general-budget spending

Row = tuple[str | None, ...]


def _cumulate(rng: random.Random, total: int, months: int) -> list[int]:
    out, acc = [], 0
    for m in range(months):
        acc += total * _SEASON[m] // 1000
        out.append(acc)
    out[-1] = total * sum(_SEASON[:months]) // 1000
    return out


def gov_exec_rows(
    rng: random.Random,
    province: Province,
    budget: Budget,
    codes: Codes,
    paid: dict[tuple[str, int, str, str, int], int],
) -> Iterator[Row]:
    regions = [r for r in province.all if r.level <= 3]
    initial: dict[tuple[str, int, str, str], int] = {}
    current: dict[tuple[str, int, str, str], int] = {}
    for leaf in budget.indicators:
        if leaf.agency is None:
            continue
        region = leaf.region if leaf.region.level < 4 else leaf.region.county
        key = (region.code, leaf.year, leaf.fund_type, leaf.exp_func[:3])
        current[key] = current.get(key, 0) + leaf.current
        if leaf.source == "1":
            initial[key] = initial.get(key, 0) + leaf.amount
    spend: dict[tuple[str, int, str], int] = {}
    classes: dict[tuple[str, int, str], list[str]] = {}
    for (region_code, year, fund, cls), value in sorted(current.items()):
        spend[(region_code, year, fund)] = spend.get((region_code, year, fund), 0) + value
        classes.setdefault((region_code, year, fund), []).append(cls)
    for year in (2025, 2026):
        months = last_month(year)
        for region in regions:
            yield from _expense(region, year, months, codes, initial, current, paid, classes)
            yield from _income(rng, region, year, months, codes, spend)


def _stamp(year: int, month: int) -> str:
    next_year, next_month = (year, month + 1) if month < 12 else (year + 1, 1)
    return f"{next_year}-{next_month:02d}-05T09:00:00+08:00"


def _expense(
    region: Region,
    year: int,
    months: int,
    codes: Codes,
    initial: dict,
    current: dict,
    paid: dict,
    classes: dict,
) -> Iterator[Row]:  # type: ignore[type-arg]
    for fund in ("1", "2", "3", "4"):
        for cls in classes.get((region.code, year, fund), []):
            key = (region.code, year, fund, cls)
            acc = 0
            for m in range(1, months + 1):
                acc += paid.get((region.code, year, fund, cls, m), 0)
                yield (
                    region.code,
                    str(year),
                    str(m),
                    fund,
                    "expense",
                    cls,
                    codes.name("exp_func", cls, year),
                    yuan(initial.get(key, 0)),
                    yuan(current[key]),
                    yuan(acc),
                    "0",
                    _stamp(year, m),
                )


def _income(
    rng: random.Random, region: Region, year: int, months: int, codes: Codes, spent: dict
) -> Iterator[Row]:  # type: ignore[type-arg]
    def spend(fund: str) -> int:
        return spent.get((region.code, year, fund), 0)

    general = spend("1") * _REVENUE_FACTOR[region.level] // 1000
    plans: list[tuple[str, str, int]] = [("1", code, general * w // 1000) for code, w in _INCOME_1]
    plans.append(("2", "10301", max(spend("2") * 105 // 100, general * 20 // 100)))
    if region.level <= 2:
        plans.append(("3", "10306", max(spend("3") * 110 // 100, general * 2 // 100)))
    insurance = general * 60 // 100
    plans.extend(("4", code, insurance * w // 1000) for code, w in _INCOME_4)
    for fund, code, base in plans:
        budget_amt = round_up(max(base, 1_000_000), 1_000_000)
        adjusted = budget_amt * (980 + rng.randrange(80)) // 1000 // 100 * 100
        final = adjusted * (950 + rng.randrange(110)) // 1000
        for m, cum in enumerate(_cumulate(rng, final, months), start=1):
            yield (
                region.code,
                str(year),
                str(m),
                fund,
                "income",
                code,
                codes.name("income", code, year),
                yuan(budget_amt),
                yuan(adjusted),
                yuan(cum),
                "0",
                _stamp(year, m),
            )
    # social-insurance benefits (209) are paid from the fund's own accounts, mostly not by voucher
    benefits = insurance * 88 // 100
    budget_amt = round_up(max(benefits, 1_000_000), 1_000_000)
    final = budget_amt * (940 + rng.randrange(100)) // 1000
    if (region.code, year, "4") not in spent:
        for m, cum in enumerate(_cumulate(rng, final, months), start=1):
            yield (
                region.code,
                str(year),
                str(m),
                "4",
                "expense",
                "209",
                codes.name("exp_func", "209", year),
                yuan(budget_amt),
                yuan(budget_amt),
                yuan(cum),
                "0",
                _stamp(year, m),
            )
