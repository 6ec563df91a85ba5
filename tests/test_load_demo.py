"""The generated demo province loads completely, the same from every file form, and reloads unchanged."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from connectors.ingest.loader import load_batch
from demo.generate import generate
from tests.factories import warehouse_snapshot

# gov_exec is left out of the form comparison only to keep the suite fast: it has more rows than the rest
COMPARED = ("mof_div", "agency", "project", "ba_bgt_info", "bgt_adj", "pay_voucher", "pay_detail", "ext_risk")
# openpyxl reads some 20,000 cells a second: the 20k-payment sheet alone would take half a minute per engine
XLSX_COMPARED = tuple(t for t in COMPARED if t != "pay_voucher")


def _csv_to_xlsx(source: Path, target: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    with source.open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh):
            ws.append(row)
    wb.save(target)


@pytest.fixture(scope="module")
def demo_batches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The small demo province as UTF-8 CSV, GB18030 CSV and JSONL from the generator, and XLSX made from
    the CSV (the generator's own XLSX writer is slow at this size and is tested in test_generate.py)."""
    root = tmp_path_factory.mktemp("demo")
    forms = {"csv": ("csv", "utf-8"), "gb18030": ("csv", "gb18030"), "jsonl": ("jsonl", "utf-8")}
    batches = {}
    for name, (fmt, encoding) in forms.items():
        full = root / f"full-{name}"
        generate(full, scale="small", seed=7, fmt=fmt, encoding=encoding)
        if name == "csv":
            batches["full"] = full
        subset = root / name
        subset.mkdir()
        for table in COMPARED:
            shutil.copy(full / f"{table}.{fmt}", subset / f"{table}.{fmt}")
        batches[name] = subset
    batches["xlsx"] = root / "xlsx"
    batches["xlsx"].mkdir()
    for table in XLSX_COMPARED:
        _csv_to_xlsx(batches["csv"] / f"{table}.csv", batches["xlsx"] / f"{table}.xlsx")
    return batches


def _counts(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table} WHERE src_name <> 'reference'")).scalar_one()


@pytest.mark.slow
def test_the_demo_province_loads_whole_and_reloads_unchanged(
    engine: Engine, demo_batches: dict[str, Path]
) -> None:
    first = load_batch(engine, demo_batches["full"])
    for report in first.tables:
        assert report.status == "loaded", (report.table, report.message)
        assert report.counts.quarantined == 0, report.table
        assert report.counts.inserted + report.counts.deleted + report.counts.updated == report.counts.read
    second = load_batch(engine, demo_batches["full"])
    for report in second.tables:
        assert report.counts.unchanged == report.counts.read, report.table
    assert (
        _counts(engine, "pay_voucher")
        == next(r for r in first.tables if r.table == "pay_voucher").counts.read
    )


@pytest.mark.slow
@pytest.mark.parametrize("form", ["gb18030", "jsonl", "xlsx"])
def test_every_file_form_of_the_demo_loads_to_the_same_warehouse(
    engine: Engine, demo_batches: dict[str, Path], form: str
) -> None:
    tables = XLSX_COMPARED if form == "xlsx" else COMPARED
    load_batch(engine, demo_batches["csv"])
    expected = {t: rows for t, rows in warehouse_snapshot(engine, with_lines=False).items() if t in tables}
    with engine.begin() as conn:
        for table in reversed(tables):  # (the XLSX batch's details refer to the payments left in place)
            conn.execute(text(f"DELETE FROM {table} WHERE src_name <> 'reference'"))
    load_batch(engine, demo_batches[form])
    got = {t: rows for t, rows in warehouse_snapshot(engine, with_lines=False).items() if t in tables}
    assert got == expected
