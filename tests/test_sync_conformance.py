"""One conformance suite for every source type (issue 7): full sync; an incremental sync takes only new or
changed rows; deletions propagate; replaying is a no-op; a sync killed half-way and rerun leaves the same
warehouse as an uninterrupted one. Each source type runs it into SQLite and PostgreSQL warehouses.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, text

from connectors.sync.runner import SyncReport, sync_source
from schema.db import make_engine
from schema.loading import LoadRun
from schema.sync import SyncState
from tests import sync_kit
from tests.sync_kit import T0, Harness, World, details, dump, vouchers

KINDS = ["sql-sqlite", "sql-postgresql", "sql-mariadb", "http", "files"]


@pytest.fixture(params=KINDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from sync_kit.harness_for(request.param, request, tmp_path)


@pytest.fixture
def world(harness: Harness) -> World:
    w = World(harness)
    w.seed()
    return w


def sync(engine: Engine, world: World, **kw: Any) -> SyncReport:
    report = sync_source(engine, world.harness.source(), monitor=False, **kw)
    assert report.ok, report.error
    return report


def counts(report: SyncReport, world: World, table: str) -> Any:
    name = world.harness.stream_of(table)
    found = [s for s in report.streams if s.stream == name]
    return found[0].counts if found else None


def test_full_sync_equals_a_load_of_the_same_records(engine: Engine, world: World, tmp_path: Path) -> None:
    report = sync(engine, world)
    assert dump(engine) == world.reference(tmp_path)
    assert counts(report, world, "pay_voucher").inserted == 300
    assert counts(report, world, "pay_detail").inserted == 100
    with engine.connect() as conn:
        states = conn.execute(select(SyncState).where(SyncState.source == "src")).all()
        run = conn.execute(select(LoadRun).order_by(LoadRun.id.desc())).first()
        facts = conn.execute(text("SELECT COUNT(*) FROM fact_cell")).scalar_one()
    assert states and all(s.status == "ok" and s.cursor for s in states if s.table_name in sync_kit.TABLES)
    assert run is not None and run.status == "done" and run.source == "src"
    assert facts > 0  # the summaries were brought up to date


def test_incremental_sync_takes_only_new_or_changed_rows(
    engine: Engine, world: World, tmp_path: Path
) -> None:
    sync(engine, world)
    later = T0 + timedelta(days=1)
    overlap = {t: world.overlap(t, later) for t in sync_kit.TABLES}  # rows in the look-back window
    world.put("pay_voucher", vouchers(range(0, 10), later, amount_bump=7) + vouchers(range(300, 305), later))
    world.put("pay_detail", details(range(100, 103), later))
    report = sync(engine, world)
    v, d = counts(report, world, "pay_voucher"), counts(report, world, "pay_detail")
    assert (v.read, v.inserted, v.updated, v.unchanged) == (
        15 + overlap["pay_voucher"],
        5,
        10,
        overlap["pay_voucher"],
    )
    assert (d.read, d.inserted, d.updated, d.unchanged) == (
        3 + overlap["pay_detail"],
        3,
        0,
        overlap["pay_detail"],
    )
    assert overlap["pay_voucher"] == (11 if world.harness.lookback else 0)
    for table in ("agency", "ba_bgt_info"):  # nothing changed there: only the look-back window is read
        c = counts(report, world, table)
        assert c is None or c.read == c.unchanged == overlap[table]
    assert dump(engine) == world.reference(tmp_path)


def test_deletions_propagate(engine: Engine, world: World, tmp_path: Path) -> None:
    sync(engine, world)
    gone = vouchers(range(20, 25), T0 + timedelta(days=2))
    for r in gone:
        r["is_deleted"] = "1"
    world.put("pay_voucher", gone)
    report = sync(engine, world)
    assert counts(report, world, "pay_voucher").deleted == 5
    with engine.connect() as conn:
        deleted = conn.execute(text("SELECT pay_cert_id FROM pay_voucher WHERE is_deleted = :t"), {"t": True})
        paid = conn.execute(text("SELECT COUNT(*) FROM payment_text")).scalar_one()
    assert sorted(r[0] for r in deleted) == [f"PAY{i:06d}" for i in range(20, 25)]
    assert paid == 295  # the keyword index (a derived table) no longer holds them
    assert dump(engine) == world.reference(tmp_path)


def test_replaying_is_a_no_op(engine: Engine, world: World, tmp_path: Path) -> None:
    sync(engine, world)
    before = dump(engine)
    again = sync(engine, world)
    assert again.changed == 0
    # forget every bookmark: the whole source is read again and merges as unchanged
    with engine.begin() as conn:
        conn.execute(delete(SyncState))
    if isinstance(world.harness, sync_kit.FilesHarness):
        for table, records in world.records.items():
            world.harness.publish(table, list(records.values()))
    replay = sync(engine, world)
    assert replay.changed == 0
    assert counts(replay, world, "pay_voucher").unchanged == 300
    assert dump(engine) == before == world.reference(tmp_path)


class Killed(BaseException):
    """Stands for the process dying between two chunks."""


def test_a_sync_killed_half_way_and_rerun_equals_an_uninterrupted_one(
    engine: Engine, world: World, tmp_path: Path
) -> None:
    def die(label: str, done: int, _total: int | None) -> None:
        if "pay_voucher" in label.lower() and done >= 100:
            raise Killed

    with pytest.raises(Killed):
        sync_source(engine, world.harness.source(), chunk_size=100, progress=die, monitor=False)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT COUNT(*) FROM pay_voucher")).scalar_one()
    assert 100 <= stored < 300  # whole chunks committed, the rest not
    sync(engine, world, chunk_size=100)
    assert dump(engine) == world.reference(tmp_path)


def _sync_and_die(url: str, config: dict[str, Any]) -> None:
    """In a child process: sync, and SIGKILL ourselves right after the second chunk of payments commits."""
    from connectors.sync.config import parse_config

    engine = make_engine(url)

    def die(label: str, done: int, _total: int | None) -> None:
        if "pay_voucher" in label.lower() and done >= 200:
            os.kill(os.getpid(), signal.SIGKILL)

    sync_source(
        engine, parse_config({"sources": {"src": config}})["src"], chunk_size=100, progress=die, monitor=False
    )


# a real SIGKILL for one database source, the API and the drop folder (the in-process kill above runs for all)
@pytest.fixture(params=["sql-sqlite", "http", "files"])
def killed_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    for harness in sync_kit.harness_for(request.param, request, tmp_path):
        w = World(harness)
        w.seed()
        yield w


def test_a_sync_sigkilled_half_way_and_rerun_equals_an_uninterrupted_one(
    engine: Engine, killed_world: World, tmp_path: Path
) -> None:
    world = killed_world
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    child = multiprocessing.get_context("spawn").Process(
        target=_sync_and_die, args=(url, world.harness.config())
    )
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT COUNT(*) FROM pay_voucher")).scalar_one()
        running = conn.execute(select(LoadRun.status).order_by(LoadRun.id.desc())).scalar()
    assert stored == 200 and running == "running"  # killed: no cleanup ran
    sync(engine, world)
    assert dump(engine) == world.reference(tmp_path)
    with engine.connect() as conn:
        statuses = [r[0] for r in conn.execute(select(LoadRun.status).order_by(LoadRun.id))]
        paid = conn.execute(text("SELECT COUNT(*) FROM payment_text")).scalar_one()
    assert "interrupted" in statuses and statuses[-1] == "done"  # the killed run is named as such
    assert paid == 300  # derived tables rebuilt after the interrupted run


@pytest.mark.parametrize("fault", ["garbage", "wrong_shape", "down"])
def test_an_api_that_answers_garbage_or_is_down_leaves_the_warehouse_as_it_was(
    engine: Engine, request: pytest.FixtureRequest, tmp_path: Path, fault: str
) -> None:
    from tests.auth import api_client

    for harness in sync_kit.harness_for("http", request, tmp_path):
        world = World(harness)
        world.seed()
        sync(engine, world)
        before = dump(engine)
        world.put("pay_voucher", vouchers(range(0, 5), T0 + timedelta(days=1), amount_bump=3))
        faults = harness.app.state.faults  # type: ignore[attr-defined]
        config = harness.config() | {"retries": 1}
        if fault == "down":
            config["base_url"] = "http://127.0.0.1:9/api"  # the discard port: nothing listens
        else:
            setattr(faults, fault, 1000)
        from connectors.sync.config import parse_config

        report = sync_source(engine, parse_config({"sources": {"src": config}})["src"], monitor=False)
        faults.reset()
        assert not report.ok and report.error
        assert dump(engine) == before
        body = api_client(engine).get("/v1/sources").json()
        status = next(s for s in body if s["source"] == "src")
        assert status["status"] == "failed" and status["last_error"]
        assert any(s["status"] == "failed" and s["last_error"] for s in status["streams"])
        sync(engine, world)  # the API is back: the changes arrive
        assert dump(engine) == world.reference(tmp_path)
