"""``files``: a watched drop folder of feed batches.

Whoever delivers data drops a batch folder (``feeds.md``: one file per table, optional ``manifest.json``) into
the inbox. A sync takes each ready batch in name order, loads it exactly as ``oversight load`` does, writes
``report.json`` into it and moves it to ``done/``, or to ``failed/`` when the batch could not be read or a
table of it was rejected (its other tables are loaded all the same; the report says which). A batch is ready
when it holds ``manifest.json`` or a ``.ready`` marker, or when nothing in it has changed for the settle
time (a folder still being copied is left for the next sync).

A sync killed during a load leaves the batch in the inbox; the next sync loads it again, which stores what
the killed one had not (a load is idempotent). The bookmark of each table's stream is the last batch that fed
it.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, select

from connectors.ingest.batch import BatchError
from connectors.ingest.loader import CHUNK, LoadReport, load_batch, monitor_after
from connectors.sync.core import Source, Stream
from schema.sync import SyncState

log = logging.getLogger(__name__)
MARKERS = ("manifest.json", ".ready")
INBOX = "inbox"  # the stream that carries what concerns the folder or a whole batch


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class FilesSource(Source):
    kind = "files"
    source_keys = frozenset({"inbox", "done", "failed", "settle"})

    def __init__(
        self,
        name: str,
        inbox: Path,
        *,
        done: Path | None = None,
        failed: Path | None = None,
        settle_s: float = 30.0,
    ) -> None:
        super().__init__(name, [])
        self.inbox = inbox
        self.done = done or inbox.parent / "done"
        self.failed = failed or inbox.parent / "failed"
        self.settle_s = settle_s

    @classmethod
    def from_config(cls, name: str, cfg: dict[str, Any], streams: list[Stream], where: str) -> FilesSource:
        from connectors.sync.config import ConfigError, duration

        if streams:
            raise ConfigError(f"{where}: a files source has no streams (each batch file names its table)")
        inbox = cfg.get("inbox")
        if not isinstance(inbox, str) or not inbox:
            raise ConfigError(f"{where}.inbox: the folder batches are dropped into")
        paths = {k: Path(cfg[k]) for k in ("done", "failed") if isinstance(cfg.get(k), str)}
        for key, path in paths.items():
            if path.resolve().is_relative_to(Path(inbox).resolve()):
                raise ConfigError(
                    f"{where}.{key}: must not lie inside the inbox (it would be taken for a batch)"
                )
        settle = duration(cfg.get("settle", 30), f"{where}.settle").total_seconds()
        return cls(name, Path(inbox), settle_s=settle, **paths)

    def describe(self) -> str:
        return f"files {self.inbox}"

    def ready(self) -> list[Path]:
        """The batches ready to load, in name order."""
        if not self.inbox.is_dir():
            return []
        found = []
        now = time.time()
        archives = {self.done.resolve(), self.failed.resolve()}
        for entry in sorted(self.inbox.iterdir()):
            if not entry.is_dir() or entry.name.startswith(".") or entry.resolve() in archives:
                continue
            if any((entry / m).exists() for m in MARKERS):
                found.append(entry)
                continue
            newest = max((p.stat().st_mtime for p in entry.rglob("*")), default=entry.stat().st_mtime)
            if now - newest >= self.settle_s:
                found.append(entry)
        return found

    def sync(
        self, engine: Engine, *, progress: Any = None, monitor: bool = True, chunk_size: int = CHUNK
    ) -> Any:
        from connectors.sync.runner import StreamReport, SyncReport

        report = SyncReport(self.name, self.kind, None, [])
        if not self.inbox.is_dir():
            report.error = f"{self.name}: the inbox {self.inbox} is not a folder"
            log.error("sync %s failed: %s", self.name, report.error)
            self._record(engine, INBOX, "mof_div", None, None, 0, report.error)
            return report
        per_table: dict[str, StreamReport] = {}
        fed: dict[str, str] = {}  # table → the last batch that stored it
        batch_errors: list[str] = []
        changed = False
        for batch in self.ready():
            try:
                loaded = load_batch(
                    engine, batch, source=self.name, chunk_size=chunk_size, progress=progress, monitor=False
                )
            except BatchError as exc:
                self._finish(batch, self.failed, {"batch": batch.name, "error": str(exc)})
                log.error("sync %s: batch %s failed: %s", self.name, batch.name, exc)
                batch_errors.append(f"{batch.name}: {exc}")
                continue
            report.run_id = loaded.run_id
            rejected = [t for t in loaded.tables if t.status == "rejected"]
            self._finish(batch, self.failed if rejected else self.done, _as_json(loaded))
            for t in loaded.tables:
                sr = per_table.setdefault(t.table, StreamReport(t.table, t.table))
                sr.counts.add(t.counts)
                sr.seconds += t.seconds
                c = t.counts
                changed = changed or bool(c.inserted or c.updated or c.deleted)
                if t.status == "rejected":
                    sr.status, sr.error = "failed", f"{batch.name}: {t.message}"
                    log.error("sync %s: %s", self.name, sr.error)
                else:
                    fed[t.table] = sr.cursor = batch.name
            report.post_load.extend(loaded.post_load)
        for table, sr in per_table.items():
            self._record(engine, table, table, fed.get(table), report.run_id, sr.counts.read, sr.error)
            if sr.error and not report.error:
                report.error = f"{self.name}/{table}: {sr.error}"
        inbox_error = "; ".join(batch_errors) or None
        if inbox_error or self._has_state(engine, INBOX):  # a batch-level failure, or one that cleared
            self._record(engine, INBOX, "mof_div", None, report.run_id, 0, inbox_error)
        if inbox_error and not report.error:
            report.error = f"{self.name}: {inbox_error}"
        report.streams = list(per_table.values())
        if monitor and changed:
            report.post_load.append(monitor_after(engine))
        return report

    def _has_state(self, engine: Engine, stream: str) -> bool:
        key = (SyncState.source == self.name) & (SyncState.stream == stream)
        with engine.connect() as conn:
            return conn.execute(select(SyncState.stream).where(key)).first() is not None

    def _finish(self, batch: Path, target: Path, result: dict[str, Any]) -> None:
        (batch / "report.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        target.mkdir(parents=True, exist_ok=True)
        dest = target / batch.name
        if dest.exists():
            dest = target / f"{batch.name}.{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
        shutil.move(str(batch), str(dest))

    def _record(
        self,
        engine: Engine,
        stream: str,
        table: str,
        cursor: str | None,
        run_id: int | None,
        rows: int,
        error: str | None,
    ) -> None:
        """One stream's state after a sync: its rows, its bookmark (the last batch that fed it), its error."""
        from connectors.sync.runner import save_state

        now = _now()
        values: dict[str, Any] = {"table_name": table, "last_attempt_at": now, "last_run_id": run_id}
        if error:
            values |= {"status": "failed", "last_error": error, "last_error_at": now}
        else:
            values |= {"status": "ok", "last_success_at": now, "rows_last": rows}
        if cursor is not None:
            values["cursor"] = cursor
        with engine.begin() as conn:
            save_state(conn, self.name, stream, rows=rows, **values)


def _as_json(report: LoadReport) -> dict[str, Any]:
    return {
        "run_id": report.run_id,
        "source": report.source,
        "batch": report.batch,
        "tables": [
            {
                "table": t.table,
                "file": t.file,
                "status": t.status,
                "message": t.message,
                "counts": dataclasses.asdict(t.counts),
                "unknown_columns": t.unknown_columns,
                "seconds": round(t.seconds, 3),
            }
            for t in report.tables
        ],
        "ignored_files": report.ignored_files,
        "post_load": report.post_load,
    }
