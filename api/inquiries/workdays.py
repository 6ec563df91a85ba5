"""Working days (工作日) for inquiry deadlines, on the Chinese calendar.

Weekends and public holidays are rest days and the swapped working days (调休, a Saturday or Sunday worked
to bridge a holiday) are working days, as ``chinese_calendar`` knows them. Beyond the last year the package
knows (:func:`monitor.calendar.known_until`) the count falls back to Monday–Friday, as the warnings' own
calendar does, so a deadline that far ahead is approximate rather than refused.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar

from monitor.calendar import known_until


def is_workday(day: date) -> bool:
    """A working day on the Chinese calendar; Monday to Friday beyond the years the package knows."""
    if day <= known_until():
        return bool(chinese_calendar.is_workday(day))
    return day.weekday() < 5


def add_workdays(day: date, n: int) -> date:
    """The ``n``-th working day after ``day`` (``day`` itself does not count, whatever it is): an inquiry
    raised on ``day`` with ``n`` days to answer must be answered by the end of the day returned."""
    if n < 0:
        raise ValueError(f"working days to add: a whole number of at least 0; got {n}")
    while n > 0:
        day += timedelta(days=1)
        if is_workday(day):
            n -= 1
    return day
