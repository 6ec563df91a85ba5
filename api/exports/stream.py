"""An export as an HTTP answer: a zip streamed while its rows are read, with constant memory.

A route validates its parameters and builds its query with the session of the request first (a bad
filter answers as JSON does, before anything is streamed), then answers :func:`export_response`. The
rows are read by the response body itself, in a read transaction of its own on the app's engine: the
request's session belongs to a ``yield`` dependency, which FastAPI may close before a streaming body runs.
On PostgreSQL that transaction has its own statement timeout (``OVERSIGHT_EXPORT_STATEMENT_TIMEOUT_MS``)
and no JIT, like :func:`api.deps.get_session`; a query's rows arrive through a server-side cursor,
``yield_per`` rows at a time (SQLite's cursor is read as it goes anyway).
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

import anyio
from fastapi import Request
from sqlalchemy import Connection, Engine, Select, select, text
from sqlalchemy.orm import Session
from starlette.responses import StreamingResponse

from api.errors import Unavailable
from api.exports.spec import (
    Column,
    ExportFormat,
    ExportQuery,
    ExportScope,
    ExportSettings,
    Manifest,
    ManifestColumn,
)
from api.exports.writers import Tally, zip_export
from connectors.ingest.convert import format_amount
from schema.loading import LoadRun
from security.scope import Scope

YIELD_PER = 2000  # rows fetched from the server-side cursor at a time
IGNORED = frozenset({"format", "cursor", "limit"})  # what an export does not depend on
RowSource = Callable[[Connection], Iterable[Any]]


@cache
def export_statement_timeout_ms() -> int:
    return ExportSettings().export_statement_timeout_ms


@cache
def export_idle_timeout_ms() -> int:
    return ExportSettings().export_idle_timeout_ms


@cache
def _slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(ExportSettings().export_concurrency)


class _Slot:
    """One of the process's export slots, given back exactly once: when the stream ends, or, for an
    answer whose body never started (its client left first), when it is collected."""

    def __init__(self) -> None:
        if not _slots().acquire(blocking=False):
            raise Unavailable(
                f"{ExportSettings().export_concurrency} exports are being streamed already; retry in a minute"
            )
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            _slots().release()

    def __del__(self) -> None:
        self.release()


def streamed(statement: Select[Any], convert: Callable[[Any], Any]) -> RowSource:
    """Rows of ``statement``, read through one server-side cursor and each converted by ``convert`` (the
    JSON route's own row conversion, so what is masked there is masked here) from a named tuple of the
    statement's columns."""

    def rows(conn: Connection) -> Iterator[Any]:
        if conn.dialect.name == "sqlite":
            records = _sqlite_records(conn, statement)
            try:
                yield from map(convert, records)
            finally:
                records.close()  # its cursor too, when the answer stops early
            return
        result = conn.execution_options(yield_per=YIELD_PER).execute(statement)
        try:
            # named tuples: reading a field by name costs a tenth of a Row's, and a conversion reads all
            record = namedtuple("Record", list(result.keys()), rename=True)  # type: ignore[misc]
            yield from map(convert, map(record._make, result))
        finally:
            result.close()

    return rows


def _sqlite_records(conn: Connection, statement: Select[Any]) -> Generator[Any, None, None]:
    """The rows of ``statement`` on SQLite as named tuples, read from the DBAPI cursor itself with only
    the result processors some columns need (a date stored as text becomes a date): SQLite has no
    server-side cursor to stream from (its cursor steps through the query as it is read), and
    SQLAlchemy's own rows cost a tenth of a large export's time."""
    result = conn.execute(statement)
    try:
        dialect = conn.dialect
        record = namedtuple("Record", list(result.keys()), rename=True)  # type: ignore[misc]
        make = record._make
        processors = [
            (i, processor)
            for i, column in enumerate(statement.selected_columns)
            if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
        ]
        cursor = result.cursor
        while batch := cursor.fetchmany(YIELD_PER):
            if not processors:
                yield from map(make, batch)
                continue
            for raw in batch:
                values = list(raw)
                for i, processor in processors:
                    values[i] = processor(values[i])
                yield make(values)
    finally:
        result.close()


def ready(rows: Sequence[Any]) -> RowSource:
    """Rows already computed (a breakdown, a trace: bounded by their own nature, built by the JSON's code)."""
    return lambda _conn: iter(rows)


def export_response(
    request: Request,
    *,
    name: str,
    fmt: ExportFormat,
    scope: Scope,
    columns: Sequence[Column],
    rows: RowSource,
    session: Session | None = None,
    engine: Engine | None = None,
    data_as_of: bool = True,
) -> StreamingResponse:
    """The zip of ``rows`` (see :mod:`api.exports.writers`), read from ``engine`` (default: the app's
    warehouse engine) when the body is sent. ``session``, the request's, has done its reads (validating,
    building the query): it is closed here, as FastAPI would close it only after the last byte, holding
    a connection (and on SQLite a read snapshot) all along. ``data_as_of``: whether the data comes from
    loads (the manifest names the newest finished load run), not from the audit log."""
    assert fmt is not ExportFormat.json
    if session is not None:
        session.close()
    source = engine if engine is not None else request.app.state.engine
    warehouse: Engine = request.app.state.engine
    params: dict[str, str | list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key in IGNORED:
            continue
        held = params.get(key)
        params[key] = value if held is None else [*(held if isinstance(held, list) else [held]), value]
    query = ExportQuery(path=request.url.path, params=params)
    who = ExportScope(region=scope.region, pii=scope.pii)
    generated = datetime.now(UTC)
    kinds = [ManifestColumn(name=c.name, type=c.type) for c in columns]

    def produce() -> Generator[bytes, None, None]:
        with source.connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL statement_timeout = {export_statement_timeout_ms()}"))
                conn.execute(
                    text(f"SET LOCAL idle_in_transaction_session_timeout = {export_idle_timeout_ms()}")
                )
                conn.execute(text("SET LOCAL jit = off"))
            as_of = _data_as_of(conn if source is warehouse else None, warehouse) if data_as_of else None

            def manifest(tally: Tally, file: str) -> Manifest:
                return Manifest(
                    export=name,
                    query=query,
                    scope=who,
                    generated_at=generated.isoformat(),
                    data_as_of=as_of,
                    rows=tally.rows,
                    sums={k: format_amount(v) for k, v in tally.sums.items()},
                    columns=kinds,
                    file=file,
                    bytes=tally.bytes,
                    sha256=tally.sha256.hexdigest(),
                )

            yield from zip_export(name, fmt, columns, rows(conn), manifest)

    filename = f"{name}-{generated:%Y-%m-%dT%H%M%SZ}.zip"
    slot = _Slot()
    return StreamingResponse(
        _in_threads(produce(), slot),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _data_as_of(conn: Connection | None, warehouse: Engine) -> str | None:
    """When the newest finished load run finished (UTC), read in the export's own transaction when it
    reads the warehouse."""
    query = (
        select(LoadRun.finished_at)
        .where(LoadRun.finished_at.is_not(None))
        .order_by(LoadRun.finished_at.desc())
        .limit(1)
    )
    if conn is not None:
        value = conn.execute(query).scalar()
    else:
        with warehouse.connect() as own:
            value = own.execute(query).scalar()
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


async def _in_threads(chunks: Generator[bytes, None, None], slot: _Slot) -> AsyncIterator[bytes]:
    """Each step of the blocking producer in a worker thread, off the event loop; when the answer ends
    early (the client went away, the app stops), the producer is closed in one too, which ends its
    transaction and removes its temporary files."""
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(next, chunks, None)
            if chunk is None:
                return
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            try:
                await anyio.to_thread.run_sync(chunks.close)
            finally:
                slot.release()
