"""One sync of a source at a time, across processes and machines.

PostgreSQL: a session advisory lock keyed by the source's name, held on a connection of its own for the
length of the sync (released by the server if the process dies). SQLite: an exclusive ``flock`` on a file
beside the database (released by the kernel if the process dies).
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from connectors.sync.core import SyncBusy


def _key(name: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(f"oversight-sync:{name}".encode(), digest_size=8).digest(), "big", signed=True
    )


@contextmanager
def source_lock(engine: Engine, name: str) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(name)}).scalar_one()
            conn.commit()
            if not got:
                raise SyncBusy(f"source {name!r} is being synced by another process")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(name)})
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    path = Path(f"{database}.sync-{hashlib.sha1(name.encode()).hexdigest()[:12]}.lock")
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncBusy(f"source {name!r} is being synced by another process") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
