"""Engines and sessions for the warehouse, on SQLite (embedded default) or PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_from_hint(self: SQLiteCompiler, table: object, text: str | None) -> str | None:
    return text


# SQLAlchemy renders a table hint (``Select.with_hint(table, "INDEXED BY ix", "sqlite")``) only for the
# dialects it knows hints of; SQLite's is its ``INDEXED BY`` clause, written right after the table's name.
SQLiteCompiler.get_from_hint_text = _sqlite_from_hint  # type: ignore[method-assign,assignment]


class DatabaseSettings(BaseSettings):
    """Where the warehouse lives."""

    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./oversight.db",
        description="SQLAlchemy URL of the warehouse: a SQLite file (default) or postgresql+psycopg://…",
    )
    statement_timeout_ms: int = Field(
        default=30_000, description="Longest time one SQL statement of an API request may run (PostgreSQL)."
    )


def normalise_url(url: str) -> str:
    """Accept the plain ``postgresql://`` form and use the psycopg 3 driver for it."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str | None = None, *, read_only: bool = False, **kwargs: object) -> Engine:
    """An engine configured the same way for every caller (CLI, API, tests). ``read_only``: every
    connection refuses writes (SQLite ``query_only``; PostgreSQL ``default_transaction_read_only``), as
    the API reads the fiscal data through (it writes only its audit log, through an engine of its own)."""
    url = normalise_url(url or DatabaseSettings().database_url)
    # an error's text shows the statement but not its values: they are fiscal and personal data
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)  # type: ignore[arg-type]
        event.listen(engine, "connect", _sqlite_pragmas)
        if read_only:
            event.listen(engine, "connect", _sqlite_read_only)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if read_only:
        kwargs["connect_args"] = {"options": "-c default_transaction_read_only=on"}
    return create_engine(url, pool_pre_ping=True, **kwargs)  # type: ignore[arg-type]


def _sqlite_read_only(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only = ON")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # SQLAlchemy's recipe for real SQLite transactions (pysqlite's own BEGIN handling is off, see below).
    # A writer asks for IMMEDIATE so that its read-then-write transaction holds the write lock from the
    # start: otherwise another process's commit in between makes the upgrade to a write fail.
    immediate = conn.get_execution_options().get("sqlite_immediate")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_conn.isolation_level = None  # transactions are begun by _sqlite_begin
    # WAL lets the API read while a load writes; NORMAL sync is durable across application crashes in WAL.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=OFF")
    # 32 MB of page cache per connection; sorts (an index build after a bulk load) spill to temporary
    # files rather than memory, so a load's footprint does not grow with the size of the table
    cur.execute("PRAGMA cache_size=-32768")
    cur.close()


@cache
def default_engine() -> Engine:
    return make_engine()


@cache
def reader_engine() -> Engine:
    """The API's engine: the warehouse, read only."""
    return make_engine(read_only=True)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: on SQLite it takes the write lock at once (BEGIN IMMEDIATE)."""
    with engine.connect() as conn:
        conn = conn.execution_options(sqlite_immediate=True)
        with conn.begin():
            yield conn


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session
