"""Edges of a sync found in review: a run that dies of an error, a load beside a sync, a change that keeps
its stamp, out-of-range values, a renamed column beside one bearing the field's name, a `where` with OR,
stamps kept as text at exactly the bookmark."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from connectors.ingest.loader import load_batch
from connectors.sync.config import parse_config
from connectors.sync.mapping import RecordMapping
from connectors.sync.runner import sync_source
from schema.feed import feed_tables
from tests import sync_kit
from tests.sync_kit import T0, World, vouchers, write_csv
from tests.test_sync_summaries import agencies, indicators, payment, rebuilt, snapshot


@pytest.fixture
def yth(tmp_path: Path) -> Iterator[sync_kit.SqlHarness]:
    h = sync_kit.sqlite_harness(tmp_path)
    yield h
    h.close()


def seeded(yth: sync_kit.SqlHarness, n: int = 80) -> tuple[World, random.Random]:
    rnd = random.Random(5)
    world = World(yth)
    world.put("agency", agencies())
    world.put("ba_bgt_info", indicators())
    world.put("pay_voucher", [payment(i, rnd, T0) for i in range(n)])
    return world, rnd


def test_a_sync_that_dies_of_an_error_leaves_no_summary_behind(
    engine: Engine, yth: sync_kit.SqlHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, rnd = seeded(yth)
    assert sync_source(engine, yth.source(), monitor=False).ok
    at = T0 + timedelta(days=1)
    world.put("pay_voucher", [payment(i, rnd, at) for i in range(10)])
    source = yth.source()
    original = type(source).pages

    def pages(self: Any, stream: Any, since: Any) -> Any:
        if stream.table == "pay_detail":
            raise RuntimeError("the warehouse's disk is full")
        return original(self, stream, since)

    monkeypatch.setattr(type(source), "pages", pages)
    with pytest.raises(RuntimeError):
        sync_source(engine, source, monitor=False)
    monkeypatch.undo()
    with engine.connect() as conn:
        state = conn.execute(
            text("SELECT status, last_error FROM sync_state WHERE stream = 'PAY_DETAIL'")
        ).one()
    assert state.status == "failed" and "RuntimeError" in state.last_error and "disk" not in state.last_error
    world.put("pay_voucher", [payment(1, rnd, at + timedelta(days=1))])
    report = sync_source(engine, yth.source(), monitor=False)
    assert report.ok
    assert any("fact cells" in p for p in report.post_load)  # the died run's changes: rebuilt whole
    assert snapshot(engine) == rebuilt(engine)


def test_a_load_beside_a_sync_does_not_count_its_payments_twice(
    engine: Engine, yth: sync_kit.SqlHarness, tmp_path: Path
) -> None:
    world, rnd = seeded(yth)
    assert sync_source(engine, yth.source(), monitor=False).ok
    world.put("pay_voucher", [payment(i, rnd, T0 + timedelta(days=1)) for i in range(80, 380)])
    batch = tmp_path / "by-hand"
    batch.mkdir()
    write_csv(
        batch / "mof_dep.csv", [{"mof_dep_code": "D9", "mof_dep_name": "预算处", "mof_div_code": "410100000"}]
    )
    loaded = []

    def load_in_between(label: str, done: int, _total: int | None) -> None:
        if "PAY_VOUCHER" in label and not loaded:
            loaded.append(load_batch(engine, batch, monitor=False))

    report = sync_source(engine, yth.source(), chunk_size=100, progress=load_in_between, monitor=False)
    assert report.ok and loaded
    assert snapshot(engine) == rebuilt(engine)


def test_a_change_that_keeps_its_stamp_is_taken_on_the_next_read(
    engine: Engine, yth: sync_kit.SqlHarness
) -> None:
    world = World(yth)
    world.seed()
    assert sync_source(engine, yth.source(), monitor=False).ok
    newest = sorted(world.records["pay_voucher"].values(), key=lambda r: r["update_time"] or "")[-1]
    same_stamp = newest | {"pay_amt": "1.23"}  # the source changed it within the same second
    world.put("pay_voucher", [same_stamp])
    report = sync_source(engine, yth.source(), monitor=False)
    voucher = next(s for s in report.streams if s.table == "pay_voucher")
    assert voucher.counts.updated == 1 and voucher.counts.stale == 0
    with engine.connect() as conn:
        fen = conn.execute(
            text("SELECT pay_amt_fen FROM pay_voucher WHERE pay_cert_id = :k"), {"k": newest["pay_cert_id"]}
        ).scalar_one()
    assert fen == 123


def test_an_amount_out_of_range_is_quarantined_not_a_crash(engine: Engine, yth: sync_kit.SqlHarness) -> None:
    from decimal import Decimal

    m = RecordMapping(feed_tables()["pay_detail"], transforms={"pay_amt": "fen_to_yuan"})
    bad = m.row({"PAY_DETAIL_ID": "D1", "PAY_AMT": Decimal("1E+30")})
    assert not isinstance(bad, list) and "pay_amt" in bad.reason
    world = World(yth)
    world.seed()
    with yth.engine.begin() as conn:
        conn.execute(text('UPDATE "PAY_DETAIL" SET "PAY_AMT" = 1e30 WHERE "PAY_DETAIL_ID" = \'DET000003\''))
    report = sync_source(engine, yth.source(), monitor=False)
    assert report.ok
    detail = next(s for s in report.streams if s.table == "pay_detail")
    assert detail.counts.quarantined == 1 and detail.counts.inserted == 99


def test_a_renamed_column_wins_over_one_bearing_the_fields_name() -> None:
    m = RecordMapping(feed_tables()["mof_div"], rename={"ELE_CODE": "mof_div_code"})
    row = m.row({"MOF_DIV_CODE": "410000000", "ELE_CODE": "410100000", "ELE_NAME": "郑州市", "LEVEL_NO": 2})
    assert isinstance(row, list) and row[m.header.index("mof_div_code")] == "410100000"
    assert "mof_div_code" in m.plan(("MOF_DIV_CODE", "ELE_CODE", "ELE_NAME", "LEVEL_NO"))[1]


def test_a_where_with_or_keeps_to_the_bookmark(engine: Engine, yth: sync_kit.SqlHarness) -> None:
    world = World(yth)
    world.seed()
    config = yth.config() | {
        "streams": [
            {
                "name": "PAY_VOUCHER_BILL",
                "where": "PAY_CERT_ID LIKE 'PAY0000%' OR PAY_CERT_ID LIKE 'PAY0001%'",
            }
        ]
    }
    source = parse_config({"sources": {"src": config}})["src"]
    assert sync_source(engine, source, monitor=False).ok
    world.put("pay_voucher", vouchers(range(5), T0 + timedelta(days=1), amount_bump=1))
    again = sync_source(engine, parse_config({"sources": {"src": config}})["src"], monitor=False)
    voucher = next(s for s in again.streams if s.table == "pay_voucher")
    assert voucher.counts.updated == 5 and voucher.counts.read == 5 + world.overlap(
        "pay_voucher", T0 + timedelta(days=1)
    )


def test_stamps_kept_as_text_exactly_at_the_bookmark_are_read(engine: Engine, tmp_path: Path) -> None:
    src = create_engine(f"sqlite:///{tmp_path / 'src.db'}")
    with src.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE AGENCY (AGENCY_CODE TEXT PRIMARY KEY, AGENCY_NAME TEXT, "
                "MOF_DIV_CODE TEXT, UPDATE_TIME DATETIME)"
            )
        )
        conn.execute(text("INSERT INTO AGENCY VALUES ('001','甲','410100000','2025-03-01 09:00:00')"))
    stream = {"name": "AGENCY", "table": "agency", "cursor": "UPDATE_TIME"}
    config = {
        "sources": {"s": {"type": "sql", "url": f"sqlite:///{tmp_path / 'src.db'}", "streams": [stream]}}
    }
    assert sync_source(engine, parse_config(config)["s"], monitor=False).ok
    with src.begin() as conn:  # committed late, with the same stamp as the bookmark
        conn.execute(text("INSERT INTO AGENCY VALUES ('002','乙','410100000','2025-03-01 09:00:00')"))
    report = sync_source(engine, parse_config(config)["s"], monitor=False)
    assert report.streams[0].counts.inserted == 1
    src.dispose()
