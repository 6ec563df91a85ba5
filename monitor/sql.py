"""SQL pieces the rules share that SQLite and PostgreSQL spell differently, and the working-day join.

Each is a SQLAlchemy construct compiled per dialect, so a rule is written once and runs on both engines.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Date, Integer, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from schema.monitor import WorkCalendar


class ids_agg(FunctionElement[str]):  # noqa: N801 - reads like the SQL function it is
    """The distinct values of a text column of a group, comma-joined in order (the ``related`` ids)."""

    type = String()
    inherit_cache = True


@compiles(ids_agg, "sqlite")
def _ids_agg_sqlite(element: ids_agg, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    # SQLite's group_concat has no ORDER BY before 3.44; the runner sorts the ids it splits
    return f"group_concat(DISTINCT {compiler.process(arg, **kw)})"


@compiles(ids_agg, "postgresql")
def _ids_agg_pg(element: ids_agg, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    col = compiler.process(arg, **kw)
    return f"string_agg(DISTINCT {col}, ',' ORDER BY {col})"


class days_between(FunctionElement[int]):  # noqa: N801
    """Calendar days from the first date to the second (later minus earlier), a whole number."""

    type = Integer()
    inherit_cache = True


@compiles(days_between, "sqlite")
def _days_sqlite(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(julianday({b}) - julianday({a}) AS INTEGER)"


@compiles(days_between, "postgresql")
def _days_pg(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({b} AS date) - CAST({a} AS date))"


class month_of(FunctionElement[int]):  # noqa: N801
    """The calendar month (1-12) of a date."""

    type = Integer()
    inherit_cache = True


@compiles(month_of, "sqlite")
def _month_sqlite(element: month_of, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"CAST(strftime('%m', {compiler.process(arg, **kw)}) AS INTEGER)"


@compiles(month_of, "postgresql")
def _month_pg(element: month_of, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"CAST(EXTRACT(MONTH FROM {compiler.process(arg, **kw)}) AS INTEGER)"


class year_month(FunctionElement[str]):  # noqa: N801
    """A date's month as text, ``YYYY-MM``."""

    type = String()
    inherit_cache = True


@compiles(year_month, "sqlite")
def _ym_sqlite(element: year_month, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"strftime('%Y-%m', {compiler.process(arg, **kw)})"


@compiles(year_month, "postgresql")
def _ym_pg(element: year_month, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"to_char({compiler.process(arg, **kw)}, 'YYYY-MM')"


def calendar_day(name: str) -> Any:
    """An alias of the working-day calendar, to join one date column to (see :func:`workday_lag`)."""
    return aliased(WorkCalendar, name=name)


def workday_lag(earlier: Any, later: Any) -> Any:
    """Working days after the ``earlier`` calendar row's day up to and including the ``later`` one's: the
    next working day is a lag of 1 (``monitor.thresholds``). Both are :func:`calendar_day` aliases."""
    return later.workday_no - earlier.workday_no


def date_literal(value: Any) -> Any:
    return literal(value, Date())


class unindexed(FunctionElement[str]):  # noqa: N801
    """A text column as a value that no index may deliver in order: on SQLite the documented unary ``+``.
    A full run's grouping of every payment reads the table once and sorts it; walking an index instead
    fetches the rows one by one, several times slower (bench/RESULTS.md, monitoring)."""

    type = String()
    inherit_cache = True


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"+{compiler.process(arg, **kw)}"


@compiles(unindexed, "postgresql")
def _unindexed_pg(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return compiler.process(arg, **kw)


class same_text(FunctionElement[bool]):  # noqa: N801
    """Two text values equal, or both missing. SQLite's ``IS`` is that, and an index can answer it;
    PostgreSQL's ``IS NOT DISTINCT FROM`` cannot be hashed or merged (a join on it is a nested loop), so
    there both sides are compared with a missing value as the empty text."""

    type = Boolean()
    inherit_cache = True


@compiles(same_text, "sqlite")
def _same_text_sqlite(element: same_text, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"({a} IS {b})"


@compiles(same_text, "postgresql")
def _same_text_pg(element: same_text, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"(coalesce({a}, '') = coalesce({b}, ''))"
