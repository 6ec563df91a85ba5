"""A load survives being split across processes, and being killed half-way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, inspect, select, text

import connectors.ingest.loader as loader
import connectors.ingest.postload as postload
from connectors.ingest.loader import load_batch
from connectors.ingest.parallel import split_ranges
from schema.models import LoadRun, PayVoucher
from tests.factories import agency, indicator, payment, warehouse_snapshot, write_table

FEED_TABLES = ("pay_voucher", "ba_bgt_info", "agency", "quarantine", "load_table_report")


def busy_batch(folder: Path, n: int) -> Path:
    """n payments, with later versions of some records further down the file (newer, tied and older)."""
    write_table(
        folder, "agency", [agency("001", "郑州市教育局"), agency("001001", "郑州市第一初级中学", dept="001")]
    )
    write_table(folder, "ba_bgt_info", [indicator("B1", "100000000.00")])
    rows = [
        payment(f"P{i:07d}", f"{i % 9973}.{i % 100:02d}", use_des=f"购置办公设备第{i}批") for i in range(n)
    ]
    for i in range(0, n, 97):  # a newer version near the end of the file
        rows.append(payment(f"P{i:07d}", "1.00", update_time="2025-04-01T00:00:00"))
    for i in range(5, n, 89):  # a tie: the later line must win
        rows.append(payment(f"P{i:07d}", "2.00"))
    for i in range(7, n, 83):  # an older version: ignored
        rows.append(payment(f"P{i:07d}", "3.00", update_time="2024-01-01T00:00:00"))
    rows.insert(n // 2, payment("BAD", "12.345"))
    write_table(folder, "pay_voucher", rows)
    return folder


def wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in FEED_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))


def test_split_ranges_cover_every_line_once(tmp_path: Path) -> None:
    folder = busy_batch(tmp_path / "b", 2000)
    path = folder / "pay_voucher.csv"
    ranges = split_ranges(path, "csv", 3)
    assert ranges is not None and len(ranges) == 3
    data = path.read_bytes()
    header_end = data.index(b"\n") + 1
    assert ranges[0].start == header_end and ranges[-1].end == len(data)
    for a, b in zip(ranges, ranges[1:], strict=False):
        assert a.end == b.start and data[b.start - 1 : b.start] == b"\n"
        assert b.first_line == data[: b.start].count(b"\n") + 1
    (tmp_path / "q").mkdir()
    quoted = write_table(
        tmp_path / "q", "pay_voucher", [payment("P1", "1.00", use_des='a "quoted", purpose')]
    )
    assert split_ranges(quoted, "csv", 2) is None


def test_a_load_split_across_processes_equals_a_serial_load(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = busy_batch(tmp_path / "b", 4000)
    serial = load_batch(engine, folder, chunk_size=500)
    expected = warehouse_snapshot(engine)
    wipe(engine)
    monkeypatch.setattr(loader, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(postload, "BULK_BYTES", 0)
    parallel = load_batch(engine, folder, chunk_size=500)
    assert warehouse_snapshot(engine) == expected

    def counts(report):  # type: ignore[no-untyped-def]
        c = next(r for r in report.tables if r.table == "pay_voucher").counts
        return c.read, c.inserted + c.updated, c.quarantined

    assert counts(parallel)[0] == counts(serial)[0] and counts(parallel)[2] == counts(serial)[2] == 1
    with engine.connect() as conn:  # deferred indexes are back
        names = {i["name"] for i in inspect(conn).get_indexes("pay_voucher")}
    assert {i.name for i in PayVoucher.__table__.indexes} <= names


def _db_env(engine: Engine) -> dict[str, str]:
    return {**os.environ, "OVERSIGHT_DATABASE_URL": engine.url.render_as_string(hide_password=False)}


@pytest.mark.slow
def test_a_killed_load_run_again_ends_with_the_same_warehouse(engine: Engine, tmp_path: Path) -> None:
    folder = busy_batch(tmp_path / "b", 60_000)  # large enough to be loaded by several processes
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "load", str(folder), "--chunk-size", "1000"],
        env=_db_env(engine),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and proc.poll() is None:
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(PayVoucher)).scalar_one()
        if stored >= 8000:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the load finished before it could be killed; make the batch larger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)  # the worker processes die with their parent
    with engine.connect() as conn:
        half = conn.execute(select(func.count()).select_from(PayVoucher)).scalar_one()
    assert 0 < half < 60_000

    again = subprocess.run(
        [sys.executable, "-m", "cli", "load", str(folder)],
        env=_db_env(engine),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    resumed = warehouse_snapshot(engine)
    with engine.connect() as conn:
        statuses = [s for (s,) in conn.execute(select(LoadRun.status).order_by(LoadRun.id))]
        names = {i["name"] for i in inspect(conn).get_indexes("pay_voucher")}
    assert statuses == ["interrupted", "done"]
    assert {i.name for i in PayVoucher.__table__.indexes} <= names

    wipe(engine)
    load_batch(engine, folder)
    assert resumed == warehouse_snapshot(engine)
