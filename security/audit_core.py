"""The audit log's parts that writing, verifying and pruning share: settings, the entry and its canonical
encoding, redaction, and reading the stored log back as Merkle leaves. The API is :mod:`security.audit`."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Connection, func, select

from schema.audit import AuditLog, AuditPrune
from schema.db import DatabaseSettings
from security.checkpoints import Checkpoint, format_time, newest_trusted
from security.merkle import Frontier, leaf_hash

REDACTED = "[redacted]"
_SECRET_WORDS = ("token", "authorization", "password", "passwd", "secret", "cookie", "credential")


class AuditSettings(BaseSettings):
    """Where the audit log is written and where its signed checkpoints are kept."""

    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_AUDIT_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL the audit writer connects with (its own engine); unset: the warehouse's "
        "(OVERSIGHT_DATABASE_URL). On PostgreSQL, a login that is a member of oversight_audit_writer.",
    )
    checkpoint_dir: Path = Field(
        default=Path("./audit-checkpoints"),
        description="Folder of the signed checkpoints (one JSON file per tree size); keep it off the "
        "database's host, or copy it away, so that whoever can rewrite the database cannot rewrite these.",
    )
    checkpoint_every: int = Field(
        default=1000,
        ge=1,
        description="Entries between two signed checkpoints; one is also written at shutdown and by "
        "`oversight audit checkpoint`.",
    )
    signing_key: Path = Field(
        default=Path("./.oversight-keys/audit-ed25519.pem"),
        description="Ed25519 private key (PKCS 8 PEM) that signs checkpoints; `oversight audit init` creates "
        "it with its public key beside it (`.pub`), which is all `oversight audit verify` needs.",
    )
    retention_days: int = Field(
        default=1095,
        ge=1,
        description="How long entries are kept: `oversight audit prune` without --before removes the "
        "checkpointed prefix older than this many days.",
    )

    def url(self) -> str:
        return self.database_url or DatabaseSettings().database_url


class AuditTampered(RuntimeError):
    """The stored log does not match what it must be (raised by the writer's checkpoint and by prune)."""


# --- entries ---------------------------------------------------------------------------------------------


def _is_secret(name: str) -> bool:
    flat = "".join(ch for ch in name.lower() if ch.isalnum())
    return any(word in flat for word in _SECRET_WORDS) or flat.endswith("key")


def redact(value: Any) -> Any:
    """``value`` with the value of every secret-looking key replaced, at any depth: keys containing token,
    authorization, password, passwd, secret, cookie or credential, or ending in ``key`` (``key``,
    ``api_key``, ``X-Api-Key``)."""
    if isinstance(value, Mapping):
        return {str(k): REDACTED if _is_secret(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def encode_parameters(parameters: str | Mapping[str, Any] | None) -> str:
    """The stored form of a request's parameters (a mapping, or JSON text): secrets redacted, canonical
    JSON text. The writer applies it again to whatever an entry carries."""
    value = json.loads(parameters) if isinstance(parameters, str) else dict(parameters or {})
    return _json(redact(value))


def utc(value: datetime) -> datetime:
    """Aware UTC; a naive time is taken to be UTC already (as the warehouse stores it)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One request. ``parameters``: JSON text (:func:`encode_parameters`); ``seq``: given by the writer."""

    operation: str  # route template (GET /v1/payments/{pay_cert_id}) or GraphQL operation (query Portal)
    status: int  # HTTP status sent
    time: datetime = field(default_factory=_now)  # when the request arrived, UTC
    sub: str | None = None
    body: str | None = None
    org: str | None = None
    region: str | None = None
    parameters: str = "{}"
    result_count: int | None = None  # rows or objects answered, where the route knows
    latency_ms: int | None = None
    request_id: str | None = None
    client: str | None = None  # the caller's address
    pii_revealed: bool = False
    reveal_reason: str | None = None
    seq: int | None = None

    def __post_init__(self) -> None:
        # Exactly what the database gives back, so that the hash of a stored entry is the hash written:
        # aware UTC to the microsecond, plain ints and bools.
        object.__setattr__(self, "time", utc(self.time))
        object.__setattr__(self, "status", int(self.status))
        object.__setattr__(self, "pii_revealed", bool(self.pii_revealed))
        if self.latency_ms is not None:
            object.__setattr__(self, "latency_ms", round(self.latency_ms))
        if self.result_count is not None:
            object.__setattr__(self, "result_count", int(self.result_count))

    def canonical(self) -> bytes:
        """Sorted-key compact JSON of every field (the time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``), UTF-8."""
        if self.seq is None:
            raise ValueError("an entry is encoded once the writer has numbered it")
        doc = asdict(self)
        doc["time"] = format_time(self.time)
        return _json(doc).encode("utf-8")

    def leaf_hash(self) -> bytes:
        return leaf_hash(self.canonical())


def row_of(entry: AuditEntry) -> dict[str, Any]:
    row = asdict(entry)
    row["time"] = entry.time.replace(tzinfo=None)
    row["leaf_hash"] = entry.leaf_hash().hex()
    return row


_ENTRY_COLUMNS = [getattr(AuditLog, name) for name in AuditEntry.__dataclass_fields__]


def entry_of(row: Any) -> AuditEntry:
    return AuditEntry(**{name: getattr(row, name) for name in AuditEntry.__dataclass_fields__})


# --- reading the log -------------------------------------------------------------------------------------


def prune_base(conn: Connection) -> tuple[int, str | None]:
    """The newest retention base: entries below it were pruned; its checkpoint's root."""
    row = conn.execute(
        select(AuditPrune.below_seq, AuditPrune.root_hash).order_by(AuditPrune.below_seq.desc()).limit(1)
    ).first()
    return (int(row[0]), row[1]) if row else (0, None)


def log_size(conn: Connection) -> int:
    """How many entries the log has ever taken: the next sequence number."""
    base = select(func.max(AuditPrune.below_seq)).scalar_subquery()
    return int(conn.execute(select(func.coalesce(func.max(AuditLog.seq) + 1, base, 0))).scalar_one())


def leaves(conn: Connection, start: int, stop: int | None = None) -> Iterator[tuple[int, str, bytes]]:
    """(seq, stored leaf hash, leaf hash recomputed from the stored fields) in sequence order."""
    query = select(*_ENTRY_COLUMNS, AuditLog.leaf_hash).where(AuditLog.seq >= start).order_by(AuditLog.seq)
    if stop is not None:
        query = query.where(AuditLog.seq < stop)
    for row in conn.execute(query, execution_options={"yield_per": 2000}):
        yield row.seq, row.leaf_hash, entry_of(row).leaf_hash()


def extend(conn: Connection, frontier: Frontier, stop: int) -> Frontier:
    """``frontier`` grown with the entries up to ``stop``, each checked; AuditTampered at the first fault."""
    for seq, stored, computed in leaves(conn, frontier.size, stop):
        if seq != frontier.size:
            raise AuditTampered(f"entry {frontier.size} is missing")
        if stored != computed.hex():
            raise AuditTampered(f"entry {seq}: the leaf hash does not match its fields")
        frontier.append(computed)
    if frontier.size != stop:
        raise AuditTampered(f"entry {frontier.size} is missing")
    return frontier


def start_from(
    conn: Connection, checkpoint_dir: Path, key: Ed25519PublicKey | None, size: int
) -> Checkpoint | None:
    """What a head at ``size`` is computed from: the newest trusted checkpoint of at most that size (None:
    the empty tree), never one below the prune base, whose entries are gone."""
    base, base_root = prune_base(conn)
    newest = newest_trusted(checkpoint_dir, key, size) if key is not None else None
    if newest is not None and newest.tree_size >= base:
        if newest.tree_size == base and newest.root_hash.hex() != base_root:
            raise AuditTampered(f"the prune base {base} does not match its checkpoint")
        return newest
    if base:
        raise AuditTampered(
            f"entries below {base} were pruned and no trusted checkpoint of that size is left"
        )
    return None
