"""The audit log on both engines: what is written verifies, the database refuses changes, and every kind of
tampering by someone who gets past the database's guards is found by verify and named."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import fresh_engine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.errors import BadParameter
from schema.audit import AuditLog
from schema.db import make_engine
from security.audit import (
    REDACTED,
    WRITER_ROLE,
    AuditEntry,
    AuditFilters,
    AuditSettings,
    AuditTampered,
    AuditWriteError,
    AuditWriter,
    encode_parameters,
    ensure_writer_role,
    list_entries,
    prune,
    verify,
)
from security.checkpoints import create_signing_key, sign_checkpoint
from security.merkle import Frontier, leaf_hash, tree_head

EVERY = 4  # a checkpoint every 4 entries: 12 entries are signed at 4, 8 and 12
DAY0 = datetime(2026, 1, 1, 8, 30, tzinfo=UTC)
FIELDS = [c for c in AuditEntry.__dataclass_fields__ if c != "seq"]


def entries(n: int, start: int = 0) -> list[AuditEntry]:
    subs = ["alice", "bob", None]
    return [
        AuditEntry(
            operation="GET /v1/payments" if i % 3 else "query Portal",
            status=[200, 403, 429, 500][i % 4],
            time=DAY0 + timedelta(days=i, microseconds=i),
            sub=subs[i % 3],
            body="audit" if i % 2 else "congress",
            org="河南省审计厅",
            region="410000000" if i % 2 else None,
            parameters=encode_parameters({"q": f"折叠床{i}", "limit": i, "access_token": "eyJ…"}),
            result_count=i,
            latency_ms=3 * i,
            request_id=f"req-{i}",
            client="127.0.0.1",
            pii_revealed=i == 5,
            reveal_reason="线索核查" if i == 5 else None,
        )
        for i in range(start, start + n)
    ]


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def cp_dir(tmp_path: Path) -> Path:
    return tmp_path / "checkpoints"


@pytest.fixture
def writer(engine: Engine, cp_dir: Path, key: Ed25519PrivateKey) -> AuditWriter:
    settings = AuditSettings(checkpoint_dir=cp_dir, checkpoint_every=EVERY)
    return AuditWriter(engine, settings=settings, signing_key=key)


@pytest.fixture
def logged(writer: AuditWriter) -> AuditWriter:
    """Twelve entries, all under signed checkpoints."""
    for entry in entries(12):
        writer.record(entry)
    return writer


def check(engine: Engine, cp_dir: Path, key: Ed25519PrivateKey):  # type: ignore[no-untyped-def]
    return verify(engine, cp_dir, key.public_key())


@contextmanager
def guards_off(engine: Engine) -> Iterator[Connection]:
    """An attacker with the tables' owner's rights: the append-only triggers are out of the way for one
    transaction (and back in place after it)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
            yield conn
            conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER USER")
        else:
            triggers = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
            ).all()
            for name, _ in triggers:
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
            yield conn
            for _, sql in triggers:
                conn.exec_driver_sql(sql)


def stored(engine: Engine, seq: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(AuditLog.__table__).where(AuditLog.seq == seq)).one()._mapping)


def rehash(row: dict[str, Any]) -> str:
    return AuditEntry(**{k: row[k] for k in [*FIELDS, "seq"]}).leaf_hash().hex()


# --- writing and the database's guards -------------------------------------------------------------------


def test_entries_written_are_numbered_from_zero_and_verify(
    engine: Engine, logged: AuditWriter, cp_dir: Path, key: Ed25519PrivateKey
) -> None:
    with engine.connect() as conn:
        rows = conn.execute(select(AuditLog.__table__).order_by(AuditLog.seq)).all()
    assert [r.seq for r in rows] == list(range(12))
    expected = [replace(e, seq=i).leaf_hash() for i, e in enumerate(entries(12))]
    assert [bytes.fromhex(r.leaf_hash) for r in rows] == expected
    assert rows[5].pii_revealed and rows[5].reveal_reason == "线索核查"
    assert json.loads(rows[3].parameters) == {"q": "折叠床3", "limit": 3, "access_token": REDACTED}
    assert sorted(p.name for p in cp_dir.iterdir()) == [
        "000000000004.json",
        "000000000008.json",
        "000000000012.json",
    ]

    report = check(engine, cp_dir, key)
    assert report.ok, report.findings
    assert (report.entries, report.tree_size, report.checkpoints, report.newest_checkpoint) == (12, 12, 3, 12)
    assert report.root_hash == tree_head(expected).hex()
    assert "intact" in report.summary()


def test_the_canonical_encoding_is_sorted_compact_json_of_every_field() -> None:
    entry = AuditEntry(
        operation="GET /v1/payees/{payee_id}",
        status=200,
        time=datetime(2026, 11, 22, 9, 0, 1, 5),
        sub="u1",
        parameters=encode_parameters({"payee_id": "p1", "Authorization": "Bearer x"}),
        seq=7,
    )
    assert entry.canonical() == (
        b'{"body":null,"client":null,"latency_ms":null,"operation":"GET /v1/payees/{payee_id}",'
        b'"org":null,"parameters":"{\\"Authorization\\":\\"[redacted]\\",\\"payee_id\\":\\"p1\\"}",'
        b'"pii_revealed":false,"region":null,"request_id":null,"result_count":null,"reveal_reason":null,'
        b'"seq":7,"status":200,"sub":"u1","time":"2026-11-22T09:00:01.000005Z"}'
    )
    assert entry.leaf_hash() == leaf_hash(entry.canonical())


def test_secrets_are_redacted_whatever_the_caller_passed(
    engine: Engine, writer: AuditWriter, cp_dir: Path
) -> None:
    raw = json.dumps({"token": "t", "variables": {"password": "p", "apiKey": "k", "keyword": "床"}, "q": [1]})
    seq = writer.record(AuditEntry(operation="POST /graphql", status=200, parameters=raw))
    assert json.loads(stored(engine, seq)["parameters"]) == {
        "token": REDACTED,
        "variables": {"password": REDACTED, "apiKey": REDACTED, "keyword": "床"},
        "q": [1],
    }


def test_the_database_refuses_updates_deletes_and_out_of_sequence_inserts(
    engine: Engine, logged: AuditWriter
) -> None:
    refused = [
        update(AuditLog).where(AuditLog.seq == 3).values(status=200),
        update(AuditLog).values(sub="nobody"),
        delete(AuditLog).where(AuditLog.seq == 11),
        delete(AuditLog),
        insert(AuditLog).values({**stored(engine, 11), "seq": 13}),  # a gap
        insert(AuditLog).values({**stored(engine, 11), "seq": 5}),  # a number taken
    ]
    statements: list[Any] = [*refused]
    if engine.dialect.name == "postgresql":
        statements.append(text("TRUNCATE audit_log"))
        statements.append(text("TRUNCATE audit_prune"))
    else:
        statements.append(text("INSERT OR REPLACE INTO audit_log SELECT * FROM audit_log WHERE seq = 2"))
    for statement in statements:
        with pytest.raises(IntegrityError, match="append-only|in sequence"), engine.begin() as conn:
            conn.execute(statement)
    with engine.connect() as conn:
        assert conn.execute(select(AuditLog.seq).order_by(AuditLog.seq)).scalars().all() == list(range(12))


def test_a_writer_that_cannot_write_raises(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    unmigrated = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    writer = AuditWriter(unmigrated, settings=AuditSettings(checkpoint_dir=tmp_path), signing_key=key)
    with pytest.raises(AuditWriteError):
        writer.record(AuditEntry(operation="GET /v1/summary", status=200))
    with pytest.raises(AuditWriteError):
        writer.record(AuditEntry(operation="GET /v1/summary", status=200, parameters="not json"))
    unmigrated.dispose()


def test_close_signs_the_tail(
    engine: Engine, writer: AuditWriter, cp_dir: Path, key: Ed25519PrivateKey
) -> None:
    for entry in entries(6):
        writer.record(entry)
    assert check(engine, cp_dir, key).newest_checkpoint == 4
    writer.close()
    report = check(engine, cp_dir, key)
    assert report.ok and report.newest_checkpoint == 6 and report.checkpoints == 2
    assert writer.checkpoint() is not None  # the same size again: the existing checkpoint
    assert len(list(cp_dir.iterdir())) == 2


# --- tampering -------------------------------------------------------------------------------------------

text_values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
EDITS: dict[str, st.SearchStrategy[Any]] = {
    "time": st.datetimes(datetime(2000, 1, 1), datetime(2099, 1, 1)),
    "sub": text_values | st.none(),
    "body": st.sampled_from(["congress", "audit", "discipline", "finance", "admin"]) | st.none(),
    "org": text_values | st.none(),
    "region": st.text("0123456789", max_size=9) | st.none(),
    "operation": text_values,
    "parameters": st.dictionaries(text_values, st.integers()).map(json.dumps),
    "result_count": st.integers(0, 2**31 - 1) | st.none(),
    "status": st.integers(100, 599),
    "latency_ms": st.integers(0, 2**31 - 1) | st.none(),
    "request_id": text_values | st.none(),
    "client": text_values | st.none(),
    "pii_revealed": st.booleans(),
    "reveal_reason": text_values | st.none(),
}
assert set(EDITS) == set(FIELDS)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_edit_of_any_field_is_found_and_named(
    engine: Engine, logged: AuditWriter, cp_dir: Path, key: Ed25519PrivateKey, data: st.DataObject
) -> None:
    seq = data.draw(st.integers(0, 11), label="seq")
    name = data.draw(st.sampled_from(FIELDS), label="field")
    value = data.draw(EDITS[name], label="value")
    original = stored(engine, seq)
    assume(value != original[name])
    rehashed = data.draw(st.booleans(), label="leaf hash recomputed")
    edited = {**original, name: value}
    changes = {name: value, "leaf_hash": rehash(edited)} if rehashed else {name: value}
    with guards_off(engine) as conn:
        conn.execute(update(AuditLog).where(AuditLog.seq == seq).values(changes))
    try:
        report = check(engine, cp_dir, key)
        first = report.first_bad_entry
        assert not report.ok and first is not None
        if rehashed:  # the leaf is consistent: the checkpoint over it no longer is
            assert first.until is not None and first.seq is not None and first.seq <= seq <= first.until
            assert first.checkpoint == f"{(seq // EVERY + 1) * EVERY:012d}.json"
        else:
            assert first.seq == seq and "leaf hash" in first.problem
    finally:
        with guards_off(engine) as conn:
            conn.execute(update(AuditLog).where(AuditLog.seq == seq).values(original))
    assert check(engine, cp_dir, key).ok


def test_an_edited_leaf_hash_alone_is_named(
    engine: Engine, logged: AuditWriter, cp_dir: Path, key: Ed25519PrivateKey
) -> None:
    with guards_off(engine) as conn:
        conn.execute(update(AuditLog).where(AuditLog.seq == 6).values(leaf_hash="00" * 32))
    report = check(engine, cp_dir, key)
    assert report.first_bad_entry is not None and report.first_bad_entry.seq == 6
    assert [f.seq for f in report.findings] == [6]  # the tree is built from the fields: checkpoints hold


@pytest.mark.parametrize(("gone", "said"), [(0, "missing"), (5, "missing"), (11, "removed")])
def test_a_deleted_entry_is_named(
    engine: Engine, logged: AuditWriter, cp_dir: Path, key: Ed25519PrivateKey, gone: int, said: str
) -> None:
    with guards_off(engine) as conn:
        conn.execute(delete(AuditLog).where(AuditLog.seq == gone))
    report = check(engine, cp_dir, key)
    assert report.first_bad_entry is not None
    assert report.first_bad_entry.seq == gone and said in report.first_bad_entry.problem


def test_a_deletion_covered_up_by_renumbering_is_found(
    engine: Engine, logged: AuditWriter, cp_dir: Path, key: Ed25519PrivateKey
) -> None:
    later = [stored(engine, s) for s in range(6, 12)]
    with guards_off(engine) as conn:
        conn.execute(delete(AuditLog).where(AuditLog.seq >= 5))
        for row in later:
            moved = {**row, "seq": row["seq"] - 1}
            conn.execute(insert(AuditLog).values({**moved, "leaf_hash": rehash(moved)}))
    report = check(engine, cp_dir, key)
    first = report.first_bad_entry
    assert (
        first is not None and first.seq == 4 and first.until == 7 and first.checkpoint == "000000000008.json"
    )
    assert any(f.checkpoint == "000000000012.json" and "removed" in f.problem for f in report.findings)


@pytest.mark.parametrize("rehashed", [False, True])
@pytest.mark.parametrize(("a", "b"), [(0, 1), (2, 9), (6, 7)])
def test_swapped_entries_are_found(
    engine: Engine,
    logged: AuditWriter,
    cp_dir: Path,
    key: Ed25519PrivateKey,
    a: int,
    b: int,
    rehashed: bool,
) -> None:
    row_a, row_b = stored(engine, a), stored(engine, b)
    new_a, new_b = {**row_b, "seq": a}, {**row_a, "seq": b}
    if rehashed:
        new_a["leaf_hash"], new_b["leaf_hash"] = rehash(new_a), rehash(new_b)
    with guards_off(engine) as conn:
        conn.execute(update(AuditLog).where(AuditLog.seq == a).values(new_a))
        conn.execute(update(AuditLog).where(AuditLog.seq == b).values(new_b))
    first = check(engine, cp_dir, key).first_bad_entry
    assert first is not None
    if rehashed:
        assert first.seq is not None and first.until is not None and first.seq <= a <= first.until
    else:
        assert first.seq == a and "leaf hash" in first.problem


@pytest.mark.parametrize("k", [1, 3, 4, 5])
def test_a_truncated_tail_under_a_checkpoint_is_found(
    engine: Engine, logged: AuditWriter, cp_dir: Path, key: Ed25519PrivateKey, k: int
) -> None:
    with guards_off(engine) as conn:
        conn.execute(delete(AuditLog).where(AuditLog.seq >= 12 - k))
    report = check(engine, cp_dir, key)
    first = report.first_bad_entry
    assert first is not None and first.seq == 12 - k and "removed" in first.problem
    last = [f for f in report.findings if f.checkpoint == "000000000012.json"]
    assert [(f.seq, f.until) for f in last] == [(12 - k, 11)]
    assert report.tree_size == 12 - k


def _rewrite(path: Path, **changes: Any) -> None:
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, **changes}))


def test_a_checkpoint_edited_without_the_key_is_found(
    engine: Engine, logged: AuditWriter, cp_dir: Path, key: Ed25519PrivateKey
) -> None:
    _rewrite(cp_dir / "000000000008.json", root_hash="ab" * 32)
    report = check(engine, cp_dir, key)
    bad = report.first_bad_checkpoint
    assert bad is not None and bad.checkpoint == "000000000008.json" and "signature" in bad.problem


def test_a_wrong_signature_is_found(
    engine: Engine, logged: AuditWriter, cp_dir: Path, key: Ed25519PrivateKey
) -> None:
    import base64

    _rewrite(cp_dir / "000000000004.json", signature=base64.b64encode(bytes(64)).decode())
    bad = check(engine, cp_dir, key).first_bad_checkpoint
    assert bad is not None and bad.checkpoint == "000000000004.json" and "signature" in bad.problem


def test_a_checkpoint_forged_with_another_key_is_found(
    engine: Engine, logged: AuditWriter, cp_dir: Path, key: Ed25519PrivateKey
) -> None:
    forged = sign_checkpoint(Ed25519PrivateKey.generate(), Frontier(16, [leaf_hash(b"forged")]))
    (cp_dir / forged.file_name).write_bytes(forged.to_json())
    (cp_dir / "000000000099.json").write_text("{not json")
    report = check(engine, cp_dir, key)
    problems = {f.checkpoint: f.problem for f in report.findings}
    assert set(problems) == {"000000000016.json", "000000000099.json"}
    assert "not by the audit key" in problems["000000000016.json"]
    assert "not a checkpoint" in problems["000000000099.json"]


def test_a_validly_signed_checkpoint_of_another_log_is_found(
    engine: Engine, logged: AuditWriter, cp_dir: Path, key: Ed25519PrivateKey
) -> None:
    """A fork: the real key signed a head this log does not have (a stolen key, or a rewritten history)."""
    fork = Frontier()
    fork.extend(leaf_hash(bytes([i])) for i in range(8))
    (cp_dir / "000000000008.json").write_bytes(sign_checkpoint(key, fork).to_json())
    first = check(engine, cp_dir, key).first_bad_entry
    assert first is not None and (first.seq, first.until, first.checkpoint) == (4, 7, "000000000008.json")


def test_the_writer_will_not_sign_over_a_tampered_entry(
    engine: Engine, logged: AuditWriter, cp_dir: Path
) -> None:
    logged.record(entries(1, start=12)[0])
    with guards_off(engine) as conn:
        conn.execute(update(AuditLog).where(AuditLog.seq == 12).values(status=200, sub="someone else"))
    with pytest.raises(AuditTampered, match="entry 12"):
        logged.checkpoint()
    assert not (cp_dir / "000000000013.json").exists()


# --- concurrency -----------------------------------------------------------------------------------------


def test_concurrent_threads_get_a_gap_free_sequence(
    engine: Engine, writer: AuditWriter, cp_dir: Path, key: Ed25519PrivateKey
) -> None:
    threads, each = 4, 12
    barrier = threading.Barrier(threads)
    taken: list[int] = []

    def work(t: int) -> None:
        barrier.wait()
        for entry in entries(each, start=t * each):
            taken.append(writer.record(entry))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(taken) == list(range(threads * each))
    report = check(engine, cp_dir, key)
    assert report.ok, report.findings
    assert report.checkpoints == threads * each // EVERY


CHILD = """
import sys, time
from pathlib import Path
from security.audit import AuditEntry, AuditSettings, AuditWriter
url, key, cp_dir, me, n, go = sys.argv[1:]
writer = AuditWriter(settings=AuditSettings(database_url=url, signing_key=key, checkpoint_dir=cp_dir,
                                            checkpoint_every=4))
Path(go + me).touch()
deadline = time.monotonic() + 60
while not Path(go).exists() and time.monotonic() < deadline:
    time.sleep(0.01)
for i in range(int(n)):
    writer.record(AuditEntry(operation="GET /v1/summary", status=200, sub=f"process-{me}", result_count=i))
writer.close()
"""


def test_concurrent_processes_get_a_gap_free_sequence(
    engine: Engine, cp_dir: Path, tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    key_path = tmp_path / "keys" / "audit.pem"
    create_signing_key(key_path)
    url = engine.url.render_as_string(hide_password=False)
    go = str(tmp_path / "go")
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, url, str(key_path), str(cp_dir), me, "25", go])
        for me in ("a", "b")
    ]
    deadline = time.monotonic() + 120
    while not all(Path(go + me).exists() for me in ("a", "b")) and time.monotonic() < deadline:
        if any(c.poll() not in (None, 0) for c in children):
            break
        time.sleep(0.05)
    Path(go).touch()
    assert [c.wait(timeout=120) for c in children] == [0, 0]
    with engine.connect() as conn:
        seqs = conn.execute(select(AuditLog.seq).order_by(AuditLog.seq)).scalars().all()
    assert seqs == list(range(50))
    from security.checkpoints import load_public_key

    report = verify(engine, cp_dir, load_public_key(key_path))
    assert report.ok, report.findings
    assert report.newest_checkpoint == 50


# --- the writer's role (PostgreSQL) ----------------------------------------------------------------------


@pytest.fixture
def pg_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from fresh_engine(request, "postgresql", tmp_path)


def test_the_writer_role_may_insert_and_read_the_log_and_nothing_else(
    pg_engine: Engine, cp_dir: Path, key: Ed25519PrivateKey
) -> None:
    engine = pg_engine
    ensure_writer_role(engine)
    assert ensure_writer_role(engine) is False  # it exists now
    as_writer = make_engine(
        engine.url.render_as_string(hide_password=False), connect_args={"options": f"-c role={WRITER_ROLE}"}
    )
    try:
        writer = AuditWriter(
            as_writer, settings=AuditSettings(checkpoint_dir=cp_dir, checkpoint_every=EVERY), signing_key=key
        )
        for entry in entries(5):
            writer.record(entry)
        assert (cp_dir / "000000000004.json").exists()  # the writer can read back what it signs
        refused = [
            "UPDATE audit_log SET status = 200",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "INSERT INTO audit_prune VALUES (4, 'x', now(), now())",
            "SELECT count(*) FROM mof_div",
            "SELECT count(*) FROM pay_voucher",
        ]
        for sql in refused:
            with pytest.raises(DBAPIError, match="permission denied"), as_writer.begin() as conn:
                conn.exec_driver_sql(sql)
    finally:
        as_writer.dispose()
    assert check(engine, cp_dir, key).ok


# --- retention -------------------------------------------------------------------------------------------


def test_prune_removes_a_checkpointed_prefix_and_verify_starts_from_its_checkpoint(
    engine: Engine, logged: AuditWriter, cp_dir: Path, key: Ed25519PrivateKey
) -> None:
    public = key.public_key()
    assert prune(engine, DAY0, cp_dir, public).deleted == 0  # nothing that old
    report = prune(engine, DAY0 + timedelta(days=6), cp_dir, public)  # entries 0..5 are due; 4 is signed
    assert (report.base_before, report.base, report.deleted) == (0, 4, 4)
    assert report.checkpoint == "000000000004.json"
    after = check(engine, cp_dir, key)
    assert after.ok, after.findings
    assert (after.base, after.entries, after.tree_size, after.checkpoints) == (4, 8, 12, 2)

    with pytest.raises(IntegrityError, match="append-only"), engine.begin() as conn:
        conn.execute(delete(AuditLog).where(AuditLog.seq == 4))  # still refused above the base

    assert prune(engine, DAY0 + timedelta(days=365), cp_dir, public).base == 12  # everything signed
    assert logged.record(entries(1, start=12)[0]) == 12  # numbering goes on from the base
    after = check(engine, cp_dir, key)
    assert after.ok and (after.base, after.entries, after.tree_size) == (12, 1, 13)

    (cp_dir / "000000000012.json").unlink()  # the base's checkpoint is what ties the rest to a signed head
    first = check(engine, cp_dir, key).first_bad_entry
    assert first is not None and first.seq == 12 and "pruned" in first.problem


def test_prune_refuses_a_tampered_prefix(
    engine: Engine, logged: AuditWriter, cp_dir: Path, key: Ed25519PrivateKey
) -> None:
    with guards_off(engine) as conn:
        conn.execute(update(AuditLog).where(AuditLog.seq == 2).values(status=200))
    with pytest.raises(AuditTampered, match="entry 2"):
        prune(engine, DAY0 + timedelta(days=30), cp_dir, key.public_key())
    with engine.connect() as conn:
        assert len(conn.execute(select(AuditLog.seq)).all()) == 12


# --- listing ---------------------------------------------------------------------------------------------


def test_list_entries_newest_first_filtered_and_paged(engine: Engine, logged: AuditWriter) -> None:
    with Session(engine) as session:
        page = list_entries(session, limit=5)
        seen = [r.seq for r in page.rows]
        while page.next_cursor:
            page = list_entries(session, cursor=page.next_cursor, limit=5)
            seen += [r.seq for r in page.rows]
        assert seen == list(range(11, -1, -1))

        alice = list_entries(session, filters=AuditFilters(sub="alice", status=200))
        assert [r.seq for r in alice.rows] == [0]
        since = list_entries(session, filters=AuditFilters(since=DAY0 + timedelta(days=9), body="audit"))
        assert [r.seq for r in since.rows] == [11, 9]
        window = list_entries(
            session, filters=AuditFilters(since=DAY0 + timedelta(days=2), until=DAY0 + timedelta(days=4))
        )
        assert [r.seq for r in window.rows] == [3, 2]
        row = list_entries(session, filters=AuditFilters(operation="query Portal", region="410000000")).rows[
            0
        ]
        assert (row.seq, row.parameters["access_token"], row.time.tzinfo) == (9, REDACTED, UTC)

        with pytest.raises(BadParameter):
            list_entries(session, cursor="not-a-cursor")


# --- the command -----------------------------------------------------------------------------------------


def test_the_audit_commands(engine: Engine, tmp_path: Path) -> None:
    from cli.main import app

    env = {
        "OVERSIGHT_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "OVERSIGHT_AUDIT_SIGNING_KEY": str(tmp_path / "keys" / "audit.pem"),
        "OVERSIGHT_AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "OVERSIGHT_AUDIT_CHECKPOINT_EVERY": "4",
    }
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["audit", *args], env=env)
        assert result.exit_code == code, result.output
        return result.output

    assert "signing key written" in run("init")
    assert "exists" in run("init")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        writer = AuditWriter(engine)
        for entry in entries(6):
            writer.record(entry)
    assert "not yet under a signed checkpoint" in run("verify")
    assert "000000000006.json" in run("checkpoint")
    assert "intact" in run("verify")
    assert "pruned 4 entries" in run("prune", "--before", "2026-01-06")
    assert "nothing to prune" in run("prune")  # three years back

    with guards_off(engine) as conn:
        conn.execute(update(AuditLog).where(AuditLog.seq == 5).values(client="10.0.0.1"))
    assert "entry 5: the leaf hash does not match" in run("verify", code=1)
