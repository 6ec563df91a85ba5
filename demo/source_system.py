"""A demo 预算管理一体化 source system: the standard upper-case tables, filled from canonical feed records.

It is the other side of the ``yth`` preset (``connectors/sync/presets/yth.toml``): the preset's renames and
code maps are read backwards, so the demo database holds the names, codes and units a provincial system
uses (``SET_YEAR``, ``IS_DELETED`` 1/2, its own fund-type and settlement codes, ``PAY_DETAIL`` in fen), and a
sync through the preset must give back exactly the records written here. Used by ``oversight generate
--source-db``, the connector tests and the sync benchmark, on SQLite, PostgreSQL or MariaDB.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    delete,
    insert,
    tuple_,
)
from sqlalchemy.types import TypeEngine

from connectors.ingest.convert import SHANGHAI, parse_amount, parse_datetime
from schema.base import Kind
from schema.feed import FeedTable, feed_tables

CHAR_DATES = {"doc_date", "vou_date"}  # kept as CHAR(8) YYYYMMDD, as some systems do


@dataclass(frozen=True)
class SourceTable:
    """One 一体化 table and how it stands to its feed table."""

    name: str
    feed: FeedTable
    columns: dict[str, str]  # feed field → source column
    codes: dict[str, dict[str, str]]  # feed field → canonical code → the source's code
    fen: frozenset[str]  # feed amount fields the source keeps in fen
    table: Table


@cache
def _preset() -> list[dict[str, Any]]:
    text = (resources.files("connectors.sync") / "presets" / "yth.toml").read_text(encoding="utf-8")
    return list(tomllib.loads(text)["streams"])


def _column_type(kind: Kind, name: str, fen: bool, key: bool) -> TypeEngine[Any]:
    if kind is Kind.AMOUNT:
        return BigInteger() if fen else Numeric(18, 2)
    if kind is Kind.INT:
        return Integer()
    if kind is Kind.FLAG:
        return SmallInteger()
    if kind is Kind.DATE:
        return String(8) if name in CHAR_DATES else Date()
    if kind is Kind.DATETIME:
        return DateTime()
    if kind is Kind.REGION:
        return String(9)
    if kind is Kind.TEXT and not key:
        return Text()
    return String(64)


@cache
def source_tables() -> dict[str, SourceTable]:
    """The demo system's tables, by feed table name."""
    metadata = MetaData()
    out: dict[str, SourceTable] = {}
    for spec in _preset():
        ft = feed_tables()[spec["table"]]
        renamed = {v: k for k, v in spec.get("rename", {}).items()}
        columns = {c.field.name: renamed.get(c.field.name, c.field.name.upper()) for c in ft.columns}
        codes = {
            field: {canonical: source for source, canonical in reversed(list(m.items()))}
            for field, m in spec.get("codes", {}).items()
        }
        fen = frozenset(f for f, t in spec.get("transform", {}).items() if t == "fen_to_yuan")
        feed_key = {c for c in ft.key}
        cols = []
        for c in ft.columns:
            src = columns[c.field.name]
            cols.append(
                Column(
                    src,
                    _column_type(c.field.kind, c.field.name, c.field.name in fen, c.column in feed_key),
                    primary_key=c.column in feed_key,
                    nullable=c.column not in feed_key,
                )
            )
        if not ft.soft_state:  # the source stamps every row, whatever the feed takes
            cols.append(Column("UPDATE_TIME", DateTime()))
        table = Table(spec["name"], metadata, *cols)
        Index(f"IX_{spec['name']}_UPDATE_TIME", table.c.UPDATE_TIME)
        out[ft.name] = SourceTable(spec["name"], ft, columns, codes, fen, table)
    return out


def create_schema(engine: Engine) -> None:
    """Create the demo system's tables (dropping any of the same name first)."""
    tables = [t.table for t in source_tables().values()]
    metadata = tables[0].metadata
    metadata.drop_all(engine, tables=tables)
    metadata.create_all(engine, tables=tables)


def _value(st: SourceTable, field: str, kind: Kind, text: str | None, stamp: datetime | None) -> Any:
    if field == "update_time" and text is None:
        return stamp
    if text is None or text == "":
        if field == "is_deleted":
            return int(st.codes.get("is_deleted", {}).get("0", "0"))
        return None
    codes = st.codes.get(field)
    if field == "is_deleted":
        flag = "1" if text.strip().lower() in ("1", "y", "true", "是") else "0"
        return int(codes.get(flag, flag)) if codes else int(flag)
    if codes:
        return codes.get(text, text)
    if kind is Kind.AMOUNT:
        fen = parse_amount(text)
        return fen if field in st.fen else Decimal(fen) / 100
    if kind is Kind.INT:
        return int(text)
    if kind is Kind.DATE:
        day = (
            date.fromisoformat(text.replace("/", "-"))
            if len(text) == 10
            else date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        )
        return day.strftime("%Y%m%d") if field in CHAR_DATES else day
    if kind is Kind.DATETIME:  # the source's naive local time
        return _local(text)
    return text


def _local(text: str) -> datetime:
    return parse_datetime(text).replace(tzinfo=UTC).astimezone(SHANGHAI).replace(tzinfo=None)


def source_rows(
    table: str, records: Iterable[Mapping[str, str | None]], stamp: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Canonical feed records (feed field → text) as rows of the demo system's table."""
    st = source_tables()[table]
    fields = [(c.field.name, c.field.kind) for c in st.feed.columns]
    for record in records:
        row = {st.columns[f]: _value(st, f, k, record.get(f), stamp) for f, k in fields}
        if not st.feed.soft_state:
            row["UPDATE_TIME"] = stamp
        yield row


def upsert(
    engine: Engine,
    table: str,
    records: Iterable[Mapping[str, str | None]],
    *,
    stamp: datetime | None = None,
    batch: int = 5_000,
    fresh: bool = False,
) -> int:
    """Write canonical records into the demo system, replacing rows of the same key (``fresh``: the table is
    empty and the records' keys unique, so nothing is looked for). Returns rows written."""
    st = source_tables()[table]
    key_cols = [st.table.c[st.columns[_feed_name(st.feed, k)]] for k in st.feed.key]
    written = 0
    buffer: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal written
        with engine.begin() as conn:
            keys = [] if fresh else [tuple(r[c.name] for c in key_cols) for r in buffer]
            for i in range(0, len(keys), 500):
                conn.execute(delete(st.table).where(tuple_(*key_cols).in_(keys[i : i + 500])))
            conn.execute(insert(st.table), buffer)
        written += len(buffer)
        buffer.clear()

    for row in source_rows(table, records, stamp):
        buffer.append(row)
        if len(buffer) >= batch:
            flush()
    if buffer:
        flush()
    return written


def _feed_name(ft: FeedTable, column: str) -> str:
    return next(c.field.name for c in ft.columns if c.column == column)


def from_batch(
    engine: Engine, batch: Path, *, stamp: datetime | None = None, fresh: bool = True
) -> dict[str, int]:
    """Fill the demo system from a canonical feed batch (the tables the preset has); rows per table. Rows
    of a table the feed does not stamp (``mof_div``) get ``stamp``, by default now.
    ``fresh``: the tables were just created (see :func:`create_schema`)."""
    from connectors.ingest.batch import open_batch
    from connectors.ingest.readers import open_reader

    opened = open_batch(batch)
    stamp = stamp or datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0)
    counts: dict[str, int] = {}
    for bf in opened.files:
        if bf.table not in source_tables():
            continue
        ft = feed_tables()[bf.table]
        reader = open_reader(bf.path, bf.fmt, opened.encoding, list(ft.by_feed_name))
        try:
            counts[bf.table] = upsert(engine, bf.table, _records(reader, ft), stamp=stamp, fresh=fresh)
        finally:
            reader.close()
    return counts


def _records(reader: Any, ft: FeedTable) -> Iterator[dict[str, str | None]]:
    from connectors.ingest.readers import BadLine

    names = [
        (i, ft.columns[ft.by_feed_name[h]].field.name)
        for i, h in enumerate(reader.header)
        if h in ft.by_feed_name
    ]
    for _line, values in reader.rows():
        if not isinstance(values, BadLine):
            yield {name: values[i] for i, name in names}
