"""Loading feed batches: upserts by update_time, soft deletes, quarantine, manifests, formats, encodings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from connectors.ingest.batch import BatchError
from connectors.ingest.loader import load_batch
from schema.models import Agency, LoadRun, PayVoucher, Quarantine
from tests.factories import agency, indicator, payment, warehouse_snapshot, write_manifest, write_table


def base_batch(folder: Path, payments: list[dict], fmt: str = "csv", encoding: str = "utf-8") -> Path:
    write_table(
        folder,
        "agency",
        [agency("001", "郑州市教育局"), agency("001001", "郑州市第一初级中学", dept="001")],
        fmt,
        encoding,
    )
    write_table(folder, "ba_bgt_info", [indicator("B1", "1000000.00")], fmt, encoding)
    write_table(folder, "pay_voucher", payments, fmt, encoding)
    return folder


def report_of(report, table: str):  # type: ignore[no-untyped-def]
    return next(r for r in report.tables if r.table == table)


def cli(engine: Engine, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OVERSIGHT_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_loading_the_same_batch_twice_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    batch = base_batch(tmp_path / "b", [payment(f"P{i}", f"{i}.50") for i in range(1, 301)])
    first = load_batch(engine, batch, chunk_size=100)
    second = load_batch(engine, batch, chunk_size=100)
    assert report_of(first, "pay_voucher").counts.inserted == 300
    for r in second.tables:
        c = r.counts
        assert (c.inserted, c.updated, c.deleted, c.stale, c.quarantined) == (0, 0, 0, 0, 0), r.table
        assert c.unchanged == c.read
    with engine.connect() as conn:
        total = conn.execute(select(func.sum(PayVoucher.pay_amt_fen))).scalar_one()
    assert total == sum(i * 100 + 50 for i in range(1, 301))


def test_latest_update_time_wins_and_older_records_are_ignored(engine: Engine, tmp_path: Path) -> None:
    load_batch(
        engine, base_batch(tmp_path / "b1", [payment("P1", "100.00", update_time="2025-03-04T10:00:00")])
    )
    newer = load_batch(
        engine, base_batch(tmp_path / "b2", [payment("P1", "200.00", update_time="2025-03-05T10:00:00")])
    )
    older = load_batch(
        engine, base_batch(tmp_path / "b3", [payment("P1", "300.00", update_time="2025-03-01T10:00:00")])
    )
    assert report_of(newer, "pay_voucher").counts.updated == 1
    assert report_of(older, "pay_voucher").counts.stale == 1
    with engine.connect() as conn:
        assert conn.execute(select(PayVoucher.pay_amt_fen)).scalar_one() == 20000


def test_a_tie_goes_to_the_later_record_in_load_order(engine: Engine, tmp_path: Path) -> None:
    rows = [
        payment("P1", "1.00"),
        payment("P1", "2.00"),
        payment("P1", "3.00", update_time="2025-01-01T00:00:00"),
    ]
    report = load_batch(engine, base_batch(tmp_path / "b", rows))
    with engine.connect() as conn:
        assert conn.execute(select(PayVoucher.pay_amt_fen)).scalar_one() == 200
    assert report_of(report, "pay_voucher").counts.stale == 2
    # across chunks too, and a rerun of the same file is recognised as unchanged
    load_batch(
        engine, base_batch(tmp_path / "c", [payment("P2", "1.00"), payment("P2", "2.00")]), chunk_size=1
    )
    again = load_batch(
        engine, base_batch(tmp_path / "c", [payment("P2", "1.00"), payment("P2", "2.00")]), chunk_size=1
    )
    with engine.connect() as conn:
        assert (
            conn.execute(select(PayVoucher.pay_amt_fen).where(PayVoucher.pay_cert_id == "P2")).scalar_one()
            == 200
        )
    assert report_of(again, "pay_voucher").counts.updated == 0


def test_a_soft_delete_keeps_the_row_but_counts_it_as_deleted(engine: Engine, tmp_path: Path) -> None:
    load_batch(engine, base_batch(tmp_path / "b1", [payment("P1", "1.00"), payment("P2", "2.00")]))
    report = load_batch(
        engine,
        base_batch(
            tmp_path / "b2", [payment("P2", "2.00", is_deleted="是", update_time="2025-03-06T00:00:00")]
        ),
    )
    assert report_of(report, "pay_voucher").counts.deleted == 1
    with engine.connect() as conn:
        live = conn.execute(select(func.sum(PayVoucher.pay_amt_fen)).where(PayVoucher.is_deleted.is_(False)))
        assert live.scalar_one() == 100
        assert conn.execute(select(func.count()).select_from(PayVoucher)).scalar_one() == 2


def test_a_thousand_malformed_rows_are_quarantined_and_the_good_rows_stored(
    engine: Engine, tmp_path: Path
) -> None:
    rows = []
    bad_lines = {}
    for i in range(3000):
        row = payment(f"P{i}", f"{i}.01")
        line = i + 2  # header is line 1
        kind = i % 3
        if kind == 1:
            row["pay_amt"] = "12.345" if i % 2 else "一百元"
            bad_lines[line] = "pay_amt"
        elif kind == 2 and i % 6 == 2:
            row["vou_date"] = "2025-02-30"
            bad_lines[line] = "vou_date"
        rows.append(row)
    rows[9]["mof_div_code"] = "999999999"  # a region that does not exist
    bad_lines[11] = "mof_div_code"
    batch = base_batch(tmp_path / "b", rows)
    result = cli(engine, "load", str(batch), "--chunk-size", "700")
    assert result.returncode == 0, result.stdout + result.stderr
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(PayVoucher)).scalar_one()
        quarantined = conn.execute(
            select(Quarantine.line, Quarantine.field, Quarantine.reason).where(
                Quarantine.table_name == "pay_voucher"
            )
        ).all()
    assert len(bad_lines) >= 1000
    assert stored == 3000 - len(bad_lines)
    assert {q.line: q.field for q in quarantined} == bad_lines
    assert all(q.reason for q in quarantined)
    assert "quarantined" in result.stdout


def test_bad_rows_of_every_kind_name_their_field_and_reason(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "b"
    base_batch(folder, [payment("P1", "1.00")])
    (folder / "pay_voucher.csv").write_text(
        (folder / "pay_voucher.csv").read_text(encoding="utf-8")
        + "P9,NO9,B1\n"  # too few fields
        + 'P8,"unterminated\n',
        encoding="utf-8",
    )
    write_table(
        folder,
        "ba_bgt_info",
        [
            indicator("B1", "10.00"),
            indicator("B2", "10.00", rec_div_code="410105000"),  # both set
            indicator("B3", "10.00", agency_code=None),
        ],
    )  # neither set
    write_table(
        folder,
        "pay_detail",
        [{"pay_detail_id": "D1", "pay_cert_id": "NOPE", "payee_acct_name": "张三", "pay_amt": "1.00"}],
    )
    report = load_batch(engine, folder)
    with engine.connect() as conn:
        rows = {(q.table_name, q.line): (q.field, q.reason) for q in conn.execute(select(Quarantine))}
    assert rows[("ba_bgt_info", 3)][0] == "agency_code"
    assert rows[("ba_bgt_info", 4)][0] == "agency_code"
    assert "does not exist in pay_voucher" in rows[("pay_detail", 2)][1]
    assert "fields" in rows[("pay_voucher", 3)][1]
    assert report_of(report, "pay_voucher").counts.inserted == 1


def test_headers_are_case_insensitive_and_unknown_columns_are_named(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "b"
    base_batch(folder, [{k.upper(): v for k, v in payment("P1", "1.00").items()} | {"LEGACY_FLAG": "x"}])
    report = load_batch(engine, folder)
    assert report_of(report, "pay_voucher").counts.inserted == 1
    assert report_of(report, "pay_voucher").unknown_columns == ["legacy_flag"]


def test_codes_keep_their_leading_zeros(engine: Engine, tmp_path: Path) -> None:
    load_batch(engine, base_batch(tmp_path / "b", [payment("0101", "1.00")]))
    with engine.connect() as conn:
        assert conn.execute(select(PayVoucher.pay_cert_id)).scalar_one() == "0101"
        assert set(conn.execute(select(Agency.agency_code)).scalars()) == {"001", "001001"}


@pytest.mark.parametrize(
    "fmt,encoding", [("csv", "gb18030"), ("csv", "gbk"), ("jsonl", "utf-8"), ("xlsx", "utf-8")]
)
def test_every_file_form_loads_to_the_same_warehouse(
    engine: Engine, tmp_path: Path, fmt: str, encoding: str
) -> None:
    rows = [
        payment(f"P{i}", f"{i * 7}.0{i % 10}", use_des=f"购置办公设备（第{i}批），含“引号”")
        for i in range(50)
    ]
    load_batch(engine, base_batch(tmp_path / "utf8", rows))
    reference = warehouse_snapshot(engine, with_lines=False)
    with engine.begin() as conn:
        for table in ("pay_voucher", "ba_bgt_info", "agency"):
            conn.execute(text(f"DELETE FROM {table}"))
    load_batch(engine, base_batch(tmp_path / fmt, rows, fmt, encoding))
    assert warehouse_snapshot(engine, with_lines=False) == reference


def test_a_manifest_mismatch_rejects_only_that_table(engine: Engine, tmp_path: Path) -> None:
    folder = base_batch(tmp_path / "b", [payment("P1", "1.00"), payment("P2", "2.00")])
    write_manifest(folder)
    with (folder / "pay_voucher.csv").open("a", encoding="utf-8") as fh:
        fh.write(",".join(str(v) for v in payment("P3", "3.00").values()) + "\n")
    report = load_batch(engine, folder)
    rejected = report_of(report, "pay_voucher")
    assert rejected.status == "rejected" and "sha256" in (rejected.message or "")
    assert report_of(report, "agency").counts.inserted == 2
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(PayVoucher)).scalar_one() == 0


def test_a_batch_that_cannot_be_read_exits_non_zero(engine: Engine, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BatchError):
        load_batch(engine, empty)
    (tmp_path / "m").mkdir()
    write_table(tmp_path / "m", "agency", [agency("001", "x")])
    (tmp_path / "m" / "manifest.json").write_text("{not json", encoding="utf-8")
    result = cli(engine, "load", str(tmp_path / "m"))
    assert result.returncode == 2
    assert "manifest.json is not valid JSON" in result.stdout
    assert cli(engine, "load", str(tmp_path / "missing")).returncode == 2


def test_a_load_run_is_recorded_with_its_source(engine: Engine, tmp_path: Path) -> None:
    folder = base_batch(tmp_path / "b", [payment("P1", "1.00")])
    write_manifest(folder, source="treasury")
    report = load_batch(engine, folder)
    with engine.connect() as conn:
        run = conn.execute(select(LoadRun.source, LoadRun.status).where(LoadRun.id == report.run_id)).one()
        assert tuple(run) == ("treasury", "done")
        assert conn.execute(select(PayVoucher.src_name, PayVoucher.src_line)).one() == ("treasury", 2)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_field_sent_under_its_alias_too_keeps_the_value_given(
    engine: Engine, tmp_path: Path, fmt: str
) -> None:
    folder = tmp_path / fmt
    write_table(folder, "agency", [agency("001001", "郑州市第一初级中学")], fmt)
    write_table(
        folder,
        "ba_bgt_info",
        [
            indicator("B1", "1.00", spe_fund_code="ZX1", track_pro_code=None),
            indicator("B2", "1.00", spe_fund_code=None, track_pro_code="ZX2"),
        ],
        fmt,
    )
    load_batch(engine, folder)
    with engine.connect() as conn:
        got = dict(conn.execute(text("SELECT bgt_id, spe_fund_code FROM ba_bgt_info")).all())
    assert got == {"B1": "ZX1", "B2": "ZX2"}


def test_sqlite_statistics_are_full_and_taken_again_only_when_a_table_moved(engine: Engine) -> None:
    """A sampled ANALYZE misled SQLite's planner at province scale (bench/RESULTS.md): statistics are
    taken in full, when a table has none or its row count moved by more than a tenth."""
    from sqlalchemy import text

    from connectors.ingest.postload import refresh_statistics

    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's ANALYZE samples its own way, evenly")

    def stat() -> str | None:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'classification' ORDER BY idx LIMIT 1")
            ).scalar()

    with engine.begin() as conn:
        rows = conn.execute(text("SELECT count(*) FROM classification")).scalar_one()
    assert rows > 0
    refresh_statistics(engine, {"classification"})
    assert stat() is not None and int(str(stat()).split()[0]) == rows  # full: the exact count
    with engine.begin() as conn:  # a statistic a sampled ANALYZE could have left: far from the truth
        conn.execute(text("UPDATE sqlite_stat1 SET stat = '100000 2001' WHERE tbl = 'classification'"))
    refresh_statistics(engine, {"classification"})
    assert int(str(stat()).split()[0]) == rows
    with engine.begin() as conn:  # within a tenth: kept, not read again
        conn.execute(text(f"UPDATE sqlite_stat1 SET stat = '{rows} 7' WHERE tbl = 'classification'"))
    refresh_statistics(engine, {"classification"})
    assert stat() == f"{rows} 7"
    with engine.begin() as conn:  # an index without statistics (one created since): taken again
        conn.execute(
            text(
                "DELETE FROM sqlite_stat1 WHERE tbl = 'classification' AND idx = "
                "(SELECT min(idx) FROM sqlite_stat1 WHERE tbl = 'classification')"
            )
        )
    refresh_statistics(engine, {"classification"})
    assert int(str(stat()).split()[0]) == rows and stat() != f"{rows} 7"
    with engine.begin() as conn:  # what ANALYZE never writes: taken again, not a crash
        conn.execute(text("UPDATE sqlite_stat1 SET stat = 'abc' WHERE tbl = 'classification'"))
    refresh_statistics(engine, {"classification"})
    assert int(str(stat()).split()[0]) == rows
