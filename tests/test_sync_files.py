"""The ``files`` source beyond the shared conformance suite (tests/test_sync_conformance.py): batch order, the
settle time, the ``done/`` and ``failed/`` folders and their ``report.json``, manifests that do not hold, bad
rows, a batch name delivered twice, a missing inbox, and the configuration errors of a files source.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, func, select, text

from connectors.sync.config import ConfigError, parse_config
from connectors.sync.core import Source
from connectors.sync.runner import StreamReport, SyncReport, sync_source
from schema.loading import LoadRun, Quarantine
from schema.sync import SyncState
from tests.sync_kit import T0, Record, agencies, details, indicators, vouchers, write_csv

SOURCE = "drop"


# -- helpers ---------------------------------------------------------------------------------------------


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "drop" / "inbox"
    folder.mkdir(parents=True)
    return folder


def files_source(inbox: Path, **overrides: Any) -> Source:
    cfg = {"type": "files", "inbox": str(inbox), "settle": "0s", **overrides}
    return parse_config({"sources": {SOURCE: cfg}})[SOURCE]


def sync(engine: Engine, inbox: Path, **overrides: Any) -> SyncReport:
    return sync_source(engine, files_source(inbox, **overrides), monitor=False)


def drop_batch(
    inbox: Path,
    name: str,
    tables: dict[str, list[Record]],
    *,
    manifest: bytes | dict[str, Any] | None = None,
    ready: bool = True,
) -> Path:
    """A batch folder of one CSV per table; marked ready by ``manifest.json`` when one is given, else by
    ``.ready`` (unless ``ready`` is false)."""
    folder = inbox / name
    folder.mkdir()
    for table, records in tables.items():
        write_csv(folder / f"{table}.csv", records)
    if manifest is not None:
        data = manifest if isinstance(manifest, bytes) else orjson.dumps(manifest)
        (folder / "manifest.json").write_bytes(data)
    elif ready:
        (folder / ".ready").touch()
    return folder


def report_json(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((folder / "report.json").read_bytes())
    return data


def table_counts(report: dict[str, Any]) -> dict[str, tuple[str, dict[str, int]]]:
    return {t["table"]: (t["status"], t["counts"]) for t in report["tables"]}


def stream(report: SyncReport, table: str) -> StreamReport:
    found = [s for s in report.streams if s.table == table]
    assert len(found) == 1, report.streams
    return found[0]


def states(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(SyncState).where(SyncState.source == SOURCE)).all()
    return {r.stream: r for r in rows}


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def quarantined(engine: Engine, table: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(Quarantine).where(Quarantine.table_name == table)).all())


def counts_of(c: Any) -> dict[str, int]:
    return {k: getattr(c, k) for k in _zero()}


# -- 1. order, done/, report.json, bookmarks -------------------------------------------------------------


def test_batches_are_taken_in_name_order_and_moved_to_done(engine: Engine, inbox: Path) -> None:
    renamed = [{**r, "agency_name": f"{r['agency_name']}（更名）"} for r in agencies(5, T0)]
    # created in reverse name order: the order of the name counts, not of the delivery
    drop_batch(inbox, "20250301-c", {"agency": renamed, "pay_detail": details(range(10), T0)})
    drop_batch(inbox, "20250301-b", {"pay_voucher": vouchers(range(30), T0)})
    drop_batch(inbox, "20250301-a", {"agency": agencies(20, T0), "ba_bgt_info": indicators(40, T0)})
    (inbox / ".hidden").mkdir()  # a dot-folder is nobody's batch
    (inbox / ".hidden" / "agency.csv").write_text("agency_code\n", encoding="utf-8")

    report = sync(engine, inbox)

    assert report.ok, report.error
    done = inbox.parent / "done"
    assert sorted(p.name for p in done.iterdir()) == ["20250301-a", "20250301-b", "20250301-c"]
    assert [p.name for p in inbox.iterdir()] == [".hidden"]
    assert not (inbox.parent / "failed").exists()
    with engine.connect() as conn:
        runs = conn.execute(
            select(LoadRun.batch_path, LoadRun.status, LoadRun.source).order_by(LoadRun.id)
        ).all()
        names = dict(conn.execute(text("SELECT agency_code, agency_name FROM agency")).all())
    assert [Path(r.batch_path).name for r in runs] == ["20250301-a", "20250301-b", "20250301-c"]
    assert {(r.status, r.source) for r in runs} == {("done", SOURCE)}
    assert names["101001"].endswith("（更名）") and not names["101020"].endswith("（更名）")
    # the details of batch c found the vouchers of batch b
    assert count(engine, "pay_detail") == 10 and not quarantined(engine, "pay_detail")

    a, b, c = (report_json(done / n) for n in ("20250301-a", "20250301-b", "20250301-c"))
    assert Path(a["batch"]).name == "20250301-a" and a["source"] == SOURCE
    assert table_counts(a) == {
        "agency": ("loaded", {**_zero(), "read": 20, "inserted": 20}),
        "ba_bgt_info": ("loaded", {**_zero(), "read": 40, "inserted": 40}),
    }
    assert table_counts(b) == {"pay_voucher": ("loaded", {**_zero(), "read": 30, "inserted": 30})}
    assert table_counts(c) == {
        "agency": ("loaded", {**_zero(), "read": 5, "updated": 5}),
        "pay_detail": ("loaded", {**_zero(), "read": 10, "inserted": 10}),
    }
    assert [a["run_id"], b["run_id"], c["run_id"]] == sorted({a["run_id"], b["run_id"], c["run_id"]})
    assert report.run_id == c["run_id"]
    assert count(engine, "agency") >= 20 and count(engine, "pay_voucher") == 30

    # the sync report sums each table over the batches that fed it
    assert {s.table for s in report.streams} == {"agency", "ba_bgt_info", "pay_voucher", "pay_detail"}
    assert counts_of(stream(report, "agency").counts) == {**_zero(), "read": 25, "inserted": 20, "updated": 5}
    assert stream(report, "agency").cursor == "20250301-c"
    assert stream(report, "ba_bgt_info").cursor == "20250301-a"
    assert stream(report, "pay_voucher").cursor == "20250301-b"
    assert all(s.status == "ok" and s.error is None for s in report.streams)

    st = states(engine)
    assert set(st) == {"agency", "ba_bgt_info", "pay_voucher", "pay_detail"}
    assert all(s.status == "ok" and s.table_name == s.stream and s.last_error is None for s in st.values())
    assert all(s.last_success_at is not None and s.last_run_id is not None for s in st.values())
    # each table's bookmark is the last batch that fed it
    assert {k: s.cursor for k, s in st.items()} == {
        "agency": "20250301-c",
        "ba_bgt_info": "20250301-a",
        "pay_voucher": "20250301-b",
        "pay_detail": "20250301-c",
    }
    assert {k: s.rows_total for k, s in st.items()} == {
        "agency": 25,
        "ba_bgt_info": 40,
        "pay_voucher": 30,
        "pay_detail": 10,
    }
    assert (st["ba_bgt_info"].rows_last, st["pay_voucher"].rows_last, st["pay_detail"].rows_last) == (
        40,
        30,
        10,
    )

    # a second sync finds an empty inbox: nothing to do, the bookmarks stay
    again = sync(engine, inbox)
    assert again.ok and again.streams == []
    assert {k: s.cursor for k, s in states(engine).items()} == {k: s.cursor for k, s in st.items()}


def _zero() -> dict[str, int]:
    return dict.fromkeys(("read", "inserted", "updated", "unchanged", "stale", "deleted", "quarantined"), 0)


def test_rows_last_counts_every_batch_of_the_sync(engine: Engine, inbox: Path) -> None:
    drop_batch(inbox, "b1", {"agency": agencies(20, T0)})
    drop_batch(inbox, "b2", {"agency": agencies(5, T0)})
    report = sync(engine, inbox)
    assert report.ok, report.error
    assert stream(report, "agency").counts.read == 25
    assert states(engine)["agency"].rows_last == 25


# -- 2. the settle time ----------------------------------------------------------------------------------


def test_a_folder_still_changing_waits_for_the_settle_time(engine: Engine, inbox: Path) -> None:
    folder = drop_batch(inbox, "incoming", {"agency": agencies(3, T0)}, ready=False)
    before = {p.name: p.stat().st_mtime for p in folder.iterdir()}

    report = sync(engine, inbox, settle="1h")

    assert report.ok, report.error
    assert report.streams == []
    assert {p.name: p.stat().st_mtime for p in folder.iterdir()} == before  # no report.json either
    assert not (inbox.parent / "done").exists() and not (inbox.parent / "failed").exists()
    assert count(engine, "agency") == 0 and states(engine) == {}

    report = sync(engine, inbox, settle="0s")

    assert report.ok, report.error
    assert not folder.exists()
    assert table_counts(report_json(inbox.parent / "done" / "incoming"))["agency"][1]["inserted"] == 3
    assert count(engine, "agency") == 3


def test_a_folder_unchanged_for_the_settle_time_is_taken(engine: Engine, inbox: Path) -> None:
    folder = drop_batch(inbox, "quiet", {"agency": agencies(3, T0)}, ready=False)
    old = time.time() - 2 * 3600
    for p in [*folder.iterdir(), folder]:
        os.utime(p, (old, old))

    report = sync(engine, inbox, settle="1h")

    assert report.ok, report.error
    assert (inbox.parent / "done" / "quiet" / "report.json").exists()
    assert count(engine, "agency") == 3


# -- 3. a batch that cannot be read ----------------------------------------------------------------------


def test_a_manifest_that_is_not_json_fails_its_batch_only(engine: Engine, inbox: Path) -> None:
    drop_batch(inbox, "b1-broken", {"agency": agencies(20, T0)}, manifest=b'{"tables": {"agency": ')
    drop_batch(inbox, "b2-good", {"agency": agencies(4, T0)})

    report = sync(engine, inbox)

    assert not report.ok
    assert report.error is not None and "b1-broken" in report.error and "manifest.json" in report.error
    failed = inbox.parent / "failed" / "b1-broken"
    assert failed.is_dir() and (failed / "agency.csv").exists()
    written = report_json(failed)
    assert written["batch"] == "b1-broken"
    assert "manifest.json is not valid JSON" in written["error"]
    assert list(inbox.iterdir()) == []
    # nothing of the broken batch: only the good batch's four agencies
    assert count(engine, "agency") == 4
    good = report_json(inbox.parent / "done" / "b2-good")
    assert table_counts(good)["agency"] == ("loaded", {**_zero(), "read": 4, "inserted": 4})
    assert counts_of(stream(report, "agency").counts) == {**_zero(), "read": 4, "inserted": 4}
    assert states(engine)["agency"].cursor == "b2-good"
    with engine.connect() as conn:
        paths = conn.execute(select(LoadRun.batch_path)).scalars().all()
    assert [Path(p).name for p in paths] == ["b2-good"]


def test_an_unreadable_batch_is_recorded_in_sync_state(engine: Engine, inbox: Path) -> None:
    drop_batch(inbox, "b1-broken", {"agency": agencies(2, T0)}, manifest=b"not json")
    report = sync(engine, inbox)
    assert not report.ok
    errors = [s.last_error or "" for s in states(engine).values() if s.status == "failed"]
    assert any("b1-broken" in e for e in errors), states(engine)


# -- 4. a manifest that does not hold --------------------------------------------------------------------


def test_a_wrong_row_count_rejects_that_table_and_fails_the_batch(engine: Engine, inbox: Path) -> None:
    manifest = {
        "source": "treasury",
        "tables": {"agency": {"rows": 20}, "pay_voucher": {"rows": 999}},
    }
    drop_batch(
        inbox,
        "b1",
        {
            "agency": agencies(20, T0),
            "ba_bgt_info": indicators(40, T0),
            "pay_voucher": vouchers(range(30), T0),
        },
        manifest=manifest,
    )

    report = sync(engine, inbox)

    assert not report.ok
    assert report.error is not None
    assert "pay_voucher" in report.error and "b1" in report.error and "999" in report.error
    failed = inbox.parent / "failed" / "b1"
    assert failed.is_dir() and not (inbox.parent / "done").exists() and list(inbox.iterdir()) == []
    written = table_counts(report_json(failed))
    assert written["pay_voucher"][0] == "rejected"
    assert written["agency"] == ("loaded", {**_zero(), "read": 20, "inserted": 20})
    assert written["ba_bgt_info"] == ("loaded", {**_zero(), "read": 40, "inserted": 40})
    message = next(t["message"] for t in report_json(failed)["tables"] if t["table"] == "pay_voucher")
    assert "30" in message and "999" in message

    assert count(engine, "pay_voucher") == 0
    assert count(engine, "agency") == 20 and count(engine, "ba_bgt_info") == 40

    pv = stream(report, "pay_voucher")
    assert pv.status == "failed" and pv.error is not None and "b1" in pv.error and "999" in pv.error
    assert stream(report, "agency").status == "ok"

    st = states(engine)
    assert st["pay_voucher"].status == "failed"
    assert st["pay_voucher"].last_error is not None and st["pay_voucher"].last_error_at is not None
    assert "b1" in st["pay_voucher"].last_error
    assert "holds 30 rows, manifest.json says 999" in st["pay_voucher"].last_error
    assert st["pay_voucher"].last_success_at is None
    assert (st["agency"].status, st["agency"].cursor, st["agency"].rows_last) == ("ok", "b1", 20)
    assert st["ba_bgt_info"].status == "ok"

    # the table comes right with the next batch
    drop_batch(inbox, "b2", {"pay_voucher": vouchers(range(30), T0)})
    report = sync(engine, inbox)
    assert report.ok, report.error
    assert count(engine, "pay_voucher") == 30
    st = states(engine)
    assert (st["pay_voucher"].status, st["pay_voucher"].cursor) == ("ok", "b2")


def test_a_rejected_table_keeps_its_bookmark(engine: Engine, inbox: Path) -> None:
    drop_batch(inbox, "b1", {"agency": agencies(5, T0)})
    drop_batch(inbox, "b2", {"agency": agencies(5, T0)}, manifest={"tables": {"agency": {"rows": 6}}})
    report = sync(engine, inbox)
    assert not report.ok
    assert states(engine)["agency"].status == "failed"
    assert stream(report, "agency").cursor == "b1"
    assert states(engine)["agency"].cursor == "b1"


def test_a_wrong_checksum_rejects_that_table(engine: Engine, inbox: Path) -> None:
    drop_batch(
        inbox, "b1", {"agency": agencies(5, T0)}, manifest={"tables": {"agency": {"sha256": "0" * 64}}}
    )
    report = sync(engine, inbox)
    assert not report.ok and report.error is not None and "sha256" in report.error
    assert (inbox.parent / "failed" / "b1" / "report.json").exists()
    assert count(engine, "agency") == 0
    assert states(engine)["agency"].status == "failed"


# -- 5. a malformed row ----------------------------------------------------------------------------------


def test_a_malformed_row_is_quarantined_and_the_batch_is_done(engine: Engine, inbox: Path) -> None:
    bad = vouchers(range(10), T0)
    bad[3] = {**bad[3], "pay_amt": "12.345"}
    drop_batch(inbox, "b1", {"agency": agencies(20, T0), "pay_voucher": bad})

    report = sync(engine, inbox)

    assert report.ok, report.error
    done = inbox.parent / "done" / "b1"
    assert done.is_dir() and not (inbox.parent / "failed").exists()
    assert table_counts(report_json(done))["pay_voucher"] == (
        "loaded",
        {**_zero(), "read": 10, "inserted": 9, "quarantined": 1},
    )
    assert stream(report, "pay_voucher").counts.quarantined == 1
    assert count(engine, "pay_voucher") == 9
    held = quarantined(engine, "pay_voucher")
    assert len(held) == 1
    assert held[0].field == "pay_amt" and held[0].raw["pay_cert_id"] == "PAY000003"
    assert held[0].raw["pay_amt"] == "12.345"
    st = states(engine)["pay_voucher"]
    assert (st.status, st.cursor, st.rows_last) == ("ok", "b1", 10)


# -- 6. a batch name delivered twice ---------------------------------------------------------------------


def test_the_same_batch_name_twice_is_loaded_and_kept_apart(engine: Engine, inbox: Path) -> None:
    records = {"agency": agencies(20, T0), "pay_voucher": vouchers(range(25), T0)}
    drop_batch(inbox, "daily", records)
    assert sync(engine, inbox).ok
    done = inbox.parent / "done"
    first = report_json(done / "daily")

    drop_batch(inbox, "daily", records)
    report = sync(engine, inbox)

    assert report.ok, report.error
    assert list(inbox.iterdir()) == []
    entries = sorted(p.name for p in done.iterdir())
    assert len(entries) == 2 and entries[0] == "daily" and entries[1].startswith("daily.")
    assert entries[1].removeprefix("daily.").isalnum()  # a timestamp
    assert report_json(done / "daily") == first  # the first is not overwritten
    assert table_counts(first)["pay_voucher"][1]["inserted"] == 25
    second = table_counts(report_json(done / entries[1]))
    assert second["agency"] == ("loaded", {**_zero(), "read": 20, "unchanged": 20})
    assert second["pay_voucher"] == ("loaded", {**_zero(), "read": 25, "unchanged": 25})
    assert (done / entries[1] / "pay_voucher.csv").read_bytes() == (
        done / "daily" / "pay_voucher.csv"
    ).read_bytes()
    assert count(engine, "pay_voucher") == 25
    st = states(engine)["pay_voucher"]
    assert (st.status, st.cursor, st.rows_total) == ("ok", "daily", 50)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LoadRun)).scalar_one() == 2

    # and a third time: a third folder, the other two untouched
    drop_batch(inbox, "daily", records)
    assert sync(engine, inbox).ok
    assert len(list(done.iterdir())) == 3


# -- 7. an inbox that is not there -----------------------------------------------------------------------


def test_a_missing_inbox_is_reported_not_raised(engine: Engine, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "inbox"

    report = sync(engine, missing)

    assert not report.ok
    assert report.error is not None and str(missing) in report.error and "not a folder" in report.error
    assert report.streams == []
    st = states(engine)
    assert set(st) == {"inbox"}
    assert st["inbox"].status == "failed"
    assert st["inbox"].last_error == report.error and st["inbox"].last_error_at is not None
    assert st["inbox"].cursor is None
    assert not missing.exists() and not (missing.parent / "done").exists()


def test_an_inbox_that_is_a_file_is_reported(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "inbox"
    path.write_text("not a folder", encoding="utf-8")
    report = sync(engine, path)
    assert not report.ok and report.error is not None and str(path) in report.error
    assert states(engine)["inbox"].status == "failed"


def test_a_restored_inbox_clears_its_failure(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "drop" / "inbox"
    assert not sync(engine, folder).ok
    folder.mkdir(parents=True)
    drop_batch(folder, "b1", {"agency": agencies(2, T0)})
    assert sync(engine, folder).ok
    assert all(s.status != "failed" for s in states(engine).values()), states(engine)


# -- 8. configuration ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cfg", "names"),
    [
        ({"type": "files"}, "sources.drop.inbox"),
        ({"type": "files", "inbox": ""}, "sources.drop.inbox"),
        ({"type": "files", "inbox": 7}, "sources.drop.inbox"),
        (
            {"type": "files", "inbox": "/srv/in", "streams": [{"name": "agency", "table": "agency"}]},
            "streams",
        ),
        ({"type": "files", "inbox": "/srv/in", "settle": "soon"}, "sources.drop.settle"),
        ({"type": "files", "inbox": "/srv/in", "settle": True}, "sources.drop.settle"),
        ({"type": "files", "inbox": "/srv/in", "url": "sqlite://"}, "url"),
    ],
    ids=["no-inbox", "empty-inbox", "inbox-not-text", "streams", "bad-settle", "settle-bool", "unknown-key"],
)
def test_config_errors_name_the_key(cfg: dict[str, Any], names: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"sources": {SOURCE: cfg}})
    assert names in str(raised.value)
    assert "sources.drop" in str(raised.value)


def test_config_defaults_and_paths(tmp_path: Path) -> None:
    from connectors.sources.files import FilesSource

    src = parse_config({"sources": {SOURCE: {"type": "files", "inbox": str(tmp_path / "in")}}})[SOURCE]
    assert isinstance(src, FilesSource)
    assert (src.done, src.failed, src.settle_s) == (tmp_path / "done", tmp_path / "failed", 30.0)
    cfg = {
        "type": "files",
        "inbox": str(tmp_path / "in"),
        "done": str(tmp_path / "ok"),
        "failed": str(tmp_path / "bad"),
        "settle": "2m",
    }
    src = parse_config({"sources": {SOURCE: cfg}})[SOURCE]
    assert isinstance(src, FilesSource)
    assert (src.done, src.failed, src.settle_s) == (tmp_path / "ok", tmp_path / "bad", 120.0)


def test_configured_done_and_failed_folders_are_used(engine: Engine, tmp_path: Path, inbox: Path) -> None:
    drop_batch(inbox, "b1", {"agency": agencies(2, T0)})
    drop_batch(inbox, "b2", {"agency": agencies(2, T0)}, manifest=b"[")
    report = sync(
        engine, inbox, done=str(tmp_path / "archive" / "ok"), failed=str(tmp_path / "archive" / "bad")
    )
    assert not report.ok
    assert (tmp_path / "archive" / "ok" / "b1" / "report.json").exists()
    assert (tmp_path / "archive" / "bad" / "b2" / "report.json").exists()
    assert not (inbox.parent / "done").exists() and not (inbox.parent / "failed").exists()


def test_a_done_folder_inside_the_inbox_is_not_taken_for_a_batch(engine: Engine, inbox: Path) -> None:
    try:
        files_source(inbox, done=str(inbox / "done"))
    except ConfigError:
        return  # refusing the configuration is as good
    drop_batch(inbox, "b1", {"agency": agencies(2, T0)})
    assert sync(engine, inbox, done=str(inbox / "done")).ok
    report = sync(engine, inbox, done=str(inbox / "done"))
    assert report.ok, report.error
    assert (inbox / "done" / "b1" / "report.json").exists()
