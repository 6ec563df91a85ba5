"""The working-day calendar (工作日历) the rules count deadlines with, kept in the warehouse.

Working days come from ``chinese_calendar``: weekends and public holidays are rest days, and the swapped
working days (调休, a Saturday or Sunday worked in exchange for a holiday bridge) are working days. A year
the package does not know yet falls back to Monday–Friday and is marked ``official = false``, and the run
reports it, so that a deadline counted in such a year is known to be approximate.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
from sqlalchemy import Connection, Integer, cast, delete, func, insert, select

from schema.monitor import WorkCalendar

FIRST_YEAR = 2015


def known_until() -> date:
    """The last day ``chinese_calendar`` knows the holidays of (the end of its last year)."""
    return date(max(d.year for d in chinese_calendar.holidays), 12, 31)


def calendar_rows(first: date, last: date) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    official_end = known_until()
    count = 0
    day = first
    while day <= last:
        official = day <= official_end
        workday = chinese_calendar.is_workday(day) if official else day.weekday() < 5
        count += workday
        rows.append({"day": day, "is_workday": workday, "workday_no": count, "official": official})
        day += timedelta(days=1)
    return rows


def ensure_calendar(conn: Connection, upto_year: int) -> list[int]:
    """Fill ``work_calendar`` from 1 January of :data:`FIRST_YEAR` to the end of ``upto_year + 1`` (the
    year after the newest data, for deadlines that run past it), unless it already holds exactly that
    with the package's current knowledge. Returns the years that are not on the official calendar."""
    last = date(max(upto_year + 1, FIRST_YEAR), 12, 31)
    first = date(FIRST_YEAR, 1, 1)
    have = conn.execute(
        select(func.count(), func.max(WorkCalendar.day), func.sum(cast(WorkCalendar.official, Integer)))
    ).one()
    wanted_official = max(0, (min(last, known_until()) - first).days + 1)
    if not (have[0] == (last - first).days + 1 and have[1] == last and (have[2] or 0) == wanted_official):
        conn.execute(delete(WorkCalendar))
        conn.execute(insert(WorkCalendar), calendar_rows(first, last))
    return list(range(known_until().year + 1, last.year + 1))
