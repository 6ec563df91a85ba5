"""Signed checkpoints of the audit log, kept outside the database (docs/audit.md).

A checkpoint is one JSON file per tree size, ``<checkpoint_dir>/<size, 12 digits>.json``:

    {"tree_size": 1000, "root_hash": "<hex>", "time": "2026-11-22T21:00:00.000000Z",
     "frontier": ["<hex>", …], "key_id": "<hex>", "signature": "<base64>"}

The Ed25519 signature covers :meth:`Checkpoint.message` (size, root, time, key id). The frontier is the
compact range of the first ``tree_size`` leaves (:class:`security.merkle.Frontier`); it is not signed itself
but must fold to the signed root, so it is as good as signed. It lets a later head be computed from this
checkpoint and the entries after it, which is also what keeps a pruned log verifiable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from security.merkle import Frontier

HEADER = "fiscal-oversight audit log v1"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class CheckpointError(ValueError):
    """A file that is not a well-formed checkpoint."""


def format_time(value: datetime) -> str:
    """UTC, microseconds, ``Z``: the one spelling of a time in checkpoints and in entries' encoding."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime(TIME_FORMAT)


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 16 bytes of SHA-256 of the raw public key, in hex: names the key a checkpoint needs."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    tree_size: int
    root_hash: bytes
    time: str  # format_time()
    frontier: tuple[bytes, ...]
    key_id: str
    signature: bytes = field(repr=False)

    @property
    def file_name(self) -> str:
        return f"{self.tree_size:012d}.json"

    def message(self) -> bytes:
        return (
            f"{HEADER}\ntree_size {self.tree_size}\nroot_hash {self.root_hash.hex()}\n"
            f"time {self.time}\nkey_id {self.key_id}\n"
        ).encode()

    def problem(self, public_key: Ed25519PublicKey | None) -> str | None:
        """Why this checkpoint cannot be trusted, or None: the signature and the frontier are checked."""
        if public_key is None:
            return "no public key to check its signature"
        if self.key_id != key_id(public_key):
            return f"signed by key {self.key_id}, not by the audit key {key_id(public_key)}"
        try:
            public_key.verify(self.signature, self.message())
        except InvalidSignature:
            return "the signature does not verify: the file was altered or forged"
        try:
            folded = Frontier(self.tree_size, self.frontier).root()
        except ValueError as exc:
            return f"malformed frontier: {exc}"
        if folded != self.root_hash:
            return "the frontier does not fold to the signed root"
        return None

    def start(self) -> Frontier:
        """The frontier to extend from (a copy)."""
        return Frontier(self.tree_size, self.frontier)

    def to_json(self) -> bytes:
        doc = {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "time": self.time,
            "frontier": [node.hex() for node in self.frontier],
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
        }
        return json.dumps(doc, indent=1).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> Checkpoint:
        try:
            doc = json.loads(data)
            size = doc["tree_size"]
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise CheckpointError("tree_size is not a count")
            return cls(
                tree_size=size,
                root_hash=bytes.fromhex(doc["root_hash"]),
                time=str(doc["time"]),
                frontier=tuple(bytes.fromhex(node) for node in doc["frontier"]),
                key_id=str(doc["key_id"]),
                signature=base64.b64decode(doc["signature"], validate=True),
            )
        except CheckpointError:
            raise
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise CheckpointError(f"not a checkpoint: {exc!r}") from None


def sign_checkpoint(key: Ed25519PrivateKey, frontier: Frontier, time: datetime | None = None) -> Checkpoint:
    unsigned = Checkpoint(
        tree_size=frontier.size,
        root_hash=frontier.root(),
        time=format_time(time or datetime.now(UTC)),
        frontier=tuple(frontier.nodes),
        key_id=key_id(key.public_key()),
        signature=b"",
    )
    return replace(unsigned, signature=key.sign(unsigned.message()))


def write_checkpoint(directory: Path, checkpoint: Checkpoint) -> bool:
    """Write atomically, never over an existing checkpoint of the same size (another process may have
    signed that size at the same moment: same size, same root). Whether this call wrote it."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / checkpoint.file_name
    tmp = directory / f".{checkpoint.file_name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    with open(tmp, "wb") as f:
        f.write(checkpoint.to_json())
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, final)
        written = True
    except FileExistsError:
        written = False
    finally:
        tmp.unlink()
    if written:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return written


def checkpoint_files(directory: Path) -> list[Path]:
    """The checkpoint files, smallest tree size first (by name; a file's content is checked on reading)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.json") if not p.name.startswith("."))


def read_checkpoints(directory: Path) -> Iterator[tuple[Path, Checkpoint | CheckpointError]]:
    for path in checkpoint_files(directory):
        try:
            yield path, Checkpoint.from_json(path.read_bytes())
        except CheckpointError as exc:
            yield path, exc
        except OSError as exc:
            yield path, CheckpointError(f"unreadable: {exc}")


def newest_trusted(directory: Path, public_key: Ed25519PublicKey, at_most: int) -> Checkpoint | None:
    """The largest checkpoint of at most ``at_most`` entries whose signature and frontier hold."""
    for path in reversed(checkpoint_files(directory)):
        stem = path.stem
        if not stem.isdigit() or int(stem) > at_most:
            continue
        try:
            cp = Checkpoint.from_json(path.read_bytes())
        except (CheckpointError, OSError):
            continue
        if cp.tree_size <= at_most and cp.problem(public_key) is None:
            return cp
    return None


def create_signing_key(path: Path) -> Ed25519PrivateKey:
    """A new Ed25519 key: the private key at ``path`` (PKCS 8 PEM, mode 0600) and the public key beside it
    at ``path.pub``, which is all that verifying needs. Never overwrites a key."""
    if path.exists():
        raise FileExistsError(f"{path} exists: a new key would orphan the checkpoints the old one signed")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public_path(path).write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key


def public_path(key_path: Path) -> Path:
    return key_path.with_name(key_path.name + ".pub")


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(key_path: Path) -> Ed25519PublicKey | None:
    """The public half of the signing key: ``<key>.pub``, else derived from the private key; None when
    neither file is there."""
    pub = public_path(key_path)
    if pub.exists():
        key = serialization.load_pem_public_key(pub.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"{pub} is not an Ed25519 public key")
        return key
    if key_path.exists():
        return load_signing_key(key_path).public_key()
    return None
