"""The audit log: one row per API request, append-only, the leaves of a Merkle tree (security/audit.py).

Triggers made by migration 0004 refuse UPDATE and DELETE of ``audit_log`` (and TRUNCATE on PostgreSQL),
except DELETE of the rows below the newest ``audit_prune.below_seq``: the retention prune records its
base there first (docs/adr/0009-audit-log.md). ``audit_prune`` itself is append-only too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base

# BIGINT on PostgreSQL; SQLite's INTEGER PRIMARY KEY is the rowid itself (64-bit), no second index
SEQ = BigInteger().with_variant(Integer(), "sqlite")


class AuditLog(Base):
    """One API request (REST call or GraphQL operation), as the audit middleware saw it."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=False)  # Merkle leaf index, 0..n-1
    time: Mapped[datetime] = mapped_column(DateTime, nullable=False)  # UTC, naive, microseconds
    sub: Mapped[str | None] = mapped_column(Text)  # the principal; None when no token was accepted
    body: Mapped[str | None] = mapped_column(String(32))
    org: Mapped[str | None] = mapped_column(Text)
    region: Mapped[str | None] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(Text, nullable=False)  # route template or GraphQL operation
    parameters: Mapped[str] = mapped_column(Text, nullable=False)  # canonical JSON, secrets redacted
    result_count: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer, nullable=False)  # HTTP status
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(Text)  # the caller's address
    pii_revealed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    reveal_reason: Mapped[str | None] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64), nullable=False)  # hex SHA-256(0x00 || entry)

    __table_args__ = (
        Index("ix_audit_log_time", "time"),
        Index("ix_audit_log_sub", "sub", "seq"),
    )


class AuditPrune(Base):
    """A retention prune: every entry below ``below_seq`` was deleted; the signed checkpoint of that size
    (whose root is ``root_hash``) is the base the rest of the log is verified from."""

    __tablename__ = "audit_prune"

    below_seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    cutoff: Mapped[datetime] = mapped_column(DateTime, nullable=False)  # entries older than this were due
    pruned_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
