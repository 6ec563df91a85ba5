"""Applying one chunk of parsed feed rows to a warehouse table: latest ``update_time`` wins.

Rows arrive already parsed and in the database's own representation (see :class:`Adapter`). A chunk is
applied inside the caller's transaction: lookup of the stored versions, then inserts and updates. The
rules of ``feeds.md``: a stored record is replaced when the incoming ``update_time`` is later or equal
(ties: the later record in load order wins); identical content is left alone; older records are ignored.
"""

from __future__ import annotations

import io
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection

from schema.feed import FeedTable

LOOKUP_BATCH = 2000
# every text value quoted, a null left empty: COPY's CSV format reads an unquoted empty field as NULL
_COPY_CSV = pacsv.WriteOptions(include_header=False, quoting_style="needed")
FRESH_PATIENCE = 3  # chunks of a fresh table that meet a stored key before the writer looks every chunk up
PROVENANCE = ("src_name", "src_run_id", "src_file", "src_line", "src_hash", "loaded_at")
# what a payment contributes to the summaries, captured per changed payment (schema.derived.PaymentChange)
DELTA_COLUMNS = (
    "pay_cert_id",
    "payee_key",
    "fiscal_year",
    "mof_div_code",
    "fund_type_code",
    "agency_code",
    "pro_code",
    "bgt_id",
    "exp_func_code",
    "gov_bgt_eco_code",
    "dep_bgt_eco_code",
    "vou_date",
    "pay_amt_fen",
)
# what each table's changes capture (a detail: its payee, for the payees' aggregates)
CAPTURED = {"pay_voucher": DELTA_COLUMNS, "pay_detail": ("payee_key",)}


def stored_columns(ft: FeedTable) -> list[str]:
    """The order of values in a prepared row: feed columns, derived columns, state, provenance."""
    cols = [c.column for c in ft.columns] + list(ft.derived)
    if not ft.soft_state:
        cols += ["is_deleted", "update_time"]
    return cols + list(PROVENANCE)


@dataclass(slots=True)
class Counts:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    deleted: int = 0
    quarantined: int = 0

    def add(self, other: Counts) -> None:
        for name in ("read", "inserted", "updated", "unchanged", "stale", "deleted", "quarantined"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _older(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a < b


class TableWriter:
    """Applies chunks of one file to its table.

    ``fresh`` says the table was empty when the load began: a chunk is then first simply inserted, without
    looking its keys up, and looked up only when the insert meets a key that is already stored (a later
    version of a record in this same file, or another loader's row). After a few such chunks the writer
    stops guessing and looks every chunk up."""

    def __init__(self, ft: FeedTable, dialect: str, file_name: str, *, fresh: bool = False) -> None:
        self.ft = ft
        self.fresh = fresh
        self._collisions = 0
        self.dialect = dialect
        self.file_name = file_name
        self.columns = stored_columns(ft)
        p = "?" if dialect == "sqlite" else "%s"
        self._p = p
        cols = ", ".join(self.columns)
        self._insert = f"INSERT INTO {ft.name} ({cols}) VALUES ({', '.join([p] * len(self.columns))})"
        key_set = set(ft.key)
        self._update_cols = [c for c in self.columns if c not in key_set]
        self._key_pos = [self.columns.index(k) for k in ft.key]
        self._update_pos = [self.columns.index(c) for c in self._update_cols]
        sets = ", ".join(f"{c} = {p}" for c in self._update_cols)
        where = " AND ".join(f"{k} = {p}" for k in ft.key)
        self._update = f"UPDATE {ft.name} SET {sets} WHERE {where}"
        self._update_values = itemgetter(*self._update_pos, *self._key_pos)
        self._key_of = itemgetter(*self._key_pos)  # a scalar for one key column, else a tuple
        self._ut = self.columns.index("update_time")
        self._del = self.columns.index("is_deleted")
        self._digest = self.columns.index("src_hash")
        self._line = self.columns.index("src_line")
        # ``capture`` on (payments and details of a sync): each chunk leaves in ``captured`` the old (-1) and
        # new (+1) version of every record it inserted, replaced or deleted, as (sign, *CAPTURED[table])
        self.capture = False
        self.captured: list[tuple[Any, ...]] = []
        self._captured_columns = CAPTURED.get(ft.name, ())
        self._delta = (
            (
                lambda row, get=itemgetter(*(self.columns.index(c) for c in self._captured_columns)): tuple(
                    get(row)
                )
            )
            if len(self._captured_columns) > 1
            else (lambda row, i=self.columns.index(self._captured_columns[0]): (row[i],))
            if self._captured_columns
            else None
        )

    def _lookup(self, conn: Connection, keys: list[Any]) -> dict[Any, tuple[Any, ...]]:
        """The stored state of the given keys: (update_time, hash, is_deleted, file, line) per key."""
        found: dict[Any, tuple[Any, ...]] = {}
        key = self.ft.key
        width, p = len(key), self._p
        wanted = (
            ", ".join(f"t.{k}" for k in key)
            + ", t.update_time, t.src_hash, t.is_deleted, t.src_file, t.src_line"
            + ("".join(f", t.{c}" for c in self._captured_columns) if self.capture else "")
        )
        for start in range(0, len(keys), LOOKUP_BATCH):
            part = keys[start : start + LOOKUP_BATCH]
            if width == 1:
                marks = ", ".join([p] * len(part))
                sql = f"SELECT {wanted} FROM {self.ft.name} AS t WHERE t.{key[0]} IN ({marks})"
                params: list[Any] = part
            else:
                # a join against the key list: a row-value IN (VALUES …) would scan the table on SQLite
                row = "(" + ", ".join([p] * width) + ")"
                on = " AND ".join(f"t.{k} = v.column{i + 1}" for i, k in enumerate(key))
                values = ", ".join([row] * len(part))
                sql = f"SELECT {wanted} FROM (VALUES {values}) AS v JOIN {self.ft.name} AS t ON {on}"
                params = [v for k in part for v in k]
            for rec in conn.exec_driver_sql(sql, tuple(params)):
                stamp = rec[width]
                if isinstance(stamp, datetime):  # PostgreSQL answers with datetimes, SQLite with text
                    stamp = stamp.strftime("%Y-%m-%d %H:%M:%S.%f")
                found[rec[0] if width == 1 else tuple(rec[:width])] = (stamp, *rec[width + 1 :])
        return found

    def apply(self, conn: Connection, rows: list[tuple[Any, ...]], table: pa.Table | None = None) -> Counts:
        """Store ``rows``; ``table``, where given, holds the same rows as Arrow columns."""
        counts = Counts()
        key_of, ut, de, dg, ln = self._key_of, self._ut, self._del, self._digest, self._line
        winners: dict[Any, tuple[Any, ...]] = {}
        for row in rows:
            key = key_of(row)
            current = winners.get(key)
            if current is not None:
                counts.stale += 1  # one of the two never reaches the warehouse
                if _older(row[ut], current[ut]):
                    continue
            winners[key] = row
        if len(winners) < len(rows):
            table = None
        capture = self.capture and self._delta is not None
        self.captured = []
        if self.fresh and self._insert_all_new(conn, winners, counts, table):
            if capture:
                self.captured = [(1, *self._delta(r)) for r in winners.values() if not r[de]]  # type: ignore[misc]
            return counts
        stored = self._lookup(conn, list(winners))
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        for key, row in winners.items():
            old = stored.get(key)
            if old is None:
                inserts.append(row)
                if row[de]:
                    counts.deleted += 1
                else:
                    counts.inserted += 1
                    if capture:
                        self.captured.append((1, *self._delta(row)))  # type: ignore[misc]
                continue
            old_time, old_hash, old_deleted, old_file, old_line = old[:5]
            if old_hash == row[dg]:
                counts.unchanged += 1
            elif _older(row[ut], old_time) or (
                row[ut] == old_time and old_file == self.file_name and old_line > row[ln]
            ):
                counts.stale += 1  # the stored record is newer, or later in this same file
            else:
                updates.append(self._update_values(row))
                if capture:
                    if not old_deleted:
                        self.captured.append((-1, *old[5:]))
                    if not row[de]:
                        self.captured.append((1, *self._delta(row)))  # type: ignore[misc]
                if row[de] and not old_deleted:
                    counts.deleted += 1
                else:
                    counts.updated += 1
        if inserts:
            self._write_inserts(conn, inserts)
        if updates:
            _executemany(conn, self._update, updates)
        return counts

    def _insert_all_new(
        self, conn: Connection, winners: dict[Any, tuple[Any, ...]], counts: Counts, table: pa.Table | None
    ) -> bool:
        """Insert every winner as a new record, or change nothing and say so when a key is taken."""
        cur = conn.connection.cursor()
        cur.execute("SAVEPOINT fresh_chunk")
        try:
            self._write_inserts(conn, list(winners.values()), table)
        except Exception as exc:
            if not _is_duplicate_key(exc):
                raise
            cur.execute("ROLLBACK TO SAVEPOINT fresh_chunk")
            cur.execute("RELEASE SAVEPOINT fresh_chunk")
            cur.close()
            self._collisions += 1
            self.fresh = self._collisions < FRESH_PATIENCE
            return False
        cur.execute("RELEASE SAVEPOINT fresh_chunk")
        cur.close()
        deleted = sum(1 for row in winners.values() if row[self._del])
        counts.deleted += deleted
        counts.inserted += len(winners) - deleted
        return True

    def _write_inserts(
        self, conn: Connection, rows: list[tuple[Any, ...]], table: pa.Table | None = None
    ) -> None:
        if self.dialect == "postgresql":
            raw: Any = conn.connection.driver_connection
            columns = ", ".join(self.columns)
            if table is not None:  # Arrow's CSV writer makes COPY's input without a Python call per row
                data = io.BytesIO()
                pacsv.write_csv(table, data, write_options=_COPY_CSV)
                with (
                    raw.cursor() as cur,
                    cur.copy(f"COPY {self.ft.name} ({columns}) FROM STDIN (FORMAT csv)") as copy,
                ):
                    copy.write(data.getbuffer())
                return
            with raw.cursor() as cur, cur.copy(f"COPY {self.ft.name} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        _executemany(conn, self._insert, rows)


def _executemany(conn: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    # straight to the DB-API cursor: the hot path of a load, where SQLAlchemy's per-call work shows
    cur = conn.connection.cursor()
    try:
        cur.executemany(sql, rows)
    finally:
        cur.close()


def _is_duplicate_key(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, sqlite3.IntegrityError):
        return "UNIQUE constraint failed" in str(orig)
    return getattr(orig, "sqlstate", None) == "23505"


def existing_values(conn: Connection, table: str, column: str, values: set[Any], dialect: str) -> set[Any]:
    """Which of ``values`` are stored in ``table.column`` (deleted records count: they still exist)."""
    p = "?" if dialect == "sqlite" else "%s"
    found: set[Any] = set()
    items = sorted(values)
    for start in range(0, len(items), LOOKUP_BATCH):
        part = items[start : start + LOOKUP_BATCH]
        sql = f"SELECT {column} FROM {table} WHERE {column} IN ({', '.join([p] * len(part))})"
        found.update(r[0] for r in conn.exec_driver_sql(sql, tuple(part)))
    return found
