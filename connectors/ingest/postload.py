"""Work that follows a load: derived tables brought up to date with what the load changed.

Runs after every load that changed something, and after one that found an earlier run interrupted (which
may have stopped between its last chunk and this step).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, Table, delete, func, insert, inspect, literal, select, text
from sqlalchemy.exc import OperationalError

from connectors.ingest import derive
from schema.db import write_transaction
from schema.derived import DERIVED_TABLES
from schema.models import (
    ExecRollup,
    FactCell,
    MofDiv,
    PayeeChange,
    PaymentChange,
    PaymentText,
    RegionClosure,
    metadata,
)

log = logging.getLogger(__name__)


def rebuild_region_closure(conn: Connection) -> int:
    """Every (ancestor, descendant) pair of the region tree, from each region's ``parent_code``."""
    parents = dict(
        conn.execute(
            select(MofDiv.mof_div_code, MofDiv.parent_code).where(MofDiv.is_deleted.is_(False))
        ).all()
    )
    rows = []
    for code in parents:
        node: str | None = code
        depth, seen = 0, set()
        while node is not None and node in parents and node not in seen:
            seen.add(node)
            rows.append({"ancestor": node, "descendant": code, "depth": depth})
            node, depth = parents[node], depth + 1
    conn.execute(delete(RegionClosure))
    if rows:
        conn.execute(insert(RegionClosure), rows)
    return len(rows)


BULK_BYTES = 32 << 20  # a file this large into an empty table is loaded with its secondary indexes deferred


def defer_indexes(engine: Engine, table: Table, file_bytes: int) -> bool:
    """Drop the secondary indexes of an empty table before a large load (building an index once, sorted,
    is far cheaper than maintaining it row by row). The primary key stays: the load looks rows up by it.
    A load that dies before :func:`restore_indexes` leaves them missing; the next load's
    :func:`after_load` puts them back."""
    if file_bytes < BULK_BYTES or not table.indexes:
        return False
    with engine.begin() as conn:
        if conn.execute(select(literal(1)).select_from(table).limit(1)).first() is not None:
            return False
        for index in table.indexes:
            index.drop(conn, checkfirst=True)
    return True


def restore_indexes(engine: Engine, table: Table | None = None) -> int:
    """Create whichever indexes of the models are missing (of one table, or of all)."""
    tables = [table] if table is not None else list(metadata.sorted_tables)
    created = 0
    with engine.begin() as conn:
        existing = {t.name: {i["name"] for i in inspect(conn).get_indexes(t.name)} for t in tables}
        for t in tables:
            for index in t.indexes:
                if index.name not in existing[t.name]:
                    index.create(conn)
                    created += 1
    return created


STALE_SHARE = 0.1  # a table whose row count moved by more than this share (and STALE_ROWS) is analyzed again
STALE_ROWS = 50


def refresh_statistics(engine: Engine, tables: set[str]) -> None:
    """Give the query planner fresh statistics of what a load changed: a bulk load leaves PostgreSQL's
    autovacuum behind for minutes, and SQLite has none until asked.

    On SQLite a table is analyzed in full, and only when it has no statistics yet or its row count has
    moved by more than ``STALE_SHARE`` since they were taken (PostgreSQL's own autovacuum threshold). A
    sampled ANALYZE (``PRAGMA analysis_limit``) reads only the first entries of each index, all of one
    fiscal year, and told the planner that a year holds 2,001 rows: at province scale it then scanned a
    whole year of fact cells (1.6 million) for a GraphQL portal query that takes 30 ms with full
    statistics."""
    if not tables:
        return
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            names = ", ".join(sorted(tables))
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text(f"ANALYZE {names}"))
    elif engine.dialect.name == "sqlite":
        # the write lock first (BEGIN IMMEDIATE): a read transaction that then writes fails at once if
        # another connection committed in between, where waiting for the lock would have done
        with write_transaction(engine) as conn:
            for name in sorted(tables):
                if _stale(conn, name):
                    conn.exec_driver_sql(f'ANALYZE "{name}"')


def _stale(conn: Connection, table: str) -> bool:
    """Whether SQLite's statistics of ``table`` are missing (for the table or one of its indexes, say one
    created since), unreadable, or taken at a row count more than ``STALE_SHARE`` away from today's."""
    try:
        rows_of = conn.exec_driver_sql("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = ?", (table,)).all()
    except OperationalError:  # no sqlite_stat1 before the first ANALYZE
        return True
    indexes = {r[1] for r in conn.exec_driver_sql(f'PRAGMA index_list("{table}")')}
    if not rows_of or not indexes <= {r[0] for r in rows_of}:
        return True
    try:
        counted = max(int(str(r[1]).split()[0]) for r in rows_of)
    except (IndexError, ValueError):  # not what ANALYZE writes: take them again
        return True
    rows = conn.exec_driver_sql(f'SELECT count(*) FROM "{table}"').scalar_one()
    return abs(rows - counted) > STALE_SHARE * counted + STALE_ROWS


SUMMARIES_LOCK = 0x6F76_7375  # pg_advisory_lock key of the aggregates (summaries and payees)


@contextmanager
def _aggregates_lock(engine: Engine) -> Iterator[Connection]:
    """A transaction over the aggregates, one at a time across processes, that sees everything committed
    before it and nothing after: a move by deltas and a rebuild must not overlap, and the kept changes a
    rebuild clears must be exactly those it took in. SQLite: the write lock from the start. PostgreSQL: an
    advisory lock taken before the transaction begins, then one repeatable-read snapshot."""
    if engine.dialect.name != "postgresql":
        with write_transaction(engine) as conn:
            yield conn
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SUMMARIES_LOCK})
        conn.commit()
        try:
            snapshot = conn.execution_options(isolation_level="REPEATABLE READ")
            with snapshot.begin():
                yield snapshot
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SUMMARIES_LOCK})
            conn.commit()


def _summaries(conn: Connection, changed: set[str], *, by_delta: bool) -> str:
    """Fact cells, rollups and scope rollups: moved by the kept payment changes, or rebuilt whole; either
    way the kept changes are then taken in."""
    result = None
    if by_delta and changed & derive.FACT_INPUTS <= {"pay_voucher"}:
        started = time.perf_counter()
        try:
            with conn.begin_nested():
                cells, rollups, scopes = derive.apply_payment_changes(conn)
        except derive.Drift as exc:
            log.warning("summaries rebuilt whole: %s", exc)
        else:
            result = (
                f"summaries: moved by the changed payments ({cells:,} cells, {rollups:,} rollup and "
                f"{scopes:,} scope rows, {time.perf_counter() - started:.1f} s)"
            )
    if result is None:
        cells, rollups = derive.rebuild_facts(conn)
        result = f"summaries: {cells:,} fact cells, {rollups:,} rollup rows"
    conn.execute(delete(PaymentChange))
    return result


def _payees(conn: Connection, *, by_delta: bool) -> str:
    """Payees: those the kept changes concern recomputed, or all rebuilt; the kept changes then taken in."""
    if by_delta:
        n = derive.rebuild_payees(conn, derive.changed_payees())
        result = f"payees: {n:,} of the changed payments"
    else:
        n = derive.rebuild_payees(conn)
        result = f"payees: {n:,}"
    conn.execute(delete(PayeeChange))
    return result


class _Clock:
    """Appends each step's time to the line it adds to the report."""

    def __init__(self, done: list[str]) -> None:
        self.done, self.seen, self.started = done, 0, time.perf_counter()

    def lap(self) -> None:
        now = time.perf_counter()
        for i in range(self.seen, len(self.done)):
            if not self.done[i].endswith("s)"):
                self.done[i] += f" ({now - self.started:.1f} s)"
        self.seen, self.started = len(self.done), now


def after_load(
    engine: Engine, run_id: int, changed: set[str], *, force: bool, deltas: bool = False
) -> list[str]:
    """Bring derived tables up to date; returns what was done, for the report.

    ``force`` (after an interrupted run, whose changes this run may have found already stored) rebuilds
    everything derived. ``deltas``: the run kept what it changed (a sync does: ``payment_change``,
    ``payee_change``); when payments are the only input of the summaries that changed, the summaries move
    by the kept changes and only the payees they concern are recomputed, instead of rebuilding them.

    Kept changes are taken in exactly once, whichever run does it: a move by deltas takes in all of them (a
    run beside this one, or one that died, may have left some), and a whole rebuild, which includes what
    they describe, clears them in the same transaction."""
    done: list[str] = []
    clock = _Clock(done)
    if force:
        created = restore_indexes(engine)
        if created:
            done.append(f"indexes: {created} recreated after an interrupted load")
    clock.lap()
    with engine.begin() as conn:
        empty = conn.execute(select(func.count()).select_from(RegionClosure)).scalar_one() == 0
        if force or empty or "mof_div" in changed:
            n = rebuild_region_closure(conn)
            done.append(f"region tree: {n} ancestor pairs")
    clock.lap()
    with _aggregates_lock(engine) as conn:
        never_built = conn.execute(select(FactCell.id).limit(1)).first() is None
        if force or changed & derive.FACT_INPUTS or (never_built and changed):
            done.append(_summaries(conn, changed, by_delta=deltas and not force and not never_built))
    clock.lap()
    with engine.begin() as conn:
        never_built = conn.execute(select(ExecRollup.id).limit(1)).first() is None
        if force or changed & derive.EXEC_INPUTS or (never_built and "gov_exec" in changed):
            n = derive.rebuild_exec(conn)
            done.append(f"budget execution: {n:,} scope rows")
    clock.lap()
    with engine.begin() as conn:
        never_built = conn.execute(select(PaymentText.id).limit(1)).first() is None
        if force or never_built or changed & derive.TEXT_INPUTS:
            n = derive.refresh_payment_text(conn, None if force else run_id, changed)
            done.append(f"keyword index: {n:,} payments")
    clock.lap()
    if force or changed & derive.PAYEE_INPUTS:
        with _aggregates_lock(engine) as conn:
            done.append(_payees(conn, by_delta=deltas and not force))
    clock.lap()
    refresh_statistics(engine, changed | set(DERIVED_TABLES) if done else changed)
    if done:
        done.append(f"statistics: {time.perf_counter() - clock.started:.1f} s")
    return done
