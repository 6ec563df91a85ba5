"""``oversight sync``: pull each stream of a source from its bookmark, land it, bring the rest up to date.

A record source's streams are read in the feed's load order (regions and units before the payments that
name them). Each stream's records are mapped to feed text and go through the one write path of ``oversight
load``: the same parser, checks, quarantine and merge, in committed chunks. The stream's bookmark is written
in each chunk's own transaction, so a sync killed half-way resumes where its last chunk ended, and the rows
re-read (the look-back window, the rest of a chunk that did not commit) merge as unchanged. After the streams,
the summaries are brought up to date and the warning rules run incrementally, as after a load.

A source that fails (down, too slow, answering garbage) stops its sync at the failing stream: the chunk in
flight rolls back, what committed before stays with its bookmark, and the error is kept in ``sync_state``
(``/v1/sources``) and logged. A malformed record is not a failure: it is quarantined like a bad feed row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, insert, select, update

from connectors.ingest.loader import (
    CHUNK,
    TableReport,
    _Context,
    _is_empty,
    apply_chunk,
    begin_run,
    finish_run,
    monitor_after,
    new_context,
    retry_collisions,
    save_table_report,
    settle_earlier,
)
from connectors.ingest.merge import CAPTURED, DELTA_COLUMNS, Counts, TableWriter, existing_values
from connectors.ingest.postload import after_load
from connectors.ingest.readers import BadLine
from connectors.ingest.rows import RowParser
from connectors.sync.core import RecordSource, Source, SourceError, Stream
from connectors.sync.lock import source_lock
from connectors.sync.mapping import safe_value
from schema.derived import PayeeChange, PaymentChange
from schema.feed import FeedTable, feed_tables
from schema.loading import LoadRun, Quarantine
from schema.models import MofDiv
from schema.sync import SyncState

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int | None], None]
T = TypeVar("T")


@dataclass
class StreamReport:
    stream: str
    table: str
    status: str = "ok"  # ok | failed | skipped (an earlier stream of the source failed)
    counts: Counts = field(default_factory=Counts)
    cursor: str | None = None  # the bookmark after the sync
    source_cursor: str | None = None  # the newest cursor the source reported
    error: str | None = None
    seconds: float = 0.0
    unknown_columns: list[str] = field(default_factory=list)


@dataclass
class SyncReport:
    source: str
    kind: str
    run_id: int | None
    streams: list[StreamReport]
    post_load: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def changed(self) -> int:
        return sum(s.counts.inserted + s.counts.updated + s.counts.deleted for s in self.streams)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def sync_source(
    engine: Engine,
    source: Source,
    *,
    chunk_size: int = CHUNK,
    progress: Progress | None = None,
    monitor: bool = True,
) -> SyncReport:
    """One sync of one source. Never raises for a failing source: the report (and ``sync_state``) says."""
    started = time.perf_counter()
    with source_lock(engine, source.name):
        if isinstance(source, RecordSource):
            report = _sync_records(engine, source, chunk_size, progress, monitor)
        else:
            report = source.sync(  # type: ignore[attr-defined]
                engine, progress=progress, monitor=monitor, chunk_size=chunk_size
            )
    report.seconds = time.perf_counter() - started
    return report


def ordered(streams: Iterable[Stream]) -> list[Stream]:
    """Streams in the feed's load order: a table after every table its rows must reference."""
    order = {name: i for i, name in enumerate(feed_tables())}
    return sorted(streams, key=lambda s: order[s.table])


def _sync_records(
    engine: Engine, source: RecordSource, chunk_size: int, progress: Progress | None, monitor: bool
) -> SyncReport:
    run_id, interrupted, now = begin_run(engine, source.name, f"sync:{source.describe()}", now_utc())
    with engine.connect() as conn:
        regions = set(conn.execute(select(MofDiv.mof_div_code)).scalars())
    ctx = new_context(run_id, source.name, regions, now)
    report = SyncReport(source.name, source.kind, run_id, [])
    changed: set[str] = set()
    streams = ordered(source.streams)
    try:
        unreachable = False
        try:
            source.open()
        except SourceError as exc:
            report.error, unreachable = f"{source.name}: {exc}", True
        for stream in streams:
            if report.error:
                skipped = StreamReport(stream.name, stream.table, "skipped")
                if unreachable:  # the source could not be opened: every stream shows why
                    skipped.status, skipped.error = "failed", report.error
                    _record_failure(engine, source, stream, run_id, report.error)
                report.streams.append(skipped)
                continue
            sr = _sync_stream(engine, source, stream, ctx, chunk_size, progress)
            report.streams.append(sr)
            save_table_report(engine, run_id, _table_report(source, sr))
            c = sr.counts
            if c.inserted or c.updated or c.deleted:
                changed.add(stream.table)
                if stream.table == "mof_div":
                    with engine.connect() as conn:
                        ctx.regions = set(conn.execute(select(MofDiv.mof_div_code)).scalars())
            if sr.status == "failed":
                report.error = f"{source.name}/{stream.name}: {sr.error}"
        if changed or interrupted:
            report.post_load = after_load(engine, run_id, changed, force=interrupted > 0, deltas=True)
    except BaseException as exc:
        finish_run(engine, run_id, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        source.close()
    if interrupted:
        settle_earlier(engine, run_id)
    finish_run(engine, run_id, report.error, settled=True)
    if monitor and changed:
        report.post_load.append(monitor_after(engine))
    return report


def _table_report(source: Source, sr: StreamReport) -> TableReport:
    status = "rejected" if sr.status == "failed" else "loaded"
    return TableReport(
        sr.table, f"{source.name}:{sr.stream}", status, sr.error, sr.counts, sr.unknown_columns, sr.seconds
    )


def _state_key(source: Source, stream: Stream) -> Any:
    return (SyncState.source == source.name) & (SyncState.stream == stream.name)


def save_state(conn: Connection, source: str, stream: str, *, rows: int = 0, **values: Any) -> str | None:
    """Write a stream's state (created at the first sync), ``rows`` added to its total; returns the
    bookmark it held."""
    key = (SyncState.source == source) & (SyncState.stream == stream)
    state = conn.execute(select(SyncState.cursor).where(key)).first()
    if state is None:
        values = {"rows_last": 0, **values}
        conn.execute(insert(SyncState).values(source=source, stream=stream, rows_total=rows, **values))
        return None
    conn.execute(update(SyncState).where(key).values(rows_total=SyncState.rows_total + rows, **values))
    return state.cursor


def _begin_stream(engine: Engine, source: Source, stream: Stream, run_id: int) -> str | None:
    """Mark the stream running; returns its bookmark."""
    with engine.begin() as conn:
        return save_state(
            conn,
            source.name,
            stream.name,
            status="running",
            last_run_id=run_id,
            last_attempt_at=now_utc(),
            table_name=stream.table,
        )


def _record_failure(engine: Engine, source: Source, stream: Stream, run_id: int, error: str) -> None:
    log.error("sync %s/%s failed: %s", source.name, stream.name, error)
    now = now_utc()
    with engine.begin() as conn:
        save_state(
            conn,
            source.name,
            stream.name,
            status="failed",
            last_run_id=run_id,
            last_attempt_at=now,
            last_error=error,
            last_error_at=now,
            table_name=stream.table,
        )


def _sync_stream(
    engine: Engine,
    source: RecordSource,
    stream: Stream,
    ctx: _Context,
    chunk_size: int,
    progress: Progress | None,
) -> StreamReport:
    started = time.perf_counter()
    ft = feed_tables()[stream.table]
    sr = StreamReport(stream.name, stream.table)
    label = f"{source.name}/{stream.name}"
    bookmark_text = _begin_stream(engine, source, stream, ctx.run_id)
    sr.cursor = bookmark_text
    try:
        bookmark = stream.load(bookmark_text)
        newest = stream.cursor_value(source.newest(stream)) if stream.cursor else None
        sr.source_cursor = stream.dump(newest)
        with engine.begin() as conn:
            conn.execute(
                update(SyncState).where(_state_key(source, stream)).values(source_cursor=sr.source_cursor)
            )
        # per run: the merge's tie rule (same stamp, same file: the later line wins) must not compare lines of
        # two different syncs
        file_name = f"{source.name}:{stream.name}:{ctx.run_id}"
        parser = RowParser(ft, stream.mapping.header, ctx.parse, file_name)
        writer = TableWriter(ft, engine.dialect.name, file_name, fresh=_is_empty(engine, ft))
        writer.capture = ft.name in CAPTURED  # summaries and payees then move by what changed
        retried, line = _retry_pending(engine, source, ft, parser, writer, ctx, file_name)
        sr.counts.add(retried)
        high = bookmark
        in_order = stream.sorted
        bookmark_moved = False
        unknown: set[str] = set()
        cursor_key: str | None = None
        pages = source.pages(stream, stream.since(bookmark))
        chunks = _rechunk(pages, chunk_size)
        # a sorted stream's chunk commits as soon as it is read; an unsorted one's bookmark can only move
        # with its last chunk, which one chunk of look-ahead recognises
        marked = _with_last(chunks)
        for records, last in marked:
            lines: list[tuple[int, Any]] = []
            for record in records:
                line += 1
                row = stream.mapping.row(record)
                if stream.cursor:
                    if cursor_key is None or cursor_key not in record:
                        cursor_key = _find_key(record, stream.cursor)
                    try:
                        value = stream.cursor_value(record.get(cursor_key)) if cursor_key else None
                    except SourceError as exc:  # this record's stamp is unreadable: it alone is bad
                        row = BadLine(str(exc), {str(k): safe_value(v) for k, v in record.items()})
                        value = None
                    if value is not None:
                        if high is None or value > high:
                            high = value
                        elif in_order and value < high and bookmark_moved:
                            # a stream declared sorted is not: the bookmark stays where it is until the end
                            log.warning(
                                "%s: records out of cursor order; the bookmark moves at the end", label
                            )
                            in_order = False
                lines.append((line, row))
            if records:
                unknown.update(stream.mapping.plan(tuple(records[0]))[1])
            parsed = parser.chunk(lines)
            if parsed.bad:  # the quarantine keeps the record as the source holds it
                first = lines[0][0]
                parsed.bad = [
                    (n, f, why, {str(k): safe_value(v) for k, v in records[n - first].items()})
                    for n, f, why, _raw in parsed.bad
                ]
            mark = stream.dump(high) if (in_order or last) else None
            bookmark_moved = bookmark_moved or (mark is not None and high != bookmark)
            also = partial(_advance, source.name, stream.name, mark, parsed.read, writer, ctx.run_id)
            sr.counts.add(
                retry_collisions(
                    partial(apply_chunk, engine, ft, writer, parser.header, parsed, ctx, file_name, also)
                )
            )
            if mark is not None:
                sr.cursor = mark
            if progress:
                progress(label, sr.counts.read, None)
        sr.unknown_columns = sorted(unknown)
        with engine.begin() as conn:
            conn.execute(
                update(SyncState)
                .where(_state_key(source, stream))
                .values(status="ok", last_success_at=now_utc(), rows_last=sr.counts.read)
            )
        if progress:
            progress(label, sr.counts.read, sr.counts.read)
    except SourceError as exc:
        sr.status, sr.error = "failed", str(exc)
        _record_failure(engine, source, stream, ctx.run_id, sr.error)
    except Exception as exc:
        # not the source's fault (the warehouse, a bug): the stream shows it, the run fails and says why
        _record_failure(
            engine, source, stream, ctx.run_id, f"the sync failed ({type(exc).__name__}); see the log"
        )
        raise
    sr.seconds = time.perf_counter() - started
    return sr


PENDING_BATCH = 5_000


def store_deltas(conn: Connection, writer: TableWriter, run_id: int) -> None:
    """What a chunk's payments or details changed, kept for the summaries and the payees."""
    if not writer.captured:
        return
    if writer.ft.name == "pay_detail":
        keys = {values[1] for values in writer.captured}
        conn.execute(insert(PayeeChange), [{"run_id": run_id, "payee_key": k} for k in sorted(keys)])
        writer.captured = []
        return
    names = ("sign", *PAYMENT_CHANGE_COLUMNS)
    rows, payees = [], set()
    for values in writer.captured:
        row = dict(zip(names, values, strict=True))
        day = row["vou_date"]
        row["vou_date"] = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
        row["run_id"] = run_id
        payees.add((row.pop("payee_key"), row.pop("pay_cert_id")))
        rows.append(row)
    conn.execute(insert(PaymentChange), rows)
    conn.execute(
        insert(PayeeChange), [{"run_id": run_id, "payee_key": k, "pay_cert_id": c} for k, c in sorted(payees)]
    )
    writer.captured = []


# PaymentChange's columns, in merge.DELTA_COLUMNS order (the summaries' names for three of them)
PAYMENT_CHANGE_COLUMNS = tuple(
    {"gov_bgt_eco_code": "gov_eco_code", "dep_bgt_eco_code": "dep_eco_code", "pay_amt_fen": "paid_fen"}.get(
        c, c
    )
    for c in DELTA_COLUMNS
)


def _retry_pending(
    engine: Engine,
    source: Source,
    ft: FeedTable,
    parser: RowParser,
    writer: TableWriter,
    ctx: _Context,
    file_name: str,
) -> tuple[Counts, int]:
    """Store the rows of this source and table held back because a record they must reference was missing,
    now that it exists (a voucher's details when the voucher arrived late, or was fixed at the source after
    being quarantined). Their own stamps are old, so the bookmark would never bring them back. Each one
    stored marks its quarantine row resolved, in the same transaction; the others wait, untouched. Returns
    the counts and the last line number given (the stream's records are numbered after them)."""
    counts = Counts()
    refs = {r.column: r for r in ft.references}
    line = 0
    if not refs:
        return counts, line
    names = {c.column: c.field.name for c in ft.columns}
    pending = (
        select(Quarantine.id, Quarantine.line, Quarantine.raw)
        .join(LoadRun, LoadRun.id == Quarantine.run_id)
        .where(
            Quarantine.table_name == ft.name,
            Quarantine.resolved_run_id.is_(None),
            Quarantine.field.in_(list(refs)),
            Quarantine.reason.like("% does not exist in %"),
            LoadRun.source == source.name,
        )
        .order_by(Quarantine.id)
    )
    after = 0
    while True:
        with engine.connect() as conn:
            held: list[Any] = list(conn.execute(pending.where(Quarantine.id > after).limit(PENDING_BATCH)))
            if not held:
                return counts, line
            after = held[-1].id
            for column, ref in refs.items():
                wanted = {q.raw.get(names[column]) for q in held} - {None, ""}
                if ref.target == "mof_div":
                    known = wanted & ctx.regions
                else:
                    known = existing_values(conn, ref.target, ref.target_column, wanted, engine.dialect.name)
                held = [q for q in held if q.raw.get(names[column]) in known or not q.raw.get(names[column])]
            ready = held
        if not ready:
            continue
        lines = [(line + n, [_as_text(q.raw.get(h)) for h in parser.header]) for n, q in enumerate(ready, 1)]
        line += len(ready)
        parsed = parser.chunk(lines)
        ids = [q.id for q in ready]

        def resolve(conn: Connection, ids: list[int] = ids) -> None:
            store_deltas(conn, writer, ctx.run_id)
            for i in range(0, len(ids), 1000):
                conn.execute(
                    update(Quarantine)
                    .where(Quarantine.id.in_(ids[i : i + 1000]))
                    .values(resolved_run_id=ctx.run_id)
                )

        counts.add(
            retry_collisions(
                partial(apply_chunk, engine, ft, writer, parser.header, parsed, ctx, file_name, resolve)
            )
        )


def _as_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _advance(
    source: str,
    stream: str,
    cursor: str | None,
    rows: int,
    writer: TableWriter,
    run_id: int,
    conn: Connection,
) -> None:
    """Inside a chunk's transaction: the rows it read, the bookmark they cover, and the payment deltas it
    made for the summaries."""
    store_deltas(conn, writer, run_id)
    values: dict[str, Any] = {"rows_total": SyncState.rows_total + rows}
    if cursor is not None:
        values["cursor"] = cursor
    conn.execute(
        update(SyncState).where((SyncState.source == source) & (SyncState.stream == stream)).values(**values)
    )


def _find_key(record: dict[str, Any], name: str) -> str | None:
    wanted = name.lower()
    return next((k for k in record if k.lower() == wanted), None)


def _rechunk(pages: Iterator[list[dict[str, Any]]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Pages of any size → chunks of ``size`` records (the last may be shorter; none is empty)."""
    buffer: list[dict[str, Any]] = []
    for page in pages:
        buffer.extend(page)
        while len(buffer) >= size:
            yield buffer[:size]
            buffer = buffer[size:]
    if buffer:
        yield buffer


def _with_last(items: Iterator[T]) -> Iterator[tuple[T, bool]]:
    """Each item with whether it is the last (one item of look-ahead)."""
    try:
        current = next(items)
    except StopIteration:
        return
    for item in items:
        yield current, False
        current = item
    yield current, True
