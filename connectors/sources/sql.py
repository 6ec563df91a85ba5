"""``sql``: a source system's own database, read through SQLAlchemy, read only.

Each stream reads one table (a provincial 预算管理一体化 schema's ``PAY_VOUCHER_BILL``, say) from its bookmark
less the look-back window: ``WHERE UPDATE_TIME >= :since ORDER BY UPDATE_TIME, <key>``, streamed with a
server-side cursor in one read-only, repeatable-read transaction, so a stream is one consistent snapshot and
memory stays bounded however many rows changed. Table and column names are taken as the source spells them
(upper-case in 一体化 systems); the mapping turns them into the feed's.

Connections refuse writes (PostgreSQL ``default_transaction_read_only``, MySQL/MariaDB ``SESSION TRANSACTION
READ ONLY``, SQLite ``mode=ro``); each statement is bounded by the source's timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Engine, MetaData, Table, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError
from sqlalchemy.types import Date, DateTime, String

from connectors.ingest.convert import SHANGHAI
from connectors.sync.core import RecordSource, SourceError, Stream
from schema.db import normalise_url

FETCH = 5_000


class SqlSource(RecordSource):
    kind = "sql"
    sorted_by_default = True  # every read is ORDER BY cursor, key
    source_keys = frozenset({"url", "fetch"})
    stream_keys = frozenset({"from", "schema", "where", "columns", "cursor_format"})

    def __init__(
        self, name: str, url: str, streams: list[Stream], *, timeout_s: float = 60.0, fetch: int = FETCH
    ) -> None:
        super().__init__(name, streams)
        self.url = normalise_url(url)
        self.timeout_s = timeout_s
        self.fetch = fetch
        self._engine: Engine | None = None
        self._tables: dict[str, Table] = {}

    @classmethod
    def from_config(cls, name: str, cfg: dict[str, Any], streams: list[Stream], where: str) -> SqlSource:
        from connectors.sync.config import ConfigError, duration

        url = cfg.get("url")
        if not isinstance(url, str) or not url:
            raise ConfigError(f"{where}.url: an sql source needs a SQLAlchemy URL (a secret: use ${{VAR}})")
        try:
            make_url(normalise_url(url))
        except Exception:  # noqa: BLE001 - any unparsable URL
            raise ConfigError(f"{where}.url: not a SQLAlchemy URL") from None
        if not streams:
            raise ConfigError(f"{where}: no streams (add [[{where}.streams]] or a preset)")
        fetch = cfg.get("fetch", FETCH)
        if not isinstance(fetch, int) or fetch < 1:
            raise ConfigError(f"{where}.fetch: a positive number of rows")
        timeout = duration(cfg.get("timeout", 60), f"{where}.timeout").total_seconds()
        return cls(name, url, streams, timeout_s=timeout, fetch=fetch)

    def describe(self) -> str:
        return f"sql {make_url(self.url).render_as_string(hide_password=True)}"

    # -- connection ---------------------------------------------------------------------------------------

    def _make_engine(self) -> Engine:
        url = make_url(self.url)
        timeout = max(1, int(self.timeout_s))
        backend = url.get_backend_name()
        if backend == "postgresql":
            options = f"-c default_transaction_read_only=on -c statement_timeout={timeout * 1000}"
            return create_engine(
                url, connect_args={"connect_timeout": timeout, "options": options}, pool_pre_ping=True
            )
        if backend in ("mysql", "mariadb"):
            engine = create_engine(
                url,
                connect_args={"connect_timeout": timeout, "read_timeout": timeout, "charset": "utf8mb4"},
                pool_pre_ping=True,
            )

            @event.listens_for(engine, "connect")
            def _read_only(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("SET SESSION TRANSACTION READ ONLY")
                cur.close()

            return engine
        if backend == "sqlite":
            path = url.database or ""
            if not path or path == ":memory:":
                raise SourceError("an sql source on SQLite needs a database file")
            engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")

            @event.listens_for(engine, "connect")
            def _busy(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.execute(f"PRAGMA busy_timeout = {timeout * 1000}")

            return engine
        return create_engine(url, pool_pre_ping=True)

    def open(self) -> None:
        try:
            self._engine = self._make_engine()
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SourceError:
            raise
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise SourceError(f"cannot connect to {self.describe()}: {_reason(exc)}") from None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        self._tables.clear()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self.open()
        assert self._engine is not None
        return self._engine

    def table(self, stream: Stream) -> Table:
        """The stream's source table, reflected (names as the source spells them)."""
        if stream.name in self._tables:
            return self._tables[stream.name]
        name = str(stream.options.get("from") or stream.name)
        schema = stream.options.get("schema")
        metadata = MetaData()
        last: Exception | None = None
        for candidate in dict.fromkeys((name, name.lower(), name.upper())):
            try:
                table = Table(candidate, metadata, schema=schema, autoload_with=self.engine)
                break
            except NoSuchTableError as exc:
                last = exc
            except SQLAlchemyError as exc:
                raise SourceError(
                    f"cannot read the table {name} of {self.describe()}: {_reason(exc)}"
                ) from None
        else:
            raise SourceError(f"{self.describe()} has no table {name!r}") from last
        if stream.cursor and _column(table, stream.cursor) is None:
            raise SourceError(f"table {name} has no cursor column {stream.cursor!r}")
        table.info["sqlite"] = self.engine.dialect.name == "sqlite"
        self._tables[stream.name] = table
        return table

    # -- reading -------------------------------------------------------------------------------------------

    def newest(self, stream: Stream) -> Any:
        table = self.table(stream)
        cursor = _column(table, stream.cursor or "")
        if cursor is None:
            return None
        query = select(func.max(cursor)).select_from(table)
        where = stream.options.get("where")
        if where:
            query = query.where(text(f"({where})"))
        try:
            with self.engine.connect() as conn:
                return self._from_source(stream, cursor, conn.execute(query).scalar())
        except SQLAlchemyError as exc:
            raise SourceError(f"cannot read {table.name} of {self.describe()}: {_reason(exc)}") from None

    def pages(self, stream: Stream, since: Any) -> Iterator[list[dict[str, Any]]]:
        table = self.table(stream)
        columns = list(table.columns)
        wanted = stream.options.get("columns")
        if wanted:
            columns = [c for c in columns if c.name.lower() in {str(w).lower() for w in wanted}]
        query = select(*columns)
        cursor = _column(table, stream.cursor) if stream.cursor else None
        if cursor is not None and since is not None:
            query = query.where(cursor >= self._to_source(stream, cursor, since))
        where = stream.options.get("where")
        if where:
            query = query.where(text(f"({where})"))
        order = [cursor] if cursor is not None else []
        for key in stream.key:
            col = _column(table, stream.mapping.source_of(key) or key)
            if col is not None:
                order.append(col)
        if order:
            query = query.order_by(*order)
        names = [c.name for c in columns]
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(stream_results=True, yield_per=self.fetch)
                if conn.dialect.name in ("postgresql", "mysql", "mariadb"):
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    result = conn.execute(query)
                    for part in result.partitions(self.fetch):
                        yield [dict(zip(names, row, strict=True)) for row in part]
        except SQLAlchemyError as exc:
            raise SourceError(f"reading {table.name} of {self.describe()} failed: {_reason(exc)}") from None

    # -- cursor values in the source's own terms -----------------------------------------------------------

    @staticmethod
    def _to_source(stream: Stream, column: Column[Any], value: Any) -> Any:
        if stream.cursor_kind != "datetime" or not isinstance(value, datetime):
            return value
        if isinstance(column.type, DateTime) and column.type.timezone:
            return value
        local = value.astimezone(SHANGHAI).replace(tzinfo=None)  # the source's naive local time
        if _is_sqlite(column):
            # SQLite compares stamps as text, and binds them with microseconds: '… 09:00:00.000000' sorts
            # after the '… 09:00:00' another program wrote; a second earlier reads those rows too
            local -= timedelta(seconds=1)
        if isinstance(column.type, String):
            return local.strftime(stream.options.get("cursor_format") or "%Y-%m-%d %H:%M:%S")
        if isinstance(column.type, Date) and not isinstance(column.type, DateTime):
            return local.date()
        return local

    @staticmethod
    def _from_source(stream: Stream, column: Column[Any], value: Any) -> Any:
        fmt = stream.options.get("cursor_format")
        if fmt and isinstance(value, str) and stream.cursor_kind == "datetime":
            try:
                return datetime.strptime(value, fmt)
            except ValueError:
                raise SourceError(f"{stream.name}: the newest {column.name} {value!r} is not {fmt}") from None
        return value


def _is_sqlite(column: Column[Any]) -> bool:
    return bool(column.table.info.get("sqlite"))


def _column(table: Table, name: str) -> Column[Any] | None:
    wanted = name.lower()
    return next((c for c in table.columns if c.name.lower() == wanted), None)


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {first[0] if first else ''}"
