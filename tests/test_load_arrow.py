"""The Arrow path stores exactly what the Python path stores, and quarantines the same rows for the same
reasons, whatever the file holds."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text

import connectors.ingest.loader as loader
from connectors.ingest.arrow_csv import plain_lines_range
from connectors.ingest.arrow_rows import WHITESPACE, _converter, _strip
from connectors.ingest.convert import BadValue, value_parser
from connectors.ingest.loader import load_batch
from schema.base import FeedField, Kind
from schema.models import Quarantine
from schema.reference import load_code_sets
from tests.factories import agency, indicator, payment, warehouse_snapshot, write_table

HEADER = list(payment("P0", "1.00"))


def _line(row: dict[str, Any], header: list[str]) -> str:
    return ",".join(str(row.get(h, "")) for h in header)


def tricky_payments() -> list[str]:
    """Quote-free payment lines that the vectorised checks must convert exactly, or hand to Python."""
    rows = [
        payment("0101", "1.00"),  # leading zeros
        payment("P02", "12.5", vou_date="20250304", xpay_date="2025/03/05"),  # the other date forms
        payment("P03", "-800", update_time="2025-03-04T10:00:00Z"),
        payment("P04", "0.05", update_time="2025-03-04T10:00:00-05:30"),
        payment("P05", "3.10", update_time="2025-03-04 10:00:00.5"),
        payment("P06", "4.00", update_time="2025-03-04T10:00:00.123456+08:00"),
        payment("P07", "5.00", update_time="2025-03-04T10:00"),  # no seconds: Python's
        payment("P08", "6.00", update_time="2025-01-01T03:00:00+08:00"),  # the UTC date is the day before
        payment("P09", "12.345"),  # three decimals: quarantined
        payment("P10", "1,5".replace(",", "")),
        payment("P11", "7.00", vou_date="2025-02-30"),  # no such day: quarantined
        payment("P12", "8.00", vou_date="2024-02-29", is_deleted="Y"),
        payment("P13", "9.00", is_deleted="是"),
        payment("P14", "9.00", is_deleted="TRUE"),
        payment("P15", "9.00", is_deleted="maybe"),  # quarantined
        payment("P16", "  10.00 ", use_des="\u3000 全角空格\u3000", payee_acct_no=" 0001 "),
        payment("P17", "11.00", use_des="\x1c分隔符\x1f"),
        payment("P18", "12.00", fiscal_year="1948"),  # out of range
        payment("P19", "13.00", fiscal_year="+2025"),  # Python's int() takes it
        payment("P20", "14.00", mof_div_code="41010500"),  # eight digits
        payment("P21", "15.00", mof_div_code="999999999"),  # no such region
        payment("P22", "16.00", payee_type="7"),  # outside the code set
        payment("P23", "17.00", contract_no="C" * 65),  # too long a code
        payment("P24", "", use_des=""),  # required fields empty
        payment("P25", "１８.00"),  # full-width digits
        payment("P26", "19.00", update_time="2025-03-04T25:00:00"),
        payment("P27", "20.00", update_time="2025-03-04T10:00:00+0800"),  # Python's form
        payment("0101", "21.00", update_time="2025-03-04T10:00:00"),  # a tie: the later line wins
        payment("P02", "22.00", update_time="2025-01-01T00:00:00"),  # older: ignored
        payment("P28", "9999999999999999.99", vou_date="1000-01-01"),
        payment("P29", "23.00", unifsoc_cred_code="", iden_no="41010219910621000x"),
        payment("P30", "24.00", unifsoc_cred_code="", iden_no="", payee_acct_name="Ｚｈａｎｇ Ｓａｎ"),
    ]
    return [_line(r, HEADER) for r in rows]


def batch_with(
    folder: Path, pay_lines: list[str], *, encoding: str = "utf-8", header: str | None = None
) -> Path:
    write_table(
        folder,
        "agency",
        [agency("001", "郑州市教育局"), agency("001001", "郑州市第一初级中学", dept="001")],
    )
    write_table(folder, "ba_bgt_info", [indicator("B1", "1000000.00")])
    body = (header if header is not None else ",".join(HEADER)) + "\r\n" + "\r\n".join(pay_lines) + "\r\n"
    (folder / "pay_voucher.csv").write_bytes(body.encode(encoding))
    return folder


def quarantine(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Quarantine.table_name, Quarantine.line, Quarantine.field, Quarantine.reason, Quarantine.raw
            )
        ).all()
    return sorted((tuple(r[:4]) + (sorted(r[4].items()),) for r in rows), key=repr)


def counts(report) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    return [(r.table, r.status, r.message, asdict(r.counts), r.unknown_columns) for r in report.tables]


def wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in ("pay_voucher", "ba_bgt_info", "agency", "quarantine", "load_table_report"):
            conn.execute(text(f"DELETE FROM {table}"))


def assert_same_as_python_path(
    engine: Engine, folder: Path, monkeypatch: pytest.MonkeyPatch, chunk_size: int = 7
) -> None:
    arrow = load_batch(engine, folder, chunk_size=chunk_size)
    expected = (warehouse_snapshot(engine), quarantine(engine), counts(arrow))
    wipe(engine)
    with monkeypatch.context() as m:
        m.setattr(loader, "plain_lines_range", lambda path: None)
        python = load_batch(engine, folder, chunk_size=chunk_size)
    assert (warehouse_snapshot(engine), quarantine(engine), counts(python)) == expected


def test_tricky_values_load_as_on_the_python_path(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = batch_with(tmp_path / "b", tricky_payments())
    assert plain_lines_range(folder / "pay_voucher.csv") is not None  # the Arrow path is taken
    assert_same_as_python_path(engine, folder, monkeypatch)
    assert len(quarantine(engine)) >= 10


def test_gbk_with_blank_and_broken_lines_loads_as_on_the_python_path(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = tricky_payments()
    lines[3:3] = ["", "P90,too,few"]
    lines[12:12] = ["   "]
    folder = batch_with(tmp_path / "b", lines, encoding="gb18030")
    raw = (folder / "pay_voucher.csv").read_bytes()
    (folder / "pay_voucher.csv").write_bytes(raw + b"P91,\xff\xfe" + b"," * (len(HEADER) - 2) + b"\r\n")
    assert_same_as_python_path(engine, folder, monkeypatch, chunk_size=5)


def test_a_bom_unknown_and_missing_columns_load_as_on_the_python_path(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = [h for h in HEADER if h not in ("xpay_date", "contract_no", "is_deleted")] + ["legacy_code"]
    rows = [payment(f"P{i}", f"{i}.{i % 100:02d}", legacy_code=f"L{i}") for i in range(40)]
    lines = [_line(r, header) for r in rows]
    folder = batch_with(
        tmp_path / "b", lines, encoding="utf-8-sig", header=",".join(h.upper() for h in header)
    )
    assert_same_as_python_path(engine, folder, monkeypatch, chunk_size=16)


def test_quoted_fields_and_line_breaks_in_them_take_the_python_path(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [payment(f"P{i}", "1.00", use_des=f'第{i}批，"含引号"\n第二行') for i in range(20)]
    folder = batch_with(tmp_path / "b", [])
    write_table(folder, "pay_voucher", rows)
    assert plain_lines_range(folder / "pay_voucher.csv") is None
    assert_same_as_python_path(engine, folder, monkeypatch)


def test_a_reference_that_does_not_exist_quarantines_the_raw_feed_values(
    engine: Engine, tmp_path: Path
) -> None:
    folder = batch_with(tmp_path / "b", [_line(payment("P1", "1.00", mof_div_code="999999999"), HEADER)])
    load_batch(engine, folder)
    [(table, line, field, reason, raw)] = quarantine(engine)
    assert (table, line, field) == ("pay_voucher", 2, "mof_div_code")
    assert dict(raw)["pay_amt"] == "1.00" and "does not exist" in reason


CODE_SETS = load_code_sets()
FIELDS = [
    FeedField("amount", Kind.AMOUNT),
    FeedField("date", Kind.DATE),
    FeedField("time", Kind.DATETIME),
    FeedField("year", Kind.INT, min_value=1949, max_value=2100),
    FeedField("level_no", Kind.INT, code_set="level_no"),
    FeedField("flag", Kind.FLAG),
    FeedField("region", Kind.REGION),
]
_ALPHABET = st.sampled_from(list("0123456789-/:.+TZ ") + ["١", "２", "x", "\u3000"])
_FORMED = st.one_of(
    st.text(_ALPHABET, min_size=1, max_size=32),
    st.datetimes().map(str),
    st.datetimes().map(lambda d: d.isoformat(timespec="seconds") + "+08:00"),
    st.dates().map(lambda d: d.strftime("%Y%m%d")),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.sampled_from(["1", "0", "Y", "n", "是", "否", "True", "FALSE", "2"]),
)


@settings(max_examples=400, deadline=None)
@given(values=st.lists(_FORMED, min_size=1, max_size=20))
@example(values=["2025-02-29", "2025-13-01 00:00:00", "2025-03-04T10:00:00-00:00", "9999-12-31T23:00:00"])
def test_what_a_vectorised_check_accepts_it_converts_as_python_would(values: list[str]) -> None:
    col = pa.array([_strip(pa.array([v]), True)[0].as_py() for v in values], pa.string())
    for ff in FIELDS:
        converted, ok = _converter(ff, CODE_SETS)(col)
        parse = value_parser(ff, CODE_SETS)
        for value, got, good in zip(col.to_pylist(), converted.to_pylist(), ok.to_pylist(), strict=True):
            if not value:
                continue
            try:
                expected = parse(value)
            except (BadValue, OverflowError):  # (OverflowError: a pre-existing Python-path crash)
                assert not good, (ff.kind, value, got)
                continue
            if good:
                assert got == expected, (ff.kind, value)


@given(st.text(st.sampled_from([*WHITESPACE, "a", "中", "\u200b", " "]), max_size=8))
def test_stripping_is_pythons_strip(value: str) -> None:
    for odd in (True, False):
        if not odd and any(c in value for c in "\x1c\x1d\x1e\x1f"):
            continue  # a block with these takes the exact trim
        assert _strip(pa.array([value]), odd)[0].as_py() == value.strip()
