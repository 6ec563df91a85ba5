"""The periods of the monitoring reports (财库〔2015〕73号 asks for weekly, monthly, quarterly and annual
ones): an ISO week ``2025-W14``, a month ``2025-03``, a quarter ``2025-Q1`` or a year ``2025``, each a closed
range of calendar days."""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from api.errors import BadParameter

# The shapes a period may take; a shape with an impossible value (week 53 of a 52-week year, a year before
# the People's Republic) passes here and is refused by :func:`parse_period`.
PATTERN = r"^\d{4}(-W\d{2}|-\d{2}|-Q[1-4])?$"
_WEEK = re.compile(r"^(\d{4})-W(\d{2})\Z")
_MONTH = re.compile(r"^(\d{4})-(\d{2})\Z")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])\Z")
_YEAR = re.compile(r"^(\d{4})\Z")
FIRST_YEAR, LAST_YEAR = 1949, 2100


class PeriodKind(StrEnum):
    week = "week"  # 周报
    month = "month"  # 月报
    quarter = "quarter"  # 季报
    year = "year"  # 年报


class Period(BaseModel):
    label: str = Field(description="as asked: 2025-W14, 2025-03, 2025-Q1 or 2025")
    kind: PeriodKind
    first: date = Field(description="the period's first day")
    last: date = Field(description="the period's last day")


def _year(text: str) -> int:
    year = int(text)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise BadParameter("period", f"a year {FIRST_YEAR}-{LAST_YEAR}; got {year}")
    return year


def _month_end(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def parse_period(text: str) -> Period:
    """The period ``text`` names; anything else is a :class:`BadParameter` naming ``period``."""
    if m := _WEEK.match(text):
        year, week = _year(m.group(1)), int(m.group(2))
        weeks = date(year, 12, 28).isocalendar().week  # 28 December always lies in the year's last week
        if not 1 <= week <= weeks:
            raise BadParameter("period", f"{year} has ISO weeks 1-{weeks}; got week {week}")
        first = date.fromisocalendar(year, week, 1)
        return Period(label=text, kind=PeriodKind.week, first=first, last=first + timedelta(days=6))
    if m := _MONTH.match(text):
        year, month = _year(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise BadParameter("period", f"a month 01-12; got {m.group(2)}")
        return Period(
            label=text, kind=PeriodKind.month, first=date(year, month, 1), last=_month_end(year, month)
        )
    if m := _QUARTER.match(text):
        year, quarter = _year(m.group(1)), int(m.group(2))
        first_month = 3 * quarter - 2
        return Period(
            label=text,
            kind=PeriodKind.quarter,
            first=date(year, first_month, 1),
            last=_month_end(year, first_month + 2),
        )
    if m := _YEAR.match(text):
        year = _year(m.group(1))
        return Period(label=text, kind=PeriodKind.year, first=date(year, 1, 1), last=date(year, 12, 31))
    raise BadParameter(
        "period",
        f"an ISO week 2025-W14, a month 2025-03, a quarter 2025-Q1 or a year 2025; got {text[:20]!r}",
    )
