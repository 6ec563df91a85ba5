"""A feed batch: a folder with one file per table and an optional ``manifest.json``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from connectors.ingest.convert import BadValue, parse_datetime
from connectors.ingest.readers import FORMATS
from schema.feed import feed_tables


class BatchError(Exception):
    """The batch cannot be read at all (no folder, no feed file, an unreadable manifest)."""


@dataclass(frozen=True, slots=True)
class BatchFile:
    table: str
    path: Path
    fmt: str


@dataclass
class Batch:
    path: Path
    files: list[BatchFile]  # in load order
    source: str | None = None
    extracted_at: datetime | None = None
    encoding: str | None = None
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)  # manifest "tables"
    ignored: list[str] = field(default_factory=list)  # files that are not feed tables
    conflicts: dict[str, str] = field(default_factory=dict)  # table → why it cannot be loaded


def open_batch(path: Path) -> Batch:
    if not path.is_dir():
        raise BatchError(f"{path} is not a folder; a batch is a folder with one file per table")
    tables = feed_tables()
    found: dict[str, list[BatchFile]] = {}
    ignored: list[str] = []
    for entry in sorted(path.iterdir()):
        if not entry.is_file() or entry.name in ("manifest.json",) or entry.name.startswith("."):
            continue
        stem, _, ext = entry.name.partition(".")
        table, fmt = stem.lower(), ext.lower()
        if table in tables and fmt in FORMATS:
            found.setdefault(table, []).append(BatchFile(table, entry, fmt))
        else:
            ignored.append(entry.name)
    batch = Batch(path=path, files=[], ignored=ignored)
    _read_manifest(batch, path / "manifest.json")
    for table in tables:
        candidates = found.get(table, [])
        if len(candidates) > 1:
            names = ", ".join(c.path.name for c in candidates)
            batch.conflicts[table] = f"more than one file for table {table}: {names}"
        elif candidates:
            batch.files.append(candidates[0])
    if not batch.files and not batch.conflicts:
        raise BatchError(f"{path} holds no feed file (<table>.csv, .jsonl or .xlsx for a table of feeds.md)")
    return batch


def _read_manifest(batch: Batch, manifest: Path) -> None:
    if not manifest.exists():
        return
    try:
        data = orjson.loads(manifest.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise BatchError(f"manifest.json is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BatchError("manifest.json must be a JSON object")
    source, encoding, tables = data.get("source"), data.get("encoding"), data.get("tables", {})
    if source is not None and not isinstance(source, str):
        raise BatchError("manifest.json: 'source' must be a string")
    if not isinstance(tables, dict) or not all(isinstance(v, dict) for v in tables.values()):
        raise BatchError('manifest.json: \'tables\' must map table names to {"rows": N, "sha256": "…"}')
    if encoding is not None:
        import codecs

        try:
            codecs.lookup(str(encoding))
        except LookupError:
            raise BatchError(f"manifest.json: unknown encoding {encoding!r}") from None
    extracted = data.get("extracted_at")
    if extracted:
        try:
            batch.extracted_at = parse_datetime(str(extracted))
        except BadValue as exc:
            raise BatchError(f"manifest.json: extracted_at: {exc}") from None
    batch.source, batch.encoding = source, encoding
    batch.expected = {str(k).lower(): v for k, v in tables.items()}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def count_records_or_none(path: Path, fmt: str, encoding: str | None) -> int | None:
    from connectors.ingest.readers import count_records

    try:
        return count_records(path, fmt, encoding)
    except Exception:  # an unreadable file: the reader will say why
        return None
