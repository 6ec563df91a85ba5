"""Periodic oversight reports over the demo province, on SQLite and PostgreSQL: every section is filled and
its figures are the API's to the fen; a past period's paid is what had been paid by its as-of day (checked
against the oracle); periods parse; scope holds; the workbook holds real numbers; the CLI writes both
formats; and headless Chromium draws the HTML page offline.

The demo province holds no inquiries, and the shared demo warehouse is read only: the reports are read from
a copy of it (``warehouse``) into which a few inquiries were raised, answered, returned and accepted through
the inquiry lifecycle, at chosen times in October 2026, the demo's newest month.
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import struct
import subprocess
import zlib
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import chinese_calendar
import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from api.inquiries import lifecycle
from api.reports.period import parse_period
from api.reports.xlsx import SHEETS
from cli.main import app
from monitor import ledger
from schema.db import make_engine, write_transaction
from schema.models import PayVoucher
from tests import oracle
from tests.auth import api_client
from tests.conftest import service_unavailable

PROVINCE, ZHENGZHOU, KAIFENG = "410000000", "410100000", "410200000"
PERIOD, YEAR = "2026-10", 2026  # the demo's newest month: 2026 runs to the end of October
TODAY = date(2026, 11, 23)  # the reports' "today": after the period, so overdue is counted at its end
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger, "china_today", lambda: TODAY)


def utc(text_: str) -> datetime:
    """A stored (naive UTC) time from its time in China."""
    return datetime.fromisoformat(text_) - ledger.CHINA


# --- a copy of the demo with inquiries -----------------------------------------------------------------


def _copy(demo_engine: Engine, request: pytest.FixtureRequest, folder: Path) -> tuple[Engine, str | None]:
    if demo_engine.dialect.name == "sqlite":
        path = folder / "warehouse.db"
        source, target = sqlite3.connect(str(demo_engine.url.database)), sqlite3.connect(path)
        source.backup(target)
        source.close()
        target.close()
        return make_engine(f"sqlite:///{path}"), None
    admin: Engine = request.getfixturevalue("pg_admin")
    name = f"oversight_reports_{os.getpid()}"
    demo_engine.dispose()  # a template database may have no other session
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{demo_engine.url.database}"'))
    return make_engine(demo_engine.url.set(database=name).render_as_string(hide_password=False)), name


ASKER = lifecycle.Actor("congress-1", "congress", PROVINCE, "省人大财经委")


def _raise(engine: Engine, region: str, when: str) -> int:
    with engine.connect() as conn:
        payment = conn.execute(
            select(PayVoucher.pay_cert_id)
            .where(PayVoucher.mof_div_code == region, PayVoucher.is_deleted.is_(False))
            .order_by(PayVoucher.pay_cert_id)
            .limit(1)
        ).scalar_one()
    with write_transaction(engine) as conn:
        step = lifecycle.raise_inquiry(
            conn,
            "payment",
            payment,
            actor=ASKER,
            subject="这笔支付的用途?",
            question="请说明用途与依据。",
            via="rest",
            now=utc(when),
            today=date.fromisoformat(when[:10]),
        )
    return step.inquiry_id


def _step(engine: Engine, inquiry_id: int, action: str, region: str, when: str) -> None:
    actor = lifecycle.Actor(f"finance-{region}", "finance", region) if action == "answer" else ASKER
    lifecycle.transition(
        engine,
        inquiry_id,
        action,
        actor=actor,
        text="已核实" if action != "accept" else None,
        via="rest",
        now=utc(when),
        today=date.fromisoformat(when[:10]),
    )


def add_inquiries(engine: Engine) -> None:
    """A: Zhengzhou, 12 Oct, never answered (deadline 19 Oct: overdue at the month's end). B: the province,
    12 Oct, answered 14 Oct, returned 15 Oct, answered 16 Oct, accepted 19 Oct. C: Zhengzhou, 28 Oct, not
    yet due. D: the province, raised 24 Sep (before the period), answered 9 Oct across the National Day and
    Mid-Autumn holidays."""
    _raise(engine, ZHENGZHOU, "2026-10-12T10:00")
    b = _raise(engine, PROVINCE, "2026-10-12T11:00")
    _step(engine, b, "answer", PROVINCE, "2026-10-14T16:00")
    _step(engine, b, "return", PROVINCE, "2026-10-15T09:00")
    _step(engine, b, "answer", PROVINCE, "2026-10-16T09:00")
    _step(engine, b, "accept", PROVINCE, "2026-10-19T09:00")
    _raise(engine, ZHENGZHOU, "2026-10-28T10:00")
    d = _raise(engine, PROVINCE, "2026-09-24T10:00")
    _step(engine, d, "answer", PROVINCE, "2026-10-09T15:00")


@pytest.fixture(scope="module")
def warehouse(
    demo_engine: Engine, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    engine, pg_name = _copy(demo_engine, request, tmp_path_factory.mktemp("reports"))
    add_inquiries(engine)
    yield engine
    engine.dispose()
    if pg_name is not None:
        with request.getfixturevalue("pg_admin").connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def client(warehouse: Engine) -> Iterator[TestClient]:
    with api_client(warehouse) as c:
        yield c


@pytest.fixture(scope="module")
def monthly(client: TestClient) -> dict[str, Any]:
    r = client.get("/v1/reports", params={"period": PERIOD, "format": "json"})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def ok(client: TestClient, path: str, **params: Any) -> Any:
    r = client.get(path, params=params)
    assert r.status_code == 200, (path, params, r.text)
    return r.json()


def pick(row: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: row[n] for n in names}


# --- the monthly report equals the API ------------------------------------------------------------------


def test_the_newest_month_is_the_reports_period(client: TestClient) -> None:
    summary = ok(client, "/v1/summary")
    assert summary["scope"]["year"] == YEAR
    assert summary["data_as_of"].startswith(PERIOD)


def test_every_section_is_filled(monthly: dict[str, Any]) -> None:
    assert monthly["region"] == PROVINCE and monthly["period"]["first"] == "2026-10-01"
    ex = monthly["execution"]
    assert ex["fund_types"] and ex["regions"] and ex["departments"] and ex["reported"]
    assert not ex["cumulative"] and monthly["as_of"] == ex["data_as_of"] == "2026-10-30"
    assert monthly["special_funds"]["funds"] and all(f["rows"] for f in monthly["special_funds"]["funds"])
    w = monthly["warnings"]
    assert w["by_group"]["rows"] and w["by_region"]["rows"] and w["open_at_end_by_group"] and w["escalations"]
    assert monthly["inquiries"]["total"]["raised"] > 0
    assert monthly["freshness"]["sources"] and monthly["freshness"]["newest_data_date"] == "2026-10-30"


def test_execution_equals_summary_and_drilldown(client: TestClient, monthly: dict[str, Any]) -> None:
    ex = monthly["execution"]
    summary = ok(client, "/v1/summary", year=YEAR, region=PROVINCE)
    lines = {b["fund_type"]: b for b in summary["budgets"]}
    figures = ("budget", "paid", "execution_rate")
    for row in ex["fund_types"]:
        assert pick(row, *figures) == pick(lines[row["key"]]["measures"], *figures), row["key"]
        assert row["time_progress"] == summary["total"]["time_progress"]
    assert pick(ex["total"], *figures) == pick(summary["total"]["measures"], *figures)
    assert {r["key"] for r in ex["fund_types"]} == {
        k
        for k, b in lines.items()
        if oracle.fen(b["measures"]["budget"]) or oracle.fen(b["measures"]["paid"])
    }
    by_region = ok(client, "/v1/drilldown", year=YEAR, region=PROVINCE, by="region", limit=500)
    assert [(r["key"], pick(r, *figures)) for r in ex["regions"]] == [
        (r["key"], pick(r["measures"], *figures)) for r in by_region["rows"]
    ]
    by_department = ok(
        client, "/v1/drilldown", year=YEAR, region=PROVINCE, by="department", own_level="true", limit=500
    )
    api = {r["key"]: pick(r["measures"], *figures) for r in by_department["rows"]}
    assert {r["key"]: pick(r, *figures) for r in ex["departments"]} == api
    budgets = [oracle.fen(r["budget"]) for r in ex["departments"]]
    assert budgets == sorted(budgets, reverse=True)
    gap = Decimal(ex["total"]["execution_rate"]) - Decimal(ex["total"]["time_progress"])
    assert Decimal(ex["total"]["gap_points"]) == (gap * 100).quantize(Decimal("0.01"))


def test_warnings_equal_the_ledgers_statistics(client: TestClient, monthly: dict[str, Any]) -> None:
    w = monthly["warnings"]
    raised = {"region": PROVINCE, "occurred_from": "2026-10-01", "occurred_to": "2026-10-31"}
    assert w["by_group"] == ok(client, "/v1/warnings/stats", by="group", **raised)
    assert w["by_region"] == ok(client, "/v1/warnings/stats", by="region", **raised)
    escalations = ok(client, "/v1/warnings/escalations", month=PERIOD, region=PROVINCE)
    assert w["escalation_month"] == PERIOD
    assert [(e["region"], e["months"], e["oldest_id"], e["oldest_amount"]) for e in w["escalations"]] == [
        (e["region"], e["months"], e["oldest"]["id"], e["oldest"]["amount"]) for e in escalations["rows"]
    ]
    # nothing in the demo's ledger is closed: every warning that occurred by the month's end is still open
    everything = ok(client, "/v1/warnings/stats", by="group", region=PROVINCE, occurred_to="2026-10-31")
    assert w["open_at_end"]["count"] == everything["total"]["count"]
    assert w["open_at_end"]["amount"] == everything["total"]["amount"]


def test_special_funds_equal_their_flow(client: TestClient, monthly: dict[str, Any]) -> None:
    for fund in monthly["special_funds"]["funds"]:
        code = fund["fund"]["code"]
        flow = ok(client, f"/v1/special-funds/{code}/flow", year=YEAR, region=PROVINCE, limit=500)
        assert fund["levels"] == flow["levels"], code
        rows = {r["region"]: r for r in flow["rows"]}
        assert fund["rows"] and all(r == rows[r["region"]] for r in fund["rows"]), code
        assert {r["region"] for r in fund["rows"]} <= {PROVINCE} | {
            r["key"] for r in monthly["execution"]["regions"]
        }
        assert sum(lag["regions"] for lag in fund["lags"]) == flow["row_count"]


def test_inquiries_counted_from_their_steps(monthly: dict[str, Any]) -> None:
    holidays = sum(chinese_calendar.is_workday(date(2026, 9, 24) + timedelta(days=n)) for n in range(1, 16))
    assert holidays == 5  # 28-30 Sep, 8-9 Oct: Mid-Autumn (25 Sep) and National Day (1-7 Oct) between
    by_key = {r["key"]: r for r in monthly["inquiries"]["regions"]}
    counts = (
        "raised",
        "answered",
        "accepted",
        "returned",
        "overdue",
        "answer_days_median",
        "answer_days_p90",
    )
    assert pick(by_key[PROVINCE], *counts) == dict(zip(counts, (1, 3, 1, 1, 0, 2, 5), strict=True))
    assert by_key[PROVINCE]["own_level"]
    assert pick(by_key[ZHENGZHOU], *counts) == dict(zip(counts, (2, 0, 0, 0, 1, None, None), strict=True))
    assert pick(monthly["inquiries"]["total"], *counts) == dict(
        zip(counts, (3, 3, 1, 1, 1, 2, 5), strict=True)
    )
    assert len(monthly["inquiries"]["regions"]) == 1 + len(monthly["execution"]["regions"]) - 1


# --- past periods: paid by the as-of day ------------------------------------------------------------


def test_a_past_week_counts_what_was_paid_by_its_last_day(client: TestClient, warehouse: Engine) -> None:
    report = ok(client, "/v1/reports", period="2026-W20", format="json")
    ex = report["execution"]
    assert report["as_of"] == ex["as_of"] == "2026-05-17" and ex["cumulative"]
    w = oracle.read(warehouse)
    paid = [
        p
        for p in w.payments
        if p["fiscal_year"] == YEAR and date.fromisoformat(str(p["vou_date"])[:10]) <= date(2026, 5, 17)
    ]
    by_fund: dict[str, int] = defaultdict(int)
    by_department: dict[str, int] = defaultdict(int)
    by_branch: dict[str, int] = defaultdict(int)
    children = {c for c, parent in w.parent.items() if parent == PROVINCE}
    branch = {code: c for c in children for code in w.subtree(c)} | {PROVINCE: PROVINCE}
    for p in paid:
        by_fund[p["fund_type_code"]] += p["pay_amt_fen"]
        by_branch[branch[p["mof_div_code"]]] += p["pay_amt_fen"]
        if p["mof_div_code"] == PROVINCE and p["dept_code"] is not None:
            by_department[f"{PROVINCE}:{p['dept_code']}"] += p["pay_amt_fen"]
    assert {r["key"]: oracle.fen(r["paid"]) for r in ex["fund_types"]} == dict(by_fund)
    assert oracle.fen(ex["total"]["paid"]) == sum(p["pay_amt_fen"] for p in paid)
    assert {r["key"]: oracle.fen(r["paid"]) for r in ex["regions"]} == {
        k: by_branch.get(k, 0) for k in (r["key"] for r in ex["regions"])
    }
    assert {r["key"]: oracle.fen(r["paid"]) for r in ex["departments"]} == {
        r["key"]: by_department.get(r["key"], 0) for r in ex["departments"]
    }
    progress = Decimal(date(2026, 5, 17).timetuple().tm_yday) / 365
    assert ex["time_progress"] == str(progress.quantize(Decimal("0.0001")))


def test_a_past_quarter_sums_the_api_months(client: TestClient) -> None:
    report = ok(client, "/v1/reports", period="2026-Q2", format="json")
    assert report["as_of"] == "2026-06-30"
    for row in report["execution"]["fund_types"]:
        months = ok(client, "/v1/drilldown", year=YEAR, by="month", fund_type=row["key"])["rows"]
        assert oracle.fen(row["paid"]) == sum(
            oracle.fen(m["measures"]["paid"]) for m in months if m["key"] <= "06"
        )


# --- periods and scope ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text_", "kind", "first", "last"),
    [
        ("2025-W14", "week", date(2025, 3, 31), date(2025, 4, 6)),
        ("2026-W01", "week", date(2025, 12, 29), date(2026, 1, 4)),
        ("2026-W53", "week", date(2026, 12, 28), date(2027, 1, 3)),
        ("2025-03", "month", date(2025, 3, 1), date(2025, 3, 31)),
        ("2024-02", "month", date(2024, 2, 1), date(2024, 2, 29)),
        ("2025-Q1", "quarter", date(2025, 1, 1), date(2025, 3, 31)),
        ("2025-Q4", "quarter", date(2025, 10, 1), date(2025, 12, 31)),
        ("2025", "year", date(2025, 1, 1), date(2025, 12, 31)),
    ],
)
def test_periods_parse(text_: str, kind: str, first: date, last: date) -> None:
    period = parse_period(text_)
    assert (period.kind.value, period.first, period.last) == (kind, first, last)


def test_every_kind_of_period_answers(client: TestClient) -> None:
    for period in ("2026-W44", "2026-Q3", "2025"):
        report = ok(client, "/v1/reports", period=period, format="json")
        assert report["period"]["label"] == period
        assert report["execution"]["fund_types"] and report["warnings"]["by_group"]["rows"]
    assert ok(client, "/v1/reports", period="2025", format="json")["as_of"] == "2025-12-31"


@pytest.mark.parametrize(
    ("period", "status"),
    [("2025-13", 400), ("2025-00", 400), ("2025-W53", 400), ("2025-W00", 400), ("1900", 400),
     ("March", 422), ("2025-3", 422), ("2025-Q5", 422), ("2025-W1", 422), ("", 422)],
)  # fmt: skip
def test_a_bad_period_names_the_parameter(client: TestClient, period: str, status: int) -> None:
    r = client.get("/v1/reports", params={"period": period})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "period" in r.json()["detail"]


def test_scope_holds(warehouse: Engine) -> None:
    with api_client(warehouse, region=ZHENGZHOU) as city:
        own = ok(city, "/v1/reports", period=PERIOD, format="json")
        assert own["region"] == ZHENGZHOU
        assert {r["key"] for r in own["execution"]["regions"]} <= oracle.read(warehouse).subtree(ZHENGZHOU)
        for foreign in (KAIFENG, PROVINCE, "999999999"):
            r = city.get("/v1/reports", params={"period": PERIOD, "region": foreign})
            assert r.status_code == 404, (foreign, r.text)
    with api_client(warehouse, body="audit") as audit:  # an oversight body sees its own body's inquiries
        assert ok(audit, "/v1/reports", period=PERIOD, format="json")["inquiries"]["total"]["raised"] == 0
    with api_client(warehouse, body="admin", region=None) as admin:
        assert admin.get("/v1/reports", params={"period": PERIOD}).status_code == 403


# --- the two renderings --------------------------------------------------------------------------------


def test_html_is_one_offline_page(client: TestClient, monthly: dict[str, Any]) -> None:
    r = client.get("/v1/reports", params={"period": PERIOD})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    for marker in (
        'id="execution"',
        'id="special-funds"',
        'id="warnings"',
        'id="inquiries"',
        'id="freshness"',
    ):
        assert marker in page
    assert page.count("<svg") >= 4
    for external in ('src="http', "src='http", 'href="http', "url(http", "@import", "<script", "<link"):
        assert external not in page, external
    total = monthly["execution"]["total"]["paid"]
    assert f"{int(total.split('.')[0]):,}.{total.split('.')[1]}" in page  # 1,513,753,924.85
    assert monthly["region_name"] in page


def test_xlsx_holds_the_json_figures_as_numbers(client: TestClient, monthly: dict[str, Any]) -> None:
    r = client.get("/v1/reports", params={"period": PERIOD, "format": "xlsx"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert "attachment" in r.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == list(SHEETS) and len(SHEETS) == 6  # a cover and one sheet per section
    for sheet in book.worksheets[1:]:
        assert sheet.freeze_panes == "A2"
    cover = {row[0].value: row[1].value for row in book[SHEETS[0]].iter_rows(min_row=1)}
    assert cover["期间 Period"] == PERIOD and cover["地区 Region"] == PROVINCE

    def rows(sheet: str) -> list[dict[str, Any]]:
        values = list(book[sheet].iter_rows(values_only=True))
        return [dict(zip(values[0], v, strict=True)) for v in values[1:]]

    def same(cell: Any, amount: str | None) -> bool:
        if amount is None:
            return cell is None
        return isinstance(cell, int | float) and Decimal(repr(cell)) == Decimal(amount)

    execution = rows(SHEETS[1])
    json_rows = {("fund_type", r["key"]): r for r in monthly["execution"]["fund_types"]}
    json_rows |= {("region", r["key"]): r for r in monthly["execution"]["regions"]}
    json_rows |= {("department", r["key"]): r for r in monthly["execution"]["departments"]}
    json_rows[("total", None)] = monthly["execution"]["total"]
    checked = 0
    for row in execution:
        if row["表 Table"] == "reported":
            continue
        expected = json_rows[(row["表 Table"], row["代码 Key"])]
        assert same(row["指标数 Budget"], expected["budget"]) and same(row["支出数 Paid"], expected["paid"])
        assert same(row["执行率 Rate"], expected["execution_rate"])
        checked += 1
    assert checked == len(json_rows)
    sheet = book[SHEETS[1]]
    assert sheet.cell(row=2, column=5).number_format == "#,##0.00"
    assert sheet.cell(row=2, column=7).number_format == "0.00%"
    groups = {r["代码 Key"]: r for r in rows(SHEETS[3]) if r["表 Table"] == "raised_by_group"}
    for s in monthly["warnings"]["by_group"]["rows"]:
        assert groups[s["key"]]["数量 Count"] == s["count"] and same(
            groups[s["key"]]["金额 Amount"], s["amount"]
        )
    levels = [r for r in rows(SHEETS[2]) if r["表 Table"] == "level"]
    expected_levels = [lv for f in monthly["special_funds"]["funds"] for lv in f["levels"]]
    assert [r["支出 Paid"] for r in levels] and all(
        same(r["支出 Paid"], lv["paid"]) and same(r["接收 Received"], lv["received"])
        for r, lv in zip(levels, expected_levels, strict=True)
    )
    total = [r for r in rows(SHEETS[4]) if r["地区 Region"] is None][0]
    assert total["提出 Raised"] == monthly["inquiries"]["total"]["raised"]


# --- the command ---------------------------------------------------------------------------------------


def test_the_command_writes_html_and_xlsx(demo_engine: Engine, tmp_path: Path) -> None:
    url = demo_engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    for fmt in ("html", "xlsx"):
        out = tmp_path / f"report.{fmt}"
        result = runner.invoke(
            app,
            ["report", "--period", PERIOD, "--region", ZHENGZHOU, "--format", fmt, "--out", str(out)],
            env={"OVERSIGHT_DATABASE_URL": url, "COLUMNS": "200"},
        )
        assert result.exit_code == 0, result.output
        assert str(out) in result.output and " s" in result.output
        assert out.stat().st_size > 5_000
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert openpyxl.load_workbook(tmp_path / "report.xlsx").sheetnames == list(SHEETS)
    bad = runner.invoke(
        app, ["report", "--period", "2026-13", "--region", ZHENGZHOU], env={"OVERSIGHT_DATABASE_URL": url}
    )
    assert bad.exit_code == 2 and "period" in bad.output


# --- Chromium --------------------------------------------------------------------------------------------


def png_summary(path: Path, rows: int = 500) -> tuple[int, int, int, float]:
    """Width, height, the distinct colours of the first ``rows`` rows and their share of non-white pixels,
    read with zlib alone (8-bit RGB or RGBA, not interlaced: what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    channels = 4 if colour == 6 else 3
    stride = width * channels
    raw = zlib.decompressobj().decompress(b"".join(chunks), (stride + 1) * rows)
    previous = bytearray(stride)
    colours: set[bytes] = set()
    inked = 0
    for y in range(min(rows, height)):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        for x in range(0, stride, channels):
            pixel = bytes(line[x : x + 3])
            colours.add(pixel)
            inked += pixel != b"\xff\xff\xff"
        previous = line
    return width, height, len(colours), inked / (width * min(rows, height))


def test_chromium_draws_the_page(client: TestClient, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        service_unavailable(f"Chromium ({CHROMIUM})", "not installed")
    page = tmp_path / "report.html"
    page.write_bytes(client.get("/v1/reports", params={"period": PERIOD}).content)
    shot = tmp_path / "report.png"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,2000",
        f"--screenshot={shot}",
        f"file://{page}",
    ]
    done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert shot.exists(), done.stderr.decode(errors="replace")[-2000:]
    print(f"\nscreenshot of the monthly report: {shot}")
    width, height, colours, inked = png_summary(shot)
    assert (width, height) == (1280, 2000)
    assert colours > 16 and inked > 0.02, (colours, inked)


def test_report_cells_never_become_formulas_nor_fail_on_control_characters() -> None:
    """Names come from the source data: one starting with '=' must stay text in Excel, and a control
    character an XLSX cannot hold must not break the whole report."""
    from openpyxl import Workbook

    from api.reports.xlsx import _cell

    ws = Workbook(write_only=True).create_sheet()
    formula = _cell(ws, '=HYPERLINK("http://x.example","点击")')
    assert formula.data_type == "s" and formula.value.startswith("=HYPERLINK")
    odd = _cell(ws, "a\x0bb")
    assert odd.value == "a\ufffdb"
    assert _cell(ws, 12.5).data_type == "n"


def test_a_week_ending_in_the_next_year_reports_its_own_year(demo_engine: Engine) -> None:
    from api.reports.period import parse_period

    week = parse_period("2026-W53")
    assert week.last.year == 2027  # ends on 2027-01-03 ...
    with api_client(demo_engine, body="congress", region="410000000") as client:
        r = client.get("/v1/reports", params={"period": "2026-W53", "format": "json"})
    assert r.status_code == 200, r.text
    assert r.json()["year"] == 2026  # ... but is about fiscal 2026
