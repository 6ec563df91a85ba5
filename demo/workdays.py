"""Working days (工作日) by the Chinese calendar, with its public holidays and swapped working days."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import date, timedelta
from functools import cache

import chinese_calendar

#: the demo's fiscal years and its as-of date: 2025 is closed, 2026 runs to the end of October
YEARS = (2025, 2026)
AS_OF = date(2026, 10, 31)

_START = date(2024, 7, 1)
_END = date(2026, 12, 31)  # the last year chinese_calendar knows


@cache
def _calendar() -> tuple[list[date], dict[date, int]]:
    days: list[date] = []
    d = _START
    while d <= _END:
        if chinese_calendar.is_workday(d):
            days.append(d)
        d += timedelta(days=1)
    return days, {d: i for i, d in enumerate(days)}


def is_workday(d: date) -> bool:
    return d in _calendar()[1]


def next_workday(d: date) -> date:
    """``d`` itself when it is a working day, else the next working day."""
    days, _ = _calendar()
    return days[bisect_left(days, d)]


def prev_workday(d: date) -> date:
    days, _ = _calendar()
    return days[bisect_right(days, d) - 1]


def add_workdays(d: date, n: int) -> date:
    """The working day that is a lag of ``n`` working days after ``d`` (see monitor.thresholds)."""
    days, _ = _calendar()
    return days[bisect_right(days, d) - 1 + n] if n > 0 else d


def lag_workdays(earlier: date, later: date) -> int:
    """Working days after ``earlier`` up to and including ``later``."""
    days, _ = _calendar()
    return bisect_right(days, later) - bisect_right(days, earlier)


@cache
def workdays_between(first: date, last: date) -> tuple[date, ...]:
    """The working days from ``first`` to ``last``, both included."""
    days, _ = _calendar()
    return tuple(days[bisect_left(days, first) : bisect_right(days, last)])


@cache
def month_workdays(year: int, month: int) -> tuple[date, ...]:
    last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    return workdays_between(date(year, month, 1), last)


@cache
def rest_days(year: int) -> tuple[date, ...]:
    """Weekends and public holidays of ``year`` up to the year's end of data (non-working days)."""
    out = []
    d = date(year, 1, 1)
    while d <= year_end(year):
        if not is_workday(d):
            out.append(d)
        d += timedelta(days=1)
    return tuple(out)


def year_end(year: int) -> date:
    """The last day of data in ``year``: 31 December, or the as-of date in the running year."""
    return min(date(year, 12, 31), AS_OF)


def last_workday(year: int) -> date:
    return prev_workday(year_end(year))


def time_progress_permille(year: int) -> int:
    """序时进度 at the year's end of data, in per-mille of the calendar year."""
    days = (date(year, 12, 31) - date(year, 1, 1)).days + 1
    return ((year_end(year) - date(year, 1, 1)).days + 1) * 1000 // days
