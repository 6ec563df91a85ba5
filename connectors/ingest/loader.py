"""``oversight load``: a feed batch into the warehouse, streaming, in committed chunks, with a report.

A chunk is parsed, checked (types, code sets, references that must exist), then applied in one transaction
together with its quarantined rows. A load that is killed leaves whole chunks behind; loading the batch again
finds them unchanged and applies the rest, so the warehouse ends as after one clean load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from connectors.ingest.batch import Batch, BatchFile, count_records_or_none, open_batch, sha256_of
from connectors.ingest.convert import BadValue, value_parser
from connectors.ingest.merge import Adapter, Counts, Pending, TableWriter, existing_values, stored_columns
from connectors.ingest.postload import after_load
from connectors.ingest.readers import BadLine, open_reader
from schema.base import Kind
from schema.feed import FeedTable, feed_tables
from schema.loading import LoadRun, LoadTableReport, Quarantine
from schema.models import MofDiv
from schema.reference import load_code_sets
from security.pseudonym import payee_key

CHUNK = 5000
Progress = Callable[[str, int, int | None], None]


@dataclass
class TableReport:
    table: str
    file: str
    status: str = "loaded"  # loaded | rejected
    message: str | None = None
    counts: Counts = field(default_factory=Counts)
    unknown_columns: list[str] = field(default_factory=list)


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
    source: str
    regions: set[str]
    code_sets: dict[str, dict[str, str]]
    loaded_at: datetime


def load_batch(engine: Engine, path: Path, *, source: str | None = None, chunk_size: int = CHUNK,
               progress: Progress | None = None) -> LoadReport:
    batch = open_batch(path)
    source_name = source or batch.source or "files"
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        interrupted = conn.execute(
            update(LoadRun).where(LoadRun.status == "running").values(status="interrupted")
        ).rowcount
        run_id = conn.execute(
            insert(LoadRun).values(source=source_name, batch_path=str(path.resolve()), started_at=now,
                                   extracted_at=batch.extracted_at, status="running").returning(LoadRun.id)
        ).scalar_one()
        regions = set(conn.execute(select(MofDiv.mof_div_code)).scalars())
    ctx = _Context(run_id, source_name, regions, load_code_sets(), now)
    reports: list[TableReport] = []
    try:
        for table, why in batch.conflicts.items():
            reports.append(TableReport(table, "", "rejected", why))
        for bf in batch.files:
            report = _load_table(engine, batch, bf, ctx, chunk_size, progress)
            reports.append(report)
            _save_table_report(engine, run_id, report)
            if bf.table == "mof_div":
                with engine.connect() as conn:
                    ctx.regions = set(conn.execute(select(MofDiv.mof_div_code)).scalars())
        changed = {r.table for r in reports if r.counts.inserted or r.counts.updated or r.counts.deleted}
        post = after_load(engine, run_id, changed, force=interrupted > 0)
    except BaseException as exc:
        with engine.begin() as conn:
            conn.execute(update(LoadRun).where(LoadRun.id == run_id).values(
                status="failed", error=f"{type(exc).__name__}: {exc}",
                finished_at=datetime.now(UTC).replace(tzinfo=None)))
        raise
    with engine.begin() as conn:
        conn.execute(update(LoadRun).where(LoadRun.id == run_id).values(
            status="done", finished_at=datetime.now(UTC).replace(tzinfo=None)))
    return LoadReport(run_id, source_name, str(path), reports, batch.ignored, post)


def _save_table_report(engine: Engine, run_id: int, r: TableReport) -> None:
    c = r.counts
    with engine.begin() as conn:
        conn.execute(insert(LoadTableReport).values(
            run_id=run_id, table_name=r.table, file_name=r.file, status=r.status, message=r.message,
            rows_read=c.read, inserted=c.inserted, updated=c.updated, unchanged=c.unchanged, stale=c.stale,
            deleted=c.deleted, quarantined=c.quarantined, unknown_columns=r.unknown_columns))


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


def _load_table(engine: Engine, batch: Batch, bf: BatchFile, ctx: _Context, chunk_size: int,
                progress: Progress | None) -> TableReport:
    ft = feed_tables()[bf.table]
    report = TableReport(bf.table, bf.path.name)
    problem = _check_manifest(batch, bf)
    if problem:
        report.status, report.message = "rejected", problem
        return report
    expected_names = list(ft.by_feed_name)
    try:
        reader = open_reader(bf.path, bf.fmt, batch.encoding, expected_names)
    except Exception as exc:  # an unreadable file rejects its table, not the batch
        report.status, report.message = "rejected", f"cannot read {bf.path.name}: {exc}"
        return report
    try:
        parser = _RowParser(ft, reader.header, ctx, str(bf.path.resolve()))
        if parser.missing:
            report.status = "rejected"
            report.message = f"{bf.path.name} lacks required column(s): {', '.join(parser.missing)}"
            return report
        total = (batch.expected.get(bf.table) or {}).get("rows")
        writer = TableWriter(ft, engine.dialect.name, parser.file)
        for chunk in _chunks(reader.rows(), chunk_size):
            counts = _apply_chunk(engine, ft, writer, parser, chunk, ctx, bf)
            report.counts.add(counts)
            if progress:
                progress(bf.table, report.counts.read, total if isinstance(total, int) else None)
        unknown = set(parser.unknown) | set(getattr(reader, "unknown", set()))
        report.unknown_columns = sorted(unknown)
    finally:
        reader.close()
    return report


def _chunks(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _RowParser:
    """Feed text → a prepared row for one table and one file header."""

    def __init__(self, ft: FeedTable, header: list[str], ctx: _Context, file: str) -> None:
        self.ft, self.ctx, self.file, self.header = ft, ctx, file, header
        self.columns = stored_columns(ft)
        self.width = len(ft.columns)
        self.plan: list[tuple[int, int, Callable[[str], Any], bool, str]] = []
        self.unknown: list[str] = []
        seen: set[int] = set()
        for pos, name in enumerate(header):
            idx = ft.by_feed_name.get(name)
            if idx is None:
                if name:
                    self.unknown.append(name)
                continue
            fc = ft.columns[idx]
            seen.add(idx)
            self.plan.append((pos, idx, value_parser(fc.field, ctx.code_sets), fc.field.required, name))
        self.missing = [c.field.name for i, c in enumerate(ft.columns) if c.field.required and i not in seen]
        kinds: list[Kind | None] = [c.field.kind for c in ft.columns] + [None] * (len(self.columns) - self.width)
        if not ft.soft_state:
            kinds[self.columns.index("update_time")] = Kind.DATETIME
        self.adapter = Adapter("sqlite", kinds)
        self.key_index = ft.key_index
        self.ut_index = self.columns.index("update_time")
        self.del_index = self.columns.index("is_deleted")
        self.payee = ft.name in ("pay_voucher", "pay_detail")
        if self.payee:
            self._pi = [ft.index_of(c) for c in ("unifsoc_cred_code", "iden_no", "payee_acct_name", "payee_acct_no")]
        self.assignment = ft.name == "ba_bgt_info"
        if self.assignment:
            self._agency, self._rec = ft.index_of("agency_code"), ft.index_of("rec_div_code")

    def parse(self, values: list[str | None]) -> tuple[list[Any], None] | tuple[None, tuple[str | None, str]]:
        out: list[Any] = [None] * self.width
        for pos, idx, parse, required, name in self.plan:
            text = values[pos]
            if text is not None:
                text = text.strip()
            if not text:
                if required:
                    return None, (name, "required field is empty")
                continue
            try:
                out[idx] = parse(text)
            except BadValue as exc:
                return None, (name, str(exc))
        if self.ft.soft_state and out[self.del_index] is None:
            out[self.del_index] = False  # an absent or empty is_deleted means the record is live
        if self.assignment and (out[self._agency] is None) == (out[self._rec] is None):
            return None, ("agency_code", "exactly one of agency_code and rec_div_code must be set")
        return out, None

    def prepare(self, out: list[Any], line: int) -> Pending:
        digest = hashlib.blake2b(
            "\x1f".join("" if v is None else str(v) for v in out).encode(), digest_size=16
        ).hexdigest()
        if self.payee:
            u, i, n, a = self._pi
            out.append(payee_key(out[u], out[i], out[n], out[a]))
        if not self.ft.soft_state:
            out += [False, None]
        out += [self.ctx.source, self.ctx.run_id, self.file, line, digest, self.ctx.loaded_at]
        deleting = bool(out[self.del_index])
        key = tuple(out[i] for i in self.key_index)
        return Pending(line, key, None, deleting, digest, out)


def _apply_chunk(engine: Engine, ft: FeedTable, writer: TableWriter, parser: _RowParser, chunk: list[Any],
                 ctx: _Context, bf: BatchFile) -> Counts:
    counts = Counts(read=len(chunk))
    bad: list[dict[str, Any]] = []
    parsed: list[tuple[int, list[Any], list[str | None]]] = []
    for line, values in chunk:
        if isinstance(values, BadLine):
            bad.append(_quarantine(ctx, ft, bf, line, None, values.reason, values.raw))
            continue
        out, problem = parser.parse(values)
        if problem:
            bad.append(_quarantine(ctx, ft, bf, line, problem[0], problem[1], dict(zip(parser.header, values, strict=False))))
        else:
            parsed.append((line, out, values))  # type: ignore[arg-type]
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        for ref in ft.references:
            idx = ft.index_of(ref.column)
            wanted = {out[idx] for _, out, _ in parsed if out[idx] is not None}
            if not wanted:
                continue
            if ref.target == "mof_div":
                known = wanted & ctx.regions
            else:
                known = existing_values(conn, ref.target, ref.target_column, wanted, engine.dialect.name)
            if len(known) == len(wanted):
                continue
            kept = []
            for line, out, values in parsed:
                v = out[idx]
                if v is None or v in known:
                    kept.append((line, out, values))
                else:
                    bad.append(_quarantine(ctx, ft, bf, line, ref.column,
                                           f"{ref.column} {v!r} does not exist in {ref.target}",
                                           dict(zip(parser.header, values, strict=False))))
            parsed = kept
        pending = []
        for line, out, _ in parsed:
            p = parser.prepare(out, line)
            row = parser.adapter.row(p.row) if sqlite else p.row
            p.row, p.update_time = row, row[parser.ut_index]
            pending.append(p)
        applied = writer.apply(conn, pending)
        if bad:
            conn.execute(insert(Quarantine), bad)
    applied.read = counts.read
    applied.quarantined = len(bad)
    return applied


def _quarantine(ctx: _Context, ft: FeedTable, bf: BatchFile, line: int, field_name: str | None, reason: str,
                raw: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": ctx.run_id, "table_name": ft.name, "file_name": bf.path.name, "line": line,
            "field": field_name, "reason": reason, "raw": raw}
