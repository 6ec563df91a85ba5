"""When an indicator's payments fall, and the 一卡通 batches of subsidies with their detail lines.

Scheduled payments (salaries, meals, subsidies, transfers to the social-insurance 专户) fall on a fixed
working day of their month, distinct per kind, so one unit never pays one payee twice on one day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from demo.budget import Indicator, window
from demo.profiles import BATCH_ITEMS, BatchItem
from demo.regions import Region
from demo.workdays import month_workdays

#: index of the working day within the month on which each scheduled kind is paid
_DAY_INDEX = {
    "batch:dibao": 3,
    "meals": 5,
    "salary": 8,
    "batch:disability": 11,
    "batch:pension": 14,
    "to_special_account": 16,
    "batch:farmland": 6,
}
_MEALS_MONTHS = (4, 5, 6, 7, 10, 11)
_SPECIAL_ACCOUNT_MONTHS = (2, 5, 8, 10)

#: person index offsets of each subsidy within a township's block (demo.payees.RECIPIENT_BLOCK)
_ITEM_OFFSET = {"farmland": 0, "dibao": 200, "disability": 300, "pension": 400}  # + 100 for a city's payer


def is_scheduled(profile: str) -> bool:
    return profile in ("salary", "meals", "to_special_account") or profile.startswith("batch:")


def last_month(year: int) -> int:
    return 12 if year == 2025 else 10


def schedule(leaf: Indicator) -> list[tuple[date, tuple[int, ...]]]:
    """(payment day, months covered) of a scheduled indicator; a late indicator's first payment catches up."""
    days = window(leaf)
    if not days:
        return []
    start, end = days[0], days[-1]
    profile = leaf.profile
    year = leaf.year
    if profile == "salary":
        months: tuple[int, ...] = tuple(range(1, last_month(year) + 1))
    elif profile == "meals":
        months = tuple(m for m in _MEALS_MONTHS if m <= last_month(year))
    elif profile == "to_special_account":
        months = tuple(m for m in _SPECIAL_ACCOUNT_MONTHS if m <= last_month(year))
    else:
        months = tuple(m for m in BATCH_ITEMS[profile[6:]].months if m <= last_month(year))
    index = _DAY_INDEX[profile]
    cumulative_kind = profile != "batch:farmland"
    out: list[tuple[date, tuple[int, ...]]] = []
    owed: list[int] = []
    for m in range(1, last_month(year) + 1):
        if m in months:
            owed.append(m)
        if not owed:
            continue
        wd = month_workdays(year, m)
        day = wd[min(index, len(wd) - 1)]
        if day < start:
            later = [d for d in wd if d >= start]
            if not later:
                continue
            day = later[0]
        if day > end:
            continue
        out.append((day, tuple(owed) if cumulative_kind else (owed[-1],)))
        owed = []
    return out


@dataclass(slots=True)
class Line:
    """One 一卡通 detail line before it is written."""

    name: str
    iden: str
    card: str
    bank: str
    amount: int
    town: str
    village: str
    pay_month: str
    item: str
    tag: object = None  # a planted anomaly this line belongs to


def person_amount(item: BatchItem, county: Region, k: int, year: int) -> int:
    """The fen paid to person ``k`` for one period of ``item`` (standards by the county's policy)."""
    if item.key == "farmland":
        area_centimu = 150 + (k * 7919) % 1350
        rate_fen = 9_500 + (county.county_index * 37 + year) % 1_500
        return area_centimu * rate_fen // 100
    if item.key == "dibao":
        return (320 + (k * 31) % 241) * 100
    if item.key == "disability":
        return 8_000
    return 15_300 + (k * 53) % 147 * 100


def batch_lines(
    item: BatchItem,
    towns: list[Region],
    year: int,
    months: tuple[int, ...],
    persons: int,
    person,
    city_level: bool = False,
) -> list[Line]:  # type: ignore[no-untyped-def]
    """Every line of one batch: each recipient of each town, once per month covered.

    A city's own payer (市本级) pays other people than the county's payer of the same subsidy.
    """
    lines: list[Line] = []
    for town in towns:
        county = town.parent
        assert county is not None
        base = town_rank(town) * 600 + _ITEM_OFFSET[item.key] + (100 if city_level else 0)
        for j in range(persons):
            k = base + j
            name, iden, card, bank = person(county, k)
            village = f"{town.code}{200 + j // 15:03d}"
            amount = person_amount(item, county, k, year)
            for m in months:
                lines.append(
                    Line(
                        name,
                        iden,
                        card,
                        bank,
                        amount,
                        town.code,
                        village,
                        f"{year}-{m:02d}",
                        item.subsidy_item,
                    )
                )
    return lines


def town_rank(town: Region) -> int:
    """The township's place among all its county's townships (stable whichever sample is kept)."""
    return town.rank


def purpose(item: BatchItem, year: int, months: tuple[int, ...]) -> str:
    if item.key == "farmland":
        return f"发放{year}年{item.subsidy_item}"
    if len(months) == 1:
        return f"发放{year}年{months[0]}月{item.subsidy_item}"
    return f"发放{year}年{months[0]}-{months[-1]}月{item.subsidy_item}"
