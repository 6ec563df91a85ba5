"""``oversight load``: a feed batch into the warehouse, streaming, in committed chunks, with a report.

A chunk is parsed, checked (types, code sets, references that must exist), then applied in one transaction
together with its quarantined rows. A load that is killed leaves whole chunks behind; loading the batch again
finds them unchanged and applies the rest, so the warehouse ends as after one clean load.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, event, func, insert, literal, select, update

from connectors.ingest.arrow_csv import ArrowCsvReader, plain_lines_range, trim_heap
from connectors.ingest.arrow_rows import ArrowRowParser
from connectors.ingest.batch import Batch, BatchFile, count_records_or_none, open_batch, sha256_of
from connectors.ingest.merge import Counts, TableWriter, existing_values
from connectors.ingest.parallel import PARALLEL_BYTES, run_parallel, split_ranges
from connectors.ingest.postload import after_load, defer_indexes, restore_indexes
from connectors.ingest.readers import CsvReader, JsonlReader, open_reader
from connectors.ingest.rows import ParseContext, ParsedChunk, RowParser
from schema.db import make_engine, write_transaction
from schema.feed import FeedTable, feed_tables
from schema.loading import LoadRun, LoadTableReport, Quarantine
from schema.models import MofDiv
from schema.reference import load_code_sets

CHUNK = 10_000
COLLISION_PATIENCE_S = 600.0  # how long a chunk waits for other loader processes' keys
log = logging.getLogger(__name__)
MAX_WORKERS = 4
Progress = Callable[[str, int, int | None], None]


@dataclass
class TableReport:
    table: str
    file: str
    status: str = "loaded"  # loaded | rejected
    message: str | None = None
    counts: Counts = field(default_factory=Counts)
    unknown_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class LoadReport:
    run_id: int
    source: str
    batch: str
    tables: list[TableReport]
    ignored_files: list[str]
    post_load: list[str]


@dataclass
class _Context:
    run_id: int
    regions: set[str]  # finance regions known to the warehouse, for the references every row makes
    parse: ParseContext


def load_batch(
    engine: Engine,
    path: Path,
    *,
    source: str | None = None,
    chunk_size: int = CHUNK,
    progress: Progress | None = None,
    monitor: bool = True,
) -> LoadReport:
    """Load the batch at ``path``; then bring derived tables up to date and, with ``monitor``, evaluate the
    warning rules incrementally over what the load wrote (a failure there is reported, never undoes the
    load: the next run covers the same rows again)."""
    batch = open_batch(path)
    source_name = source or batch.source or "files"
    run_id, interrupted, now = begin_run(engine, source_name, str(path.resolve()), batch.extracted_at)
    with engine.connect() as conn:
        regions = set(conn.execute(select(MofDiv.mof_div_code)).scalars())
    ctx = new_context(run_id, source_name, regions, now)
    reports: list[TableReport] = []
    try:
        for table, why in batch.conflicts.items():
            reports.append(TableReport(table, "", "rejected", why))
        for bf in batch.files:
            started = time.perf_counter()
            with _bulk_gc():
                report = _load_table(engine, batch, bf, ctx, chunk_size, progress)
            report.seconds = time.perf_counter() - started
            reports.append(report)
            save_table_report(engine, run_id, report)
            if bf.table == "mof_div":
                with engine.connect() as conn:
                    ctx.regions = set(conn.execute(select(MofDiv.mof_div_code)).scalars())
        changed = {r.table for r in reports if r.counts.inserted or r.counts.updated or r.counts.deleted}
        post = after_load(engine, run_id, changed, force=interrupted > 0)
    except BaseException as exc:
        finish_run(engine, run_id, f"{type(exc).__name__}: {exc}")
        raise
    if interrupted:
        settle_earlier(engine, run_id)
    finish_run(engine, run_id, settled=True)
    if monitor and changed:
        post.append(monitor_after(engine))
    return LoadReport(run_id, source_name, str(path), reports, batch.ignored, post)


def begin_run(
    engine: Engine, source: str, batch_path: str, extracted_at: datetime | None
) -> tuple[int, int, datetime]:
    """Record the start of a load or sync run. Returns its id, how many earlier runs left the derived
    tables behind (runs left 'running' by a killed process, now marked 'interrupted', and runs that died
    of an error before their derived tables were brought up to date), and its start time (naive UTC)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        interrupted = conn.execute(
            update(LoadRun).where(LoadRun.status == "running").values(status="interrupted")
        ).rowcount
        behind = conn.execute(
            select(func.count()).select_from(LoadRun).where(LoadRun.derived_done.is_(False))
        ).scalar_one()
        run_id = conn.execute(
            insert(LoadRun)
            .values(
                source=source,
                batch_path=batch_path,
                started_at=now,
                extracted_at=extracted_at,
                status="running",
                derived_done=False,
            )
            .returning(LoadRun.id)
        ).scalar_one()
    return run_id, max(interrupted, behind), now


def finish_run(engine: Engine, run_id: int, error: str | None = None, *, settled: bool = False) -> None:
    """Record the end of a run: done, or failed with why. ``settled``: the derived tables took in what it
    wrote (and, after a rebuild forced by earlier runs, what they wrote too)."""
    with engine.begin() as conn:
        conn.execute(
            update(LoadRun)
            .where(LoadRun.id == run_id)
            .values(
                status="failed" if error else "done",
                error=error,
                finished_at=datetime.now(UTC).replace(tzinfo=None),
                derived_done=settled,
            )
        )


def settle_earlier(engine: Engine, run_id: int) -> None:
    """After a whole rebuild of the derived tables: every finished run before ``run_id`` is taken in."""
    with engine.begin() as conn:
        conn.execute(
            update(LoadRun)
            .where(LoadRun.id < run_id, LoadRun.status != "running", LoadRun.derived_done.is_(False))
            .values(derived_done=True)
        )


def new_context(run_id: int, source: str, regions: set[str], now: datetime) -> _Context:
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    return _Context(run_id, regions, ParseContext(run_id, source, load_code_sets(), stamp))


def monitor_after(engine: Engine) -> str:
    try:
        from monitor.runner import run_rules

        report = run_rules(engine, incremental=True)
    except Exception as exc:  # noqa: BLE001 - the load stands; the next run evaluates these rows again
        log.exception("monitoring after the load failed")
        return f"monitoring: failed ({type(exc).__name__}: {exc}); run `oversight rules run --incremental`"
    return (
        f"monitoring: {report.mode} run {report.run_id} as of {report.as_of}, {report.findings:,} findings, "
        f"{report.raised:,} new warnings, {report.cleared:,} cleared ({report.seconds:.1f} s)"
    )


@contextmanager
def _bulk_gc() -> Iterator[None]:
    """A load allocates millions of short-lived tuples and no reference cycles; the cyclic collector's
    default thresholds make it rescan the heap over and over, so they are raised for the duration."""
    old = gc.get_threshold()
    gc.set_threshold(200_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)


def save_table_report(engine: Engine, run_id: int, r: TableReport) -> None:
    c = r.counts
    with engine.begin() as conn:
        conn.execute(
            insert(LoadTableReport).values(
                run_id=run_id,
                table_name=r.table,
                file_name=r.file,
                status=r.status,
                message=r.message,
                rows_read=c.read,
                inserted=c.inserted,
                updated=c.updated,
                unchanged=c.unchanged,
                stale=c.stale,
                deleted=c.deleted,
                quarantined=c.quarantined,
                unknown_columns=r.unknown_columns,
                elapsed_ms=round(r.seconds * 1000),
            )
        )


def _check_manifest(batch: Batch, bf: BatchFile) -> str | None:
    expected = batch.expected.get(bf.table)
    if not expected:
        return None
    want_sha = expected.get("sha256")
    if want_sha and sha256_of(bf.path) != str(want_sha).lower():
        return f"sha256 of {bf.path.name} does not match manifest.json (the file changed or was cut short)"
    want_rows = expected.get("rows")
    if want_rows is not None:
        got = count_records_or_none(bf.path, bf.fmt, batch.encoding)
        if got != want_rows:
            return f"{bf.path.name} holds {got} rows, manifest.json says {want_rows}"
    return None


def _load_table(
    engine: Engine, batch: Batch, bf: BatchFile, ctx: _Context, chunk_size: int, progress: Progress | None
) -> TableReport:
    ft = feed_tables()[bf.table]
    report = TableReport(bf.table, bf.path.name)
    problem = _check_manifest(batch, bf)
    if problem:
        report.status, report.message = "rejected", problem
        return report
    try:
        reader = open_reader(bf.path, bf.fmt, batch.encoding, list(ft.by_feed_name))
    except Exception as exc:  # an unreadable file rejects its table, not the batch
        report.status, report.message = "rejected", f"cannot read {bf.path.name}: {exc}"
        return report
    total = (batch.expected.get(bf.table) or {}).get("rows")

    def on_progress(read: int) -> None:
        if progress:
            progress(bf.table, read, total if isinstance(total, int) else None)

    try:
        parser = RowParser(ft, reader.header, ctx.parse, str(bf.path.resolve()))
        if parser.missing:
            report.status = "rejected"
            report.message = f"{bf.path.name} lacks required column(s): {', '.join(parser.missing)}"
            return report
        size = bf.path.stat().st_size
        fresh = _is_empty(engine, ft)
        deferred = defer_indexes(engine, ft.table, size)
        plain = plain_lines_range(bf.path) if bf.fmt == "csv" else None
        ranges = None
        workers = min(os.cpu_count() or 1, MAX_WORKERS)
        if size >= PARALLEL_BYTES and workers > 1 and engine.url.database not in (None, "", ":memory:"):
            ranges = split_ranges(bf.path, bf.fmt, workers)
        if ranges:
            encoding = getattr(reader, "encoding", None)
            jobs = [
                {
                    "url": engine.url.render_as_string(hide_password=False),
                    "table": bf.table,
                    "path": bf.path,
                    "fmt": bf.fmt,
                    "encoding": encoding,
                    "header": reader.header,
                    "range": r,
                    "ctx": ctx,
                    "chunk_size": chunk_size,
                    "file_name": bf.path.name,
                    "arrow": plain is not None,
                    "fresh": fresh,
                }
                for r in ranges
            ]
            engine.dispose()  # this process's idle connections and their page caches, while the slices load
            report.counts, unknown = run_parallel(jobs, on_progress)
        else:
            if plain is not None and isinstance(reader, CsvReader):
                blocks = ArrowCsvReader(bf.path, reader.encoding, reader.header, plain, chunk_size)
                copy = engine.dialect.name == "postgresql"
                chunks = ArrowRowParser(parser, ctx.parse.code_sets, with_table=copy).chunks(blocks.blocks())
            else:
                chunks = _parsed_chunks(parser, reader.rows(), chunk_size)
            report.counts = load_rows(engine, ft, parser, chunks, ctx, bf.path.name, on_progress, fresh=fresh)
            unknown = set()
        if deferred:
            _build_indexes(engine, ft.table)
        report.unknown_columns = sorted(
            set(parser.unknown) | unknown | set(getattr(reader, "unknown", set()))
        )
    finally:
        reader.close()
    return report


def _build_indexes(engine: Engine, table: Table) -> None:
    """Build the indexes deferred by a bulk load, on a connection set up for one large sort: SQLite's sorter
    may use helper threads, PostgreSQL's more memory than a query gets (in the server, not in the loader)."""
    if engine.url.database in (None, "", ":memory:"):
        restore_indexes(engine, table)
        return
    builder = make_engine(engine.url.render_as_string(hide_password=False))

    @event.listens_for(builder, "connect")
    def _for_sorting(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        if builder.dialect.name == "sqlite":
            cur.execute(f"PRAGMA threads={min(os.cpu_count() or 1, MAX_WORKERS)}")
        else:
            cur.execute("SET maintenance_work_mem = '256MB'")
        cur.close()
        if builder.dialect.name != "sqlite":
            dbapi_conn.commit()

    try:
        restore_indexes(builder, table)
    finally:
        builder.dispose()


def _is_empty(engine: Engine, ft: FeedTable) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(literal(1)).select_from(ft.table).limit(1)).first() is None


def load_rows(
    engine: Engine,
    ft: FeedTable,
    parser: RowParser,
    chunks: Iterator[ParsedChunk],
    ctx: _Context,
    file_name: str,
    on_progress: Callable[[int], None],
    write_lock: Any = None,
    *,
    fresh: bool = False,
) -> Counts:
    """The chunk pipeline: parse a chunk, check its references, store it with its quarantine, commit.

    ``write_lock`` (parallel loads into SQLite) hands the single writer's turn from process to process
    at once, where SQLite's own busy handler would sleep in growing steps. ``fresh`` says the table was
    empty when the load began (see :class:`~connectors.ingest.merge.TableWriter`)."""
    writer = TableWriter(ft, engine.dialect.name, parser.file, fresh=fresh)
    counts = Counts()
    for parsed in chunks:
        trim_heap()  # of the chunk before this one
        with write_lock or contextlib.nullcontext():
            counts.add(
                retry_collisions(
                    partial(apply_chunk, engine, ft, writer, parser.header, parsed, ctx, file_name)
                )
            )
        on_progress(counts.read)
    return counts


def load_slice(job: dict[str, Any], on_read: Callable[[int], None]) -> tuple[Counts, set[str]]:
    """One worker process's part of a parallel load (see :mod:`connectors.ingest.parallel`)."""
    engine = make_engine(job["url"])
    ft = feed_tables()[job["table"]]
    path: Path = job["path"]
    reader: CsvReader | JsonlReader | ArrowCsvReader
    if job["arrow"]:
        reader = ArrowCsvReader(path, job["encoding"], job["header"], job["range"], job["chunk_size"])
    elif job["fmt"] == "csv":
        reader = CsvReader(path, job["encoding"], (job["header"], job["range"]))
    else:
        reader = JsonlReader(path, job["header"], job["range"])
    last = 0

    def report_read(read: int) -> None:
        nonlocal last
        on_read(read - last)
        last = read

    try:
        ctx: _Context = job["ctx"]
        parser = RowParser(ft, reader.header, ctx.parse, str(path.resolve()))
        if isinstance(reader, ArrowCsvReader):
            copy = engine.dialect.name == "postgresql"
            chunks = ArrowRowParser(parser, ctx.parse.code_sets, with_table=copy).chunks(reader.blocks())
        else:
            chunks = _parsed_chunks(parser, reader.rows(), job["chunk_size"])
        counts = load_rows(
            engine,
            ft,
            parser,
            chunks,
            ctx,
            job["file_name"],
            report_read,
            job.get("lock"),
            fresh=job["fresh"],
        )
        return counts, set(parser.unknown) | set(getattr(reader, "unknown", set()))
    finally:
        reader.close()
        engine.dispose()


def _parsed_chunks(parser: RowParser, rows: Iterator[Any], size: int) -> Iterator[ParsedChunk]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield parser.chunk(chunk)
            chunk = []
    if chunk:
        yield parser.chunk(chunk)


def retry_collisions(apply: Callable[[], Counts]) -> Counts:
    """Run one chunk's transaction, again if it collided with another loader process.

    On PostgreSQL another loader process may insert one of the chunk's keys between this one's lookup and
    its insert (a record with versions in two slices of the file), or the two may wait on each other's
    keys. The transaction is then rolled back and run again once the other has committed. SQLite
    serialises writers, so this never happens there."""
    deadline = time.monotonic() + COLLISION_PATIENCE_S
    attempt = 0
    while True:
        try:
            return apply()
        except Exception as exc:
            attempt += 1
            if not _is_collision(exc) or time.monotonic() > deadline:
                raise
            time.sleep(min(0.05 * attempt, 1.0))


def _is_collision(exc: BaseException) -> bool:
    # the hot path talks to the DB-API cursor directly, so its errors may arrive unwrapped
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None) in ("23505", "40P01", "40001")  # unique, deadlock, serialization


def apply_chunk(
    engine: Engine,
    ft: FeedTable,
    writer: TableWriter,
    header: list[str],
    parsed: ParsedChunk,
    ctx: _Context,
    file_name: str,
    also: Callable[[Connection], None] | None = None,
) -> Counts:
    """Check references, then store the chunk and its quarantined rows in one transaction, with ``also``
    (a connector's bookmark) in the same transaction. It may run twice (see :func:`retry_collisions`), so
    it leaves ``parsed`` as it found it."""
    bad, rows, raws = list(parsed.bad), parsed.rows, parsed.raw
    line = writer.columns.index("src_line")
    with write_transaction(engine) as conn:
        for ref in ft.references:
            idx = writer.columns.index(ref.column)
            wanted = {row[idx] for row in rows if row[idx] is not None}
            if not wanted:
                continue
            if ref.target == "mof_div":
                known = wanted & ctx.regions
            else:
                known = existing_values(conn, ref.target, ref.target_column, wanted, engine.dialect.name)
            if len(known) == len(wanted):
                continue
            kept, kept_raw = [], []
            for row, raw in zip(rows, raws, strict=True):
                v = row[idx]
                if v is None or v in known:
                    kept.append(row)
                    kept_raw.append(raw)
                else:
                    why = f"{ref.column} {v!r} does not exist in {ref.target}"
                    bad.append((row[line], ref.column, why, dict(zip(header, raw, strict=False))))
            rows, raws = kept, kept_raw
        applied = writer.apply(conn, rows, parsed.table if rows is parsed.rows else None)
        if bad:
            conn.execute(insert(Quarantine), [_quarantine(ctx, ft, file_name, *b) for b in bad])
        if also is not None:
            also(conn)
    applied.read = parsed.read
    applied.quarantined = len(bad)
    return applied


def _quarantine(
    ctx: _Context,
    ft: FeedTable,
    file_name: str,
    line: int,
    field_name: str | None,
    reason: str,
    raw: dict[str, Any],
) -> dict[str, Any]:
    return {
        "run_id": ctx.run_id,
        "table_name": ft.name,
        "file_name": file_name,
        "line": line,
        "field": field_name,
        "reason": reason,
        "raw": raw,
    }
