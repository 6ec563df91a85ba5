"""Verifying the audit log against its signed checkpoints, and pruning it (docs/audit.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, delete, func, insert, select

from schema.audit import AuditLog, AuditPrune
from schema.db import write_transaction
from security.audit_core import (
    AuditSettings,
    AuditTampered,
    extend,
    leaves,
    log_size,
    prune_base,
    start_from,
    utc,
)
from security.checkpoints import (
    Checkpoint,
    CheckpointError,
    load_public_key,
    newest_trusted,
    read_checkpoints,
)
from security.merkle import Frontier

# --- verifying -------------------------------------------------------------------------------------------

MAX_FINDINGS = 1000  # a log rewritten wholesale is named by its first thousand faults, the rest counted


@dataclass(frozen=True, slots=True)
class Finding:
    """What is wrong, and where: an entry (``seq``), a checkpoint (``checkpoint``, its file name), or both:
    a checkpoint whose root the log no longer matches names the entries that may have changed, ``seq`` to
    ``until`` (the entries since the last checkpoint that matched)."""

    problem: str
    seq: int | None = None
    checkpoint: str | None = None
    until: int | None = None

    def __str__(self) -> str:
        where = []
        if self.seq is not None:
            span = self.until is not None and self.until != self.seq
            where.append(f"entries {self.seq}..{self.until}" if span else f"entry {self.seq}")
        if self.checkpoint:
            where.append(f"checkpoint {self.checkpoint}")
        return f"{', '.join(where)}: {self.problem}"


@dataclass(slots=True)
class VerifyReport:
    entries: int = 0  # rows read
    base: int = 0  # entries below this were pruned
    tree_size: int = 0  # the log's size: its last sequence number + 1
    root_hash: str = ""  # the log's head, hex (empty when it cannot be computed)
    checkpoints: int = 0  # checkpoints whose root was checked against the log and matched
    newest_checkpoint: int = 0  # the largest tree size a matching checkpoint signed
    findings: list[Finding] = field(default_factory=list)  # in the order found, the first MAX_FINDINGS
    omitted: int = 0  # findings past MAX_FINDINGS, counted only

    def add(self, finding: Finding) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(finding)
        else:
            self.omitted += 1

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad_entry(self) -> Finding | None:
        """The lowest entry found bad. An entry named by itself (a leaf hash, a gap) comes before a span a
        checkpoint names when it lies in that span (it explains the span)."""
        exact = [f for f in self.findings if f.seq is not None and f.until is None]
        spans = [
            f
            for f in self.findings
            if f.seq is not None
            and f.until is not None
            and not any(f.seq <= (e.seq or 0) <= f.until for e in exact)
        ]
        bad = exact + spans
        return min(bad, key=lambda f: (f.seq or 0, f.until is not None)) if bad else None

    @property
    def first_bad_checkpoint(self) -> Finding | None:
        bad = [f for f in self.findings if f.checkpoint is not None]
        return min(bad, key=lambda f: f.checkpoint or "") if bad else None

    def summary(self) -> str:
        if not self.ok:
            first = self.first_bad_entry or self.first_bad_checkpoint
            return f"audit log NOT intact ({len(self.findings) + self.omitted} findings); first: {first}"
        tail = self.tree_size - self.newest_checkpoint
        text_ = (
            f"audit log intact: entries {self.base}..{self.tree_size - 1} ({self.entries}), head "
            f"{self.root_hash}, {self.checkpoints} checkpoints match"
        )
        if self.base:
            text_ += f", entries below {self.base} pruned"
        if tail:
            text_ += f"; the last {tail} entries are not yet under a signed checkpoint"
        return text_


def verify(engine: Engine, checkpoint_dir: Path, public_key: Ed25519PublicKey | None = None) -> VerifyReport:
    """Check the whole log: every leaf hash from the stored fields, sequence numbers without gaps from the
    prune base on, every checkpoint's signature, and that each checkpoint's root is the log's head at its
    size (the log was only appended to since it was signed). ``public_key``: by default the signing key's
    ``.pub`` file. Findings name entries by sequence number and checkpoints by file name."""
    key = public_key or load_public_key(AuditSettings().signing_key)
    report = VerifyReport()
    trusted: dict[int, list[tuple[str, Checkpoint]]] = {}
    for path, cp in read_checkpoints(Path(checkpoint_dir)):
        problem = str(cp) if isinstance(cp, CheckpointError) else cp.problem(key)
        if isinstance(cp, Checkpoint) and problem is None:
            trusted.setdefault(cp.tree_size, []).append((path.name, cp))
        else:
            report.add(Finding(problem or "", checkpoint=path.name))

    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot for the whole scan, however long
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        _check_log(conn, trusted, report)
    _check_beyond(engine, trusted, report)
    return report


def _check_log(
    conn: Connection, trusted: dict[int, list[tuple[str, Checkpoint]]], report: VerifyReport
) -> None:
    base, base_root = prune_base(conn)
    report.base = report.newest_checkpoint = base
    frontier: Frontier | None = Frontier()
    if base:
        base_cp = next((cp for _, cp in trusted.get(base, []) if cp.root_hash.hex() == base_root), None)
        frontier = base_cp.start() if base_cp else None
        if frontier is None:
            report.add(
                Finding(
                    f"entries below {base} were pruned, but no trusted checkpoint of size {base} with the "
                    "recorded root is left: the rest cannot be tied to a signed head",
                    seq=base,
                )
            )
    matched = base  # the largest size up to which the log is proven to be what was signed

    def check_heads() -> None:
        nonlocal matched
        if frontier is None:
            return
        for name, cp in trusted.get(frontier.size, []):
            if frontier.size == base:
                continue  # the base checkpoint is where the frontier came from
            if frontier.root() == cp.root_hash:
                report.checkpoints += 1
                matched = max(matched, cp.tree_size)
            else:
                report.add(
                    Finding(
                        f"the log's head at {cp.tree_size} entries is {frontier.root().hex()}, the "
                        f"checkpoint signed {cp.root_hash.hex()}: one of these entries was altered, removed "
                        "or reordered after it was signed",
                        seq=matched,
                        checkpoint=name,
                        until=cp.tree_size - 1,
                    )
                )

    expected = base
    for seq, stored, computed in leaves(conn, base):
        report.entries += 1
        if seq != expected:
            report.add(Finding(f"missing from the log (the next entry is {seq})", seq=expected))
        if stored != computed.hex():
            report.add(
                Finding(
                    "the leaf hash does not match the entry's fields (a field was edited, or the entry's "
                    "content was moved here from another entry)",
                    seq=seq,
                )
            )
        if frontier is not None:
            frontier.append(computed)
            check_heads()
        expected = seq + 1
    report.tree_size = expected
    report.newest_checkpoint = matched
    if frontier is not None:
        report.root_hash = frontier.root().hex()


def _check_beyond(
    engine: Engine, trusted: dict[int, list[tuple[str, Checkpoint]]], report: VerifyReport
) -> None:
    """Checkpoints larger than the log: truncation, unless the log grew while it was being read."""
    beyond = sorted(size for size in trusted if size > report.tree_size)
    if not beyond:
        return
    with engine.connect() as conn:
        now = log_size(conn)
    for size in beyond:
        if size <= now:
            continue  # written after the scan's snapshot: checked by the next run
        for name, _cp in trusted[size]:
            report.add(
                Finding(
                    f"the checkpoint signed {size} entries, the log holds {report.tree_size}: these were "
                    "removed",
                    seq=report.tree_size,
                    checkpoint=name,
                    until=size - 1,
                )
            )


# --- retention -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PruneReport:
    base_before: int  # the prune base before this prune
    base: int  # entries below this are gone now
    deleted: int
    checkpoint: str | None  # the checkpoint file that is the new base (keep it: verify starts there)


def prune(
    engine: Engine,
    before: datetime,
    checkpoint_dir: Path | None = None,
    public_key: Ed25519PublicKey | None = None,
) -> PruneReport:
    """Delete the entries older than ``before`` as far as a checkpoint reaches: the prefix [0, s) where s is
    the largest trusted checkpoint's size such that every entry below s is older than ``before``. The
    prefix is verified against that checkpoint first (AuditTampered: nothing is deleted); then the new
    base is recorded in ``audit_prune`` and the prefix deleted, in one transaction (the triggers let a
    DELETE through only below the recorded base). The checkpoint files are kept: the one of size s is what
    verify starts from afterwards."""
    settings = AuditSettings()
    directory = Path(checkpoint_dir or settings.checkpoint_dir)
    key = public_key or load_public_key(settings.signing_key)
    if key is None:
        raise FileNotFoundError(
            f"no audit public key at {settings.signing_key}(.pub): cannot trust a checkpoint"
        )
    cutoff = utc(before).replace(tzinfo=None)
    with engine.connect() as conn:
        base, _ = prune_base(conn)
        first_due = conn.execute(select(func.min(AuditLog.seq)).where(AuditLog.time >= cutoff)).scalar()
        target = newest_trusted(directory, key, log_size(conn) if first_due is None else int(first_due))
        if target is None or target.tree_size <= base:
            return PruneReport(base, base, 0, None)
        start = start_from(conn, directory, key, base)
        frontier = extend(conn, start.start() if start else Frontier(), target.tree_size)
        if frontier.root() != target.root_hash:
            raise AuditTampered(
                f"entries {base}..{target.tree_size - 1} do not hash to checkpoint {target.file_name}: "
                "nothing pruned"
            )
    with write_transaction(engine) as conn:
        if prune_base(conn)[0] != base:
            raise RuntimeError("another prune ran at the same time; run it again")
        conn.execute(
            insert(AuditPrune).values(
                below_seq=target.tree_size,
                root_hash=target.root_hash.hex(),
                cutoff=cutoff,
                pruned_at=datetime.now(UTC).replace(tzinfo=None),
            )
        )
        deleted = conn.execute(delete(AuditLog).where(AuditLog.seq < target.tree_size)).rowcount
    return PruneReport(base, target.tree_size, deleted, target.file_name)
