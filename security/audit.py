"""The tamper-evident audit log: every API request, one entry, one leaf of an RFC 6962 Merkle tree.

What the middleware and the routes call:

- :class:`AuditEntry` is what the middleware hands over (``parameters`` through :func:`encode_parameters`);
  :meth:`AuditEntry.canonical` is its bytes (sorted-key compact JSON of every field, UTF-8), whose leaf hash
  ``SHA-256(0x00 || bytes)`` is stored with it.
- :class:`AuditWriter` appends entries, each in its own short transaction under a lock that keeps the
  sequence gap-free, and signs a checkpoint of the tree every ``checkpoint_every`` entries, outside the
  database (:mod:`security.checkpoints`); :meth:`AuditWriter.close` signs one more at shutdown.
- :func:`verify` recomputes everything from the stored fields and the checkpoints and names the first bad
  entry or checkpoint; :func:`prune` is the only way entries leave (a checkpointed prefix)
  (:mod:`security.audit_verify`).
- :func:`list_entries` pages through the log for ``GET /v1/audit``.

The design and its limits: docs/audit.md and docs/adr/0009-audit-log.md.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from api.errors import BadParameter
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Listed, decode_cursor, encode_cursor
from schema.audit import AuditLog
from schema.db import make_engine, write_transaction
from security.audit_core import (
    REDACTED,
    AuditEntry,
    AuditSettings,
    AuditTampered,
    encode_parameters,
    extend,
    log_size,
    prune_base,
    redact,
    row_of,
    start_from,
    utc,
)
from security.audit_verify import Finding, PruneReport, VerifyReport, prune, verify
from security.checkpoints import Checkpoint, load_signing_key, sign_checkpoint, write_checkpoint
from security.merkle import Frontier

try:
    import fcntl
except ImportError:  # not on Windows: SQLite's own busy handler alone
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "REDACTED",
    "WRITER_ROLE",
    "AuditEntry",
    "AuditFilters",
    "AuditPage",
    "AuditRow",
    "AuditSettings",
    "AuditTampered",
    "AuditWriteError",
    "AuditWriter",
    "Finding",
    "PruneReport",
    "VerifyReport",
    "encode_parameters",
    "ensure_writer_role",
    "list_entries",
    "prune",
    "redact",
    "verify",
]

log = logging.getLogger("oversight.audit")

WRITER_ROLE = "oversight_audit_writer"
# pg_advisory_xact_lock key taken by every writer for the length of its insert: b"auditlog"
LOCK_KEY = int.from_bytes(b"auditlog", "big")
QUEUE_TIMEOUT_S = 30  # longest wait in the writers' queue on a SQLite file (as its busy timeout)


class AuditWriteError(RuntimeError):
    """The entry could not be written: the caller must not serve the request's data."""


# --- writing ---------------------------------------------------------------------------------------------


class AuditWriter:
    """Appends entries. One per API process (thread-safe); several processes may write to the same log.

    ``engine``: for tests and tools; by default the writer makes its own from ``settings.url()``. The
    signing key is loaded at construction, so a service without one fails at startup, not at a checkpoint.
    """

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        settings: AuditSettings | None = None,
        signing_key: Ed25519PrivateKey | None = None,
    ) -> None:
        self.settings = settings or AuditSettings()
        self._own_engine = engine is None
        self.engine = engine if engine is not None else make_engine(self.settings.url())
        self.key = signing_key or load_signing_key(self.settings.signing_key)
        self.checkpoint_dir = Path(self.settings.checkpoint_dir)
        self.every = self.settings.checkpoint_every
        self._newest: Checkpoint | None = None  # the newest checkpoint this writer signed or read
        self._lock = threading.Lock()

    def record(self, entry: AuditEntry) -> int:
        """Append ``entry`` (secrets in its parameters redacted) and return its sequence number. Raises
        :class:`AuditWriteError` when it cannot be written. Every ``checkpoint_every`` entries the writer
        that took the last one signs a checkpoint; a failure there is logged, not raised (the entry is in)."""
        return self.record_many([entry])[0]

    def record_many(self, entries: Sequence[AuditEntry]) -> list[int]:
        """Append ``entries`` in one transaction, in their order (the API's group commit: the entries of
        concurrent requests), and return their sequence numbers; all or none are written."""
        if not entries:
            return []
        try:
            encoded = [encode_parameters(e.parameters) for e in entries]
            with _writers_queue(self.engine), write_transaction(self.engine) as conn:
                if conn.dialect.name == "postgresql":
                    # A sequence cannot be gap-free (nextval survives a rollback): the number is max + 1,
                    # taken under a lock held until commit, so writers queue for the length of one insert.
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
                first = log_size(conn)  # on SQLite the transaction is BEGIN IMMEDIATE: the write lock
                rows = [
                    row_of(replace(e, seq=first + n, parameters=p))
                    for n, (e, p) in enumerate(zip(entries, encoded, strict=True))
                ]
                conn.execute(insert(AuditLog), rows)
        except (SQLAlchemyError, ValueError, TypeError, UnicodeError, OSError) as exc:
            raise AuditWriteError(f"the audit log could not take the entry: {exc}") from exc
        last = first + len(entries)
        if last // self.every > first // self.every:  # a multiple of checkpoint_every was passed
            size = last // self.every * self.every
            try:
                self.checkpoint(size)
            except Exception:  # noqa: BLE001 - the entries are written; the next checkpoint covers them
                log.exception("audit checkpoint at %d entries failed", size)
        return list(range(first, last))

    def checkpoint(self, size: int | None = None) -> Checkpoint | None:
        """Sign the head of the first ``size`` entries (default: all so far) unless that size is signed
        already (then that checkpoint is returned). The entries since the checkpoint it starts from are
        checked against their leaf hashes first: AuditTampered, and nothing is signed, if one fails.
        None for an empty log."""
        public = self.key.public_key()
        with self.engine.connect() as conn:
            if size is None:
                size = log_size(conn)
            if size == 0:
                return None
            with self._lock:
                start = self._newest
            if start is None or not prune_base(conn)[0] <= start.tree_size <= size:
                start = start_from(conn, self.checkpoint_dir, public, size)
            if start is not None and start.tree_size == size:
                return start
            frontier = extend(conn, start.start() if start else Frontier(), size)
        cp = sign_checkpoint(self.key, frontier)
        write_checkpoint(self.checkpoint_dir, cp)
        with self._lock:
            if self._newest is None or self._newest.tree_size < cp.tree_size:
                self._newest = cp
        return cp

    def close(self) -> None:
        """Sign the log as it is now (at shutdown), and let go of the writer's own engine."""
        try:
            self.checkpoint()
        finally:
            if self._own_engine:
                self.engine.dispose()


@contextmanager
def _writers_queue(engine: Engine) -> Iterator[None]:
    """On a SQLite file, the log's writers (one per API process) queue on a lock file beside it before
    they ask for the database's write lock. SQLite itself lets a writer that finds the lock taken sleep
    and retry (1, 2, 5, 10, … 100 ms, its busy handler), so two processes writing in turn spent most of
    their time asleep after the lock was already free: cached answers came out at a quarter of the rate
    without the log (bench/RESULTS.md, security). ``flock`` wakes the next writer as the lock is given
    back. Elsewhere (PostgreSQL's advisory lock queues its waiters) nothing is done."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if fcntl is None or not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    fd = os.open(f"{database}.audit-lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        deadline = time.monotonic() + QUEUE_TIMEOUT_S
        while True:  # non-blocking tries 1 ms apart: a wait that can end, SQLite's busy timeout's length
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the audit log's writers' queue ({database}.audit-lock)") from None
                time.sleep(0.001)
        yield
    finally:
        os.close(fd)  # closing the descriptor gives the lock back


# --- reading for GET /v1/audit ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditFilters:
    since: datetime | None = None  # entries at or after this time
    until: datetime | None = None  # entries before this time
    sub: str | None = None
    body: str | None = None
    region: str | None = None
    operation: str | None = None
    status: int | None = None


class AuditRow(Listed):
    seq: int
    time: datetime
    sub: str | None
    body: str | None
    org: str | None
    region: str | None
    operation: str
    parameters: Any  # the stored JSON, decoded
    result_count: int | None
    status: int
    latency_ms: int | None
    request_id: str | None
    client: str | None
    pii_revealed: bool
    reveal_reason: str | None
    leaf_hash: str


class AuditPage(BaseModel):
    rows: list[AuditRow]
    next_cursor: str | None


LISTING = "audit"


def list_entries(
    session: Session,
    *,
    filters: AuditFilters | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> AuditPage:
    """The log, newest first, keyset-paginated by sequence number (a page is stable while entries are
    appended: a cursor continues below the last entry seen)."""
    query = _entries(filters or AuditFilters())
    after = decode_cursor(LISTING, cursor, 1)
    if after is not None:
        if not isinstance(after[0], int):
            raise BadParameter("cursor", f"not a cursor of the {LISTING} listing")
        query = query.where(AuditLog.seq < after[0])
    limit = max(1, min(limit, MAX_LIMIT))
    found = session.execute(query.order_by(AuditLog.seq.desc()).limit(limit + 1)).scalars().all()
    rows = [_auditrow_of(r) for r in found[:limit]]
    for row in rows:
        row.at(encode_cursor(LISTING, [row.seq]))
    return AuditPage(rows=rows, next_cursor=rows[-1].cursor if len(found) > limit else None)


def export_query(filters: AuditFilters | None = None) -> Any:
    """Every entry of the listing, newest first, for an export to stream (each row: :func:`audit_row`)."""
    query = _entries(filters or AuditFilters()).with_only_columns(*AuditLog.__table__.columns)
    return query.order_by(AuditLog.seq.desc())


def audit_row(r: Any) -> AuditRow:
    """A row of :func:`export_query` as the listing shows it."""
    return _auditrow_of(r)


def _entries(f: AuditFilters) -> Any:
    """The entries passing the filters: what a page and an export both read."""
    query = select(AuditLog)
    for column, value in (
        (AuditLog.sub, f.sub),
        (AuditLog.body, f.body),
        (AuditLog.region, f.region),
        (AuditLog.operation, f.operation),
        (AuditLog.status, f.status),
    ):
        if value is not None:
            query = query.where(column == value)
    if f.since is not None:
        query = query.where(AuditLog.time >= utc(f.since).replace(tzinfo=None))
    if f.until is not None:
        query = query.where(AuditLog.time < utc(f.until).replace(tzinfo=None))
    return query


def _auditrow_of(r: Any) -> AuditRow:
    return AuditRow(
        seq=r.seq,
        time=utc(r.time),
        sub=r.sub,
        body=r.body,
        org=r.org,
        region=r.region,
        operation=r.operation,
        parameters=json.loads(r.parameters),
        result_count=r.result_count,
        status=r.status,
        latency_ms=r.latency_ms,
        request_id=r.request_id,
        client=r.client,
        pii_revealed=r.pii_revealed,
        reveal_reason=r.reveal_reason,
        leaf_hash=r.leaf_hash,
    )


# --- the writer's role (PostgreSQL) ----------------------------------------------------------------------


def ensure_writer_role(engine: Engine, role: str = WRITER_ROLE) -> bool:
    """Create the INSERT-only role if the cluster lacks it (NOLOGIN: grant it to the API's login) and give
    it, in this database, INSERT and SELECT on audit_log, SELECT on audit_prune (the next number reads
    it) and USAGE on the schema, and nothing else. Whether the role was created. A no-op on SQLite.

    Roles are cluster-wide, so this is a step of ``oversight audit init``, run by someone allowed to create
    roles, rather than of a migration (docs/adr/0009-audit-log.md)."""
    if engine.dialect.name != "postgresql":
        return False
    quoted = engine.dialect.identifier_preparer.quote(role)
    for attempt in range(5):
        try:
            with engine.begin() as conn:
                exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
                if not exists:
                    conn.execute(text(f"CREATE ROLE {quoted} NOLOGIN"))
                schema = engine.dialect.identifier_preparer.quote(
                    conn.execute(text("SELECT current_schema()")).scalar_one()
                )
                conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {quoted}"))
                conn.execute(text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {quoted}"))
                conn.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {quoted}"))
                conn.execute(text(f"GRANT SELECT, INSERT ON audit_log TO {quoted}"))
                conn.execute(text(f"GRANT SELECT ON audit_prune TO {quoted}"))
            return not exists
        except DBAPIError:
            # another database of the cluster created the role at the same moment, or granted on the
            # same schema: the second time round the role exists
            if attempt == 4:
                raise
    return False
