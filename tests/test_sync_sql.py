"""The ``sql`` source and the framework around it: the 一体化 preset end to end, mappings, configuration, a
source that is down, slow or holds garbage, read-only connections, one sync of a source at a time, the CLI,
and ``/v1/sources``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from cli.main import app
from connectors.ingest.loader import load_batch
from connectors.sources.sql import SqlSource
from connectors.sync.config import ConfigError, parse_config
from connectors.sync.core import SyncBusy
from connectors.sync.lock import source_lock
from connectors.sync.mapping import RecordMapping
from connectors.sync.runner import sync_source
from demo import source_system
from schema.db import make_engine
from schema.feed import feed_tables
from schema.loading import Quarantine
from schema.migrate import upgrade
from schema.sync import SyncState
from tests import sync_kit
from tests.auth import api_client
from tests.sync_kit import T0, World, dump, vouchers


def sql_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"sources": {"yth": {"type": "sql", "url": url, "preset": "yth", **extra}}}


@pytest.fixture
def yth(tmp_path: Path) -> Iterator[sync_kit.SqlHarness]:
    h = sync_kit.sqlite_harness(tmp_path)
    yield h
    h.close()


# -- the preset, end to end ----------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)  # 25 s; the conformance suite runs both
def test_the_demo_province_through_the_yth_preset_equals_a_load_of_it(
    engine: Engine, demo_batch: Path, tmp_path: Path
) -> None:
    """Every table the 一体化 system holds, written with its names, codes and units and read back through
    the preset, lands exactly as `oversight load` of the same files (keys, content hashes, deletions)."""
    src = create_engine(f"sqlite:///{tmp_path / 'yth.db'}")
    source_system.create_schema(src)
    written = source_system.from_batch(src, demo_batch)
    src.dispose()
    report = sync_source(
        engine, parse_config(sql_config(f"sqlite:///{tmp_path / 'yth.db'}"))["yth"], monitor=False
    )
    assert report.ok, report.error
    assert sum(s.counts.quarantined for s in report.streams) == 0
    reference = tmp_path / "reference"
    reference.mkdir()
    for table in written:
        (reference / f"{table}.csv").symlink_to(demo_batch / f"{table}.csv")
    ref = make_engine(f"sqlite:///{tmp_path / 'ref.db'}")
    upgrade(ref)
    load_batch(ref, reference, monitor=False)
    tables = list(written)
    assert _dump_all(engine, tables) == _dump_all(ref, tables)
    ref.dispose()


def _dump_all(engine: Engine, tables: list[str]) -> dict[str, set[tuple[Any, ...]]]:
    out = {}
    with engine.connect() as conn:
        for t in tables:
            ft = feed_tables()[t]
            out[t] = {
                (*r[:-1], bool(r[-1]))
                for r in conn.execute(text(f"SELECT {', '.join(ft.key)}, src_hash, is_deleted FROM {t}"))
            }
    return out


# -- mappings ------------------------------------------------------------------------------------------------


def test_a_mapping_renames_maps_codes_and_transforms_exactly() -> None:
    from decimal import Decimal

    m = RecordMapping(
        feed_tables()["pay_voucher"],
        rename={"SET_YEAR": "fiscal_year", "AMT_FEN": "pay_amt"},
        codes={"set_mode_code": {"01": "1", "03": "3"}, "is_deleted": {"1": "1", "2": "0"}},
        transforms={"pay_amt": "fen_to_yuan", "agency_code": ["strip", "zfill:6"], "pro_code": "default:P0"},
        constant={"mof_div_code": "410100000"},
    )
    row = m.row(
        {
            "PAY_CERT_ID": "A1",
            "SET_YEAR": 2025,
            "AMT_FEN": 1234567,
            "SET_MODE_CODE": "03",
            "IS_DELETED": 2,
            "AGENCY_CODE": " 1001",
            "VOU_DATE": datetime(2025, 3, 1, 0, 0),
            "USE_DES": "办公",
            "EXTRA_COL": "x",
        }
    )
    assert not isinstance(row, Exception) and isinstance(row, list)
    got = dict(zip(m.header, row, strict=True))
    assert got["fiscal_year"] == "2025" and got["pay_amt"] == "12345.67" and got["set_mode_code"] == "3"
    assert got["is_deleted"] == "0" and got["agency_code"] == "001001" and got["pro_code"] == "P0"
    assert got["mof_div_code"] == "410100000" and got["use_des"] == "办公"
    assert m.plan(("PAY_CERT_ID", "EXTRA_COL"))[1] == ["extra_col"]
    # decimals stay exact whatever the source's numeric type
    plain = RecordMapping(feed_tables()["pay_voucher"])
    for value, text_ in (
        (Decimal("1234.50"), "1234.50"),
        (Decimal("10"), "10"),
        (Decimal("1.2500"), "1.25"),
        (Decimal("1E+3"), "1000"),
        (0.1 + 0.2, "0.30000000000000004"),
    ):
        r = plain.row({"PAY_AMT": value})
        assert isinstance(r, list) and r[plain.header.index("pay_amt")] == text_


def test_a_code_the_mapping_does_not_know_quarantines_the_row_naming_it(
    engine: Engine, yth: sync_kit.SqlHarness, tmp_path: Path
) -> None:
    world = World(yth)
    world.seed()
    with yth.engine.begin() as conn:
        conn.execute(
            text(
                'UPDATE "PAY_VOUCHER_BILL" SET "FUND_TYPE_CODE" = \'77\' WHERE "PAY_CERT_ID" = \'PAY000007\''
            )
        )
        conn.execute(
            text(
                'UPDATE "PAY_VOUCHER_BILL" SET "VOU_DATE" = \'2025XX01\' WHERE "PAY_CERT_ID" = \'PAY000008\''
            )
        )
    report = sync_source(engine, yth.source(), monitor=False)
    assert report.ok
    with engine.connect() as conn:
        held = conn.execute(select(Quarantine).order_by(Quarantine.id)).all()
        stored = conn.execute(text("SELECT COUNT(*) FROM pay_voucher")).scalar_one()
    assert stored == 298
    bad = {q.raw["PAY_CERT_ID"]: (q.field, q.reason) for q in held if q.table_name == "pay_voucher"}
    assert "fund_type_code: the source's code '77' is not in the mapping's codes" in bad["PAY000007"][1]
    assert bad["PAY000008"][0] == "vou_date" and "not a date" in bad["PAY000008"][1]
    # the details of the two payments cannot be stored without them: held back, not lost
    details_held = [q for q in held if q.table_name == "pay_detail"]
    assert len(details_held) == 10 and all("does not exist in pay_voucher" in q.reason for q in details_held)
    # the treasury corrects the two payments; their details, unchanged at the source, follow them in
    fixed = vouchers(range(7, 9), T0 + timedelta(days=1))
    world.put("pay_voucher", fixed)
    again = sync_source(engine, yth.source(), monitor=False)
    assert again.ok
    with engine.connect() as conn:
        unresolved = (
            conn.execute(select(Quarantine.table_name).where(Quarantine.resolved_run_id.is_(None)))
            .scalars()
            .all()
        )
    assert sorted(unresolved) == ["pay_voucher", "pay_voucher"]  # the bad versions stay on record
    assert dump(engine) == world.reference(tmp_path)
    third = sync_source(engine, yth.source(), monitor=False)  # nothing is stored twice
    assert third.changed == 0


def test_a_text_cursor_with_its_own_format(engine: Engine, tmp_path: Path) -> None:
    src = create_engine(f"sqlite:///{tmp_path / 'src.db'}")
    with src.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE DW_AGENCY "
                "(DWDM VARCHAR(20) PRIMARY KEY, DWMC TEXT, QHDM CHAR(9), GXSJ CHAR(14))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO DW_AGENCY VALUES ('001','郑州市教育局','410100000','20250301090000'),"
                "('002','郑州市财政局','410100000','20250302090000')"
            )
        )
    stream = {
        "name": "DW_AGENCY",
        "table": "agency",
        "cursor": "GXSJ",
        "cursor_format": "%Y%m%d%H%M%S",
        "rename": {"DWDM": "agency_code", "DWMC": "agency_name", "QHDM": "mof_div_code"},
    }
    config = {
        "sources": {"dw": {"type": "sql", "url": f"sqlite:///{tmp_path / 'src.db'}", "streams": [stream]}}
    }
    first = sync_source(engine, parse_config(config)["dw"], monitor=False)
    assert first.ok and first.streams[0].counts.inserted == 2
    assert first.streams[0].cursor == "2025-03-02T09:00:00+08:00"
    with src.begin() as conn:
        conn.execute(text("INSERT INTO DW_AGENCY VALUES ('003','郑州市审计局','410100000','20250303090000')"))
    second = sync_source(engine, parse_config(config)["dw"], monitor=False)
    assert (second.streams[0].counts.read, second.streams[0].counts.inserted) == (
        2,
        1,
    )  # from the bookmark on
    src.dispose()


# -- configuration -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"sources": {"a": {"type": "ftp"}}}, "sources.a.type: 'ftp' is not one of sql, http, files"),
        ({"sources": {"a": {"type": "sql", "preset": "yth"}}}, "sources.a.url"),
        (
            {"sources": {"a": {"type": "sql", "url": "sqlite:///x.db", "preset": "yth", "colour": 1}}},
            "unknown key(s) colour",
        ),
        (
            {"sources": {"a": {"type": "sql", "url": "sqlite:///x.db", "preset": "nope"}}},
            "unknown preset 'nope'",
        ),
        (
            {
                "sources": {
                    "a": {
                        "type": "sql",
                        "url": "sqlite:///x.db",
                        "streams": [{"name": "T", "table": "payments"}],
                    }
                }
            },
            "'payments' is not a feed table",
        ),
        (
            {
                "sources": {
                    "a": {
                        "type": "sql",
                        "url": "sqlite:///x.db",
                        "streams": [{"name": "T", "table": "agency", "rename": {"X": "nope"}}],
                    }
                }
            },
            "agency has no field 'nope'",
        ),
        (
            {
                "sources": {
                    "a": {
                        "type": "sql",
                        "url": "sqlite:///x.db",
                        "streams": [{"name": "T", "table": "agency", "transform": {"agency_code": "rot13"}}],
                    }
                }
            },
            "unknown transform 'rot13'",
        ),
        (
            {"sources": {"a": {"type": "sql", "url": "${OVERSIGHT_NO_SUCH_VARIABLE}", "preset": "yth"}}},
            "the environment variable OVERSIGHT_NO_SUCH_VARIABLE is not set",
        ),
        (
            {
                "sources": {
                    "a": {
                        "type": "sql",
                        "url": "sqlite:///x.db",
                        "streams": [{"name": "T", "table": "agency"}, {"name": "U", "table": "agency"}],
                    }
                }
            },
            "already fed by stream T",
        ),
        (
            {"sources": {"a": {"type": "sql", "url": "sqlite:///x.db", "lookback": "soon", "preset": "yth"}}},
            "'soon' is not a duration",
        ),
        ({"sources": {"a": {"type": "files"}}}, "sources.a.inbox"),
        ({"source": {}}, "unknown top-level key(s) source"),
    ],
)
def test_a_configuration_mistake_is_refused_naming_where(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(config)
    assert message in str(err.value)


def test_secrets_come_from_the_environment_and_streams_of_a_preset_can_be_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("YTH_TEST_URL", "postgresql://reader:s3cret@db.example/yth")
    config = sql_config(
        "${YTH_TEST_URL}",
        lookback="15m",
        streams=[
            {"name": "PAY_VOUCHER_BILL", "where": "MOF_DIV_CODE LIKE '4101%'"},
            {"name": "ELE_ACCOUNT", "enabled": False},
        ],
    )
    source = parse_config(config)["yth"]
    assert isinstance(source, SqlSource)
    assert "s3cret" not in source.describe() and "db.example" in source.describe()
    by_name = {s.name: s for s in source.streams}
    assert "ELE_ACCOUNT" not in by_name
    assert by_name["PAY_VOUCHER_BILL"].options["where"] == "MOF_DIV_CODE LIKE '4101%'"
    assert by_name["PAY_VOUCHER_BILL"].lookback == timedelta(minutes=15)
    assert by_name["PAY_VOUCHER_BILL"].mapping.codes["set_mode_code"]["03"] == "3"  # the preset's map kept


# -- a source that is down, slow or broken -------------------------------------------------------------------


def test_a_source_that_is_down_is_an_error_in_sources_and_leaves_the_warehouse_as_it_was(
    engine: Engine, yth: sync_kit.SqlHarness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    World(yth).seed()
    assert sync_source(engine, yth.source(), monitor=False).ok
    before = dump(engine)
    config = {"type": "sql", "url": "postgresql://nobody@127.0.0.1:1/yth", "preset": "yth", "timeout": "3s"}
    down = parse_config({"sources": {"src": config}})["src"]
    report = sync_source(engine, down, monitor=False)
    assert (
        not report.ok and "cannot connect" in (report.error or "") and "127.0.0.1:1" in (report.error or "")
    )
    assert dump(engine) == before
    assert "cannot connect" in caplog.text
    body = api_client(engine).get("/v1/sources").json()
    yth_status = next(s for s in body if s["source"] == "src")
    assert yth_status["status"] == "failed" and "cannot connect" in yth_status["last_error"]
    assert {s["status"] for s in yth_status["streams"]} == {"failed"}
    # its streams still show their last good sync
    good = next(s for s in yth_status["streams"] if s["stream"] == "PAY_VOUCHER_BILL")
    assert good["last_success_at"] is not None and good["rows"] == 300 and good["cursor"]


def test_a_missing_table_fails_its_stream_after_the_streams_before_it_landed(
    engine: Engine, yth: sync_kit.SqlHarness
) -> None:
    World(yth).seed()
    with yth.engine.begin() as conn:
        conn.execute(text('DROP TABLE "PAY_DETAIL"'))
    report = sync_source(engine, yth.source(), monitor=False)
    assert not report.ok and "has no table 'PAY_DETAIL'" in (report.error or "")
    status = {s.stream: s.status for s in report.streams}
    assert status["PAY_VOUCHER_BILL"] == "ok" and status["PAY_DETAIL"] == "failed"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM pay_voucher")).scalar_one() == 300
        state = conn.execute(select(SyncState).where(SyncState.stream == "PAY_DETAIL")).one()
    assert state.status == "failed" and "PAY_DETAIL" in state.last_error


@pytest.mark.parametrize("kind", ["sql-postgresql"])
def test_a_slow_source_times_out_with_a_clear_error(
    engine: Engine, kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    for harness in sync_kit.harness_for(kind, request, tmp_path):
        World(harness).seed()
        with harness.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(
                text(
                    'CREATE VIEW "SLOW_VOUCHERS" AS SELECT * FROM "PAY_VOUCHER_BILL" '
                    "WHERE pg_sleep(0.05) IS NOT NULL"
                )
            )
        config = {
            **harness.config(),
            "timeout": "1s",
            "streams": [{"name": "PAY_VOUCHER_BILL", "from": "SLOW_VOUCHERS"}],
        }
        before = dump(engine)
        report = sync_source(engine, parse_config({"sources": {"src": config}})["src"], monitor=False)
        assert not report.ok and "statement timeout" in (report.error or "")
        with engine.connect() as conn:
            vouchers_stored = conn.execute(text("SELECT COUNT(*) FROM pay_voucher")).scalar_one()
        assert vouchers_stored == 0 and dump(engine)["pay_voucher"] == before["pay_voucher"]


@pytest.mark.parametrize("kind", ["sql-sqlite", "sql-postgresql", "sql-mariadb"])
def test_the_source_is_read_through_a_connection_that_refuses_writes(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    for harness in sync_kit.harness_for(kind, request, tmp_path):
        source = harness.source()
        assert isinstance(source, SqlSource)
        source.open()
        try:
            with pytest.raises(DBAPIError), source.engine.begin() as conn:
                conn.execute(text('DELETE FROM "PAY_VOUCHER_BILL"'))
        finally:
            source.close()


def test_one_sync_of_a_source_at_a_time(engine: Engine, yth: sync_kit.SqlHarness) -> None:
    World(yth).seed()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with source_lock(engine, "src"):
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    try:
        with pytest.raises(SyncBusy):
            sync_source(engine, yth.source(), monitor=False)
    finally:
        release.set()
        t.join()
    assert sync_source(engine, yth.source(), monitor=False).ok


# -- the command and the API ---------------------------------------------------------------------------------


def test_oversight_sync_once(
    engine: Engine, yth: sync_kit.SqlHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    World(yth).seed()
    config = tmp_path / "sync.toml"
    config.write_text(
        '[sources.yth]\ntype = "sql"\nurl = "${YTH_URL}"\npreset = "yth"\nlookback = "10m"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("YTH_URL", yth.url)
    monkeypatch.setenv("OVERSIGHT_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    from schema.db import default_engine

    default_engine.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["sync", "--config", str(config), "--once", "--no-monitor"])
        assert result.exit_code == 0, result.output
        assert "PAY_VOUCHER_BILL" in result.output and "300" in result.output
        again = runner.invoke(app, ["sync", "--config", str(config), "--source", "yth"])
        assert again.exit_code == 0 and "0 records changed" in again.output
        missing = runner.invoke(app, ["sync", "--config", str(config), "--source", "zxzj"])
        assert missing.exit_code == 2 and "no enabled source named zxzj" in missing.output
        config.write_text('[sources.yth]\ntype = "sql"\n', encoding="utf-8")
        bad = runner.invoke(app, ["sync", "--config", str(config)])
        assert bad.exit_code == 2 and "sources.yth.url" in bad.output
    finally:
        default_engine.cache_clear()


def test_sources_shows_each_stream_with_its_bookmark_rows_and_lag(
    engine: Engine, yth: sync_kit.SqlHarness
) -> None:
    world = World(yth)
    world.seed()
    assert sync_source(engine, yth.source(), monitor=False).ok
    # the source moves on; a sync that fails half-way leaves the payments behind it
    world.put("pay_voucher", vouchers(range(300, 310), T0 + timedelta(hours=30)))
    with yth.engine.begin() as conn:
        conn.execute(text('DROP TABLE "PAY_DETAIL"'))
    client = api_client(engine)
    sync_source(engine, yth.source(), monitor=False)
    body = client.get("/v1/sources").json()
    status = next(s for s in body if s["source"] == "src")
    streams = {s["stream"]: s for s in status["streams"]}
    v = streams["PAY_VOUCHER_BILL"]
    assert (
        v["table"] == "pay_voucher"
        and v["status"] == "ok"
        and v["rows"] == 10 + world.overlap("pay_voucher", T0 + timedelta(hours=30))
    )
    assert v["rows_total"] >= 310 and v["lag_seconds"] == 0
    assert v["cursor"] == "2025-03-02T20:09:00+08:00" == v["source_cursor"]  # 09:00 + 30 h + 309 min
    d = streams["PAY_DETAIL"]
    assert d["status"] == "failed" and "has no table" in d["last_error"] and d["last_error_at"]
    assert status["status"] == "failed" and "PAY_DETAIL" in status["last_error"]
    gql = client.post(
        "/graphql", json={"query": "{ sources { source streams { stream status lagSeconds lastError } } }"}
    )
    assert gql.status_code == 200, gql.text
    got = next(s for s in gql.json()["data"]["sources"] if s["source"] == "src")
    assert {s["stream"]: s["status"] for s in got["streams"]} == {k: x["status"] for k, x in streams.items()}
