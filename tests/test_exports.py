"""Exports (?format=csv|xlsx) on SQLite and PostgreSQL: each export's manifest sums equal the JSON's figures
of the same query, it verifies and a tampered one does not, persons stay masked without clearance and
reason, a jurisdiction's export holds nothing outside it, the whole query is exported whatever the page
size, bad filters answer as JSON does, and every export is audited before its first byte leaves."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api.exports import Column, ExportFormat, ExportMismatch, Manifest, verify_export
from api.exports import writers as export_writers
from connectors.delivery import config as delivery_config
from connectors.delivery.config import FeedbackConfig
from connectors.ingest.convert import format_amount, parse_amount
from schema.audit import AuditLog
from schema.models import BgtInfo
from security.audit import AuditSettings, AuditWriteError, AuditWriter
from tests import oracle
from tests.auth import PROVINCE, api_client, audit_key, keys_dir, token
from tests.factories import indicator, payment
from tests.monitor_kit import load

COUNTY = "410102000"
YEAR = 2025
REASON = {"X-Reveal-Reason": "subsidy case 2025-17"}
BOM = b"\xef\xbb\xbf"


# --- helpers ------------------------------------------------------------------------------------------


def export(
    client: TestClient, path: str, params: dict[str, Any], fmt: str = "csv", **kw: Any
) -> tuple[bytes, Manifest]:
    """An export of ``path``, checked to be a verifiable zip, with its manifest."""
    r = client.get(path, params={**params, "format": fmt}, **kw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    name = path.strip("/").split("/")[1] if "/trace" not in path else "trace"
    assert re.fullmatch(
        rf'attachment; filename="{name}-\d{{4}}-\d\d-\d\dT\d{{6}}Z\.zip"', r.headers["content-disposition"]
    ), r.headers["content-disposition"]
    return r.content, verify_export(r.content)


def data_file(zipped: bytes) -> tuple[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        manifest = orjson.loads(z.read("manifest.json"))
        return manifest["file"], z.read(manifest["file"])


def csv_rows(zipped: bytes) -> list[dict[str, str]]:
    name, data = data_file(zipped)
    assert name.endswith(".csv") and data.startswith(BOM)
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def xlsx_rows(zipped: bytes) -> list[dict[str, Any]]:
    """Every data row of every sheet, as header → cell (value and number format)."""
    from openpyxl import load_workbook

    name, data = data_file(zipped)
    assert name.endswith(".xlsx")
    book = load_workbook(io.BytesIO(data), read_only=True)
    out = []
    for sheet in book.worksheets:
        lines = sheet.iter_rows()
        header = [c.value for c in next(lines)]
        out += [dict(zip(header, line, strict=False)) for line in lines]
    book.close()
    return out


def pages(client: TestClient, path: str, params: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = client.get(path, params={**params, "limit": 500, **({"cursor": cursor} if cursor else {})}, **kw)
        assert r.status_code == 200, r.text
        body = r.json()
        rows += body["rows"]
        cursor = body["next_cursor"]
        if not cursor:
            return rows


def as_csv(shown: dict[str, Any]) -> dict[str, str]:
    """A JSON row as its export's CSV line shows it: nested objects flattened with their prefix (``payee``
    → ``payee_…``), nothing as empty, flags as true/false, a text that could start a formula quoted."""
    flat: dict[str, Any] = {}
    for key, value in shown.items():
        if isinstance(value, dict):
            flat.update({k if k.startswith(f"{key}_") else f"{key}_{k}": v for k, v in value.items()})
        else:
            flat[key] = value

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str) and value[:1] in ("=", "+", "@", "\t", "\r"):
            return "'" + value
        return str(value)

    return {k: cell(v) for k, v in flat.items()}


def total(amounts: list[str]) -> str:
    return format_amount(sum(parse_amount(a) for a in amounts))


# --- payments -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_payments_export_is_every_page_of_the_json_with_its_sum(client: TestClient, fmt: str) -> None:
    params = {"year": YEAR, "sort": "-pay_amt"}
    listed = pages(client, "/v1/payments", params)
    assert len(listed) > 500, "more than one page, or the test proves nothing"
    _, manifest = export(client, "/v1/payments", {**params, "limit": 1, "cursor": "ignored"}, fmt)
    assert manifest.rows == len(listed)  # no page limit: limit=1 still gives every row
    assert manifest.sums == {"amount": total([p["amount"] for p in listed])}
    assert manifest.export == "payments" and manifest.file == f"payments.{fmt}"
    assert manifest.query.path == "/v1/payments"
    assert manifest.query.params == {"year": str(YEAR), "sort": "-pay_amt"}  # not format, cursor, limit
    assert manifest.scope.region == PROVINCE and manifest.scope.pii is False
    assert manifest.data_as_of is not None and datetime.fromisoformat(manifest.data_as_of).tzinfo is not None
    assert datetime.fromisoformat(manifest.generated_at).utcoffset() is not None


def test_the_csv_is_the_json_rows_in_order_and_excel_readable(client: TestClient) -> None:
    params = {"year": YEAR, "q": "公司", "sort": "vou_date"}
    listed = pages(client, "/v1/payments", params)
    zipped, manifest = export(client, "/v1/payments", params)
    name, data = data_file(zipped)
    assert (
        data.startswith(BOM)
        and data.count(b"\r\n") == len(listed) + 1
        and b"\n" not in data.replace(b"\r\n", b"")
    )
    rows = csv_rows(zipped)
    assert list(rows[0]) == [c.name for c in manifest.columns]
    assert [r["pay_cert_id"] for r in rows] == [p["pay_cert_id"] for p in listed]
    assert rows == [as_csv(shown) for shown in listed]  # every field, as the JSON shows it
    types = {c.name: c.type for c in manifest.columns}
    assert types["amount"] == "money" and types["vou_date"] == "date" and types["fiscal_year"] == "int"


def test_xlsx_amounts_are_numbers_equal_to_the_csv(client: TestClient) -> None:
    params = {"year": YEAR, "region": "410100000"}
    csv_zip, _ = export(client, "/v1/payments", params, "csv")
    xlsx_zip, manifest = export(client, "/v1/payments", params, "xlsx")
    as_csv, as_xlsx = csv_rows(csv_zip), xlsx_rows(xlsx_zip)
    assert len(as_csv) == len(as_xlsx) == manifest.rows > 0
    for text_row, cells in zip(as_csv, as_xlsx, strict=True):
        amount = cells["amount"]
        assert isinstance(amount.value, int | float) and not isinstance(amount.value, bool)
        assert amount.number_format == "#,##0.00"
        assert round(Decimal(repr(amount.value)), 2) == Decimal(text_row["amount"])
        assert isinstance(cells["vou_date"].value, datetime)  # a date cell (openpyxl reads it as datetime)
        assert cells["vou_date"].value.date() == date.fromisoformat(text_row["vou_date"])
        assert cells["pay_cert_id"].value == text_row["pay_cert_id"]
        assert cells["payee_is_person"].value is (text_row["payee_is_person"] == "true")


def test_a_tampered_export_fails_verification_naming_what_differs(client: TestClient) -> None:
    zipped, _ = export(client, "/v1/payments", {"year": YEAR, "region": COUNTY})

    def rebuilt(change_data: Any = None, change_manifest: Any = None) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(zipped)) as old, zipfile.ZipFile(out, "w") as new:
            for item in old.infolist():
                content = old.read(item)
                if item.filename == "manifest.json" and change_manifest:
                    content = orjson.dumps(change_manifest(orjson.loads(content)))
                elif item.filename != "manifest.json" and change_data:
                    content = change_data(content)
                new.writestr(item.filename, content)
        return out.getvalue()

    verify_export(rebuilt())  # rebuilding alone changes nothing that counts

    def one_byte(data: bytes) -> bytes:
        at = data.index(b"\r\n") + 5  # inside the first data row
        return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]

    with pytest.raises(ExportMismatch) as caught:
        verify_export(rebuilt(change_data=one_byte))
    assert caught.value.field == "sha256"
    with pytest.raises(ExportMismatch) as caught:
        verify_export(rebuilt(change_manifest=lambda m: {**m, "rows": m["rows"] + 1}))
    assert caught.value.field == "rows"
    with pytest.raises(ExportMismatch) as caught:
        verify_export(rebuilt(change_manifest=lambda m: {**m, "sums": {"amount": "0.01"}}))
    assert caught.value.field == "sums.amount"
    with pytest.raises(ExportMismatch) as caught:
        verify_export(zipped[: len(zipped) // 2])
    assert caught.value.field == "zip"


def _person_values(rows: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """Unmasked persons' names, and their ID and account numbers, as the revealed JSON shows them."""
    persons = [r["payee"] for r in rows if r["payee"]["is_person"]]
    names = {p["name"] for p in persons if p["name"] and "*" not in p["name"]}
    numbers = {v for p in persons for v in (p["iden_no"], p["account_no"]) if v and "*" not in v}
    return names, numbers


def _found(zipped: bytes, names: set[str], numbers: set[str]) -> int:
    """How many of the persons' values an export's data holds: a number anywhere, a name as a cell."""
    name, data = data_file(zipped)
    if name.endswith(".csv"):
        cells = {v for row in csv_rows(zipped) for v in row.values()}
        text = data.decode("utf-8-sig")
    else:
        cells = {str(c.value) for row in xlsx_rows(zipped) for c in row.values() if c.value is not None}
        text = " ".join(sorted(cells))
    return sum(n in text for n in numbers) + len(cells & names)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_persons_stay_masked_without_clearance_and_reason(demo_engine: Engine, fmt: str) -> None:
    params = {"year": YEAR, "payee_type": "4"}
    with api_client(demo_engine, body="audit", pii=True) as cleared:
        revealed = pages(cleared, "/v1/payments", params, headers=REASON)
        names, numbers = _person_values(revealed)
        assert names and numbers, "the demo pays persons"
        shown, _ = export(cleared, "/v1/payments", params, fmt, headers=REASON)
        assert _found(shown, names, numbers) == len(names) + len(numbers)
        assert verify_export(shown).scope.pii is True
        unstated, manifest = export(cleared, "/v1/payments", params, fmt)  # clearance without a reason
        assert _found(unstated, names, numbers) == 0 and manifest.scope.pii is False
    with api_client(demo_engine, body="audit", pii=False) as plain:
        masked, manifest = export(plain, "/v1/payments", params, fmt, headers=REASON)
        assert _found(masked, names, numbers) == 0 and manifest.scope.pii is False
        assert manifest.rows == len(revealed)


def test_a_county_export_holds_nothing_outside_its_subtree(
    demo_engine: Engine, warehouse: oracle.Warehouse
) -> None:
    inside = warehouse.subtree(COUNTY)
    expected = [p for p in warehouse.payments if p["fiscal_year"] == YEAR and p["mof_div_code"] in inside]
    with api_client(demo_engine, body="discipline", region=COUNTY) as c:
        zipped, manifest = export(c, "/v1/payments", {"year": YEAR})
        rows = csv_rows(zipped)
        assert rows and all(r["region"] in inside for r in rows)
        assert len(rows) == len(expected) == manifest.rows
        assert manifest.sums["amount"] == format_amount(sum(p["pay_amt_fen"] for p in expected))
        assert manifest.scope.region == COUNTY
        drill, _ = export(c, "/v1/drilldown", {"year": YEAR, "by": "region"})
        assert all(r["key"] in inside for r in csv_rows(drill) if r["key"])
        warned, _ = export(c, "/v1/warnings", {})
        assert all(r["region"] in inside for r in csv_rows(warned))


def _zip(fmt: str, rows: list[Any], columns: list[Column]) -> bytes:
    def manifest(tally: Any, file: str) -> Manifest:
        return Manifest.model_validate(
            {
                "export": "t",
                "query": {"path": "/t", "params": {}},
                "scope": {"region": None, "pii": False},
                "generated_at": datetime.now(UTC).isoformat(),
                "data_as_of": None,
                "rows": tally.rows,
                "sums": {k: format_amount(v) for k, v in tally.sums.items()},
                "columns": [{"name": c.name, "type": c.type} for c in columns],
                "file": file,
                "bytes": tally.bytes,
                "sha256": tally.sha256.hexdigest(),
            }
        )

    return b"".join(export_writers.zip_export("t", ExportFormat(fmt), columns, rows, manifest))


def test_the_writers_keep_formulas_out_and_continue_on_new_sheets(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ("text", "money", "int", "date", "datetime", "bool")
    columns = [Column(n, n, attrgetter(n), n) for n in names]  # type: ignore[arg-type]
    values = [
        ('=HYPERLINK("x")', "-12.30", -3, date(2025, 1, 2), datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), True),
        ("@SUM(A1)", "0.07", 4, None, None, False),
        ('plain, with "quotes"\nand a line', None, None, date(2025, 12, 31), None, None),
    ] * 3
    rows = [SimpleNamespace(**dict(zip(names, v, strict=True))) for v in values]
    text = data_file(_zip("csv", rows, columns))[1].decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == list(names) and len(parsed) == 10
    assert parsed[1] == [
        '\'=HYPERLINK("x")',
        "-12.30",
        "-3",
        "2025-01-02",
        "2025-01-02T03:04:05+00:00",
        "true",
    ]
    assert parsed[2] == ["'@SUM(A1)", "0.07", "4", "", "", "false"]
    assert parsed[3][0] == 'plain, with "quotes"\nand a line' and parsed[3][1:] == [
        "",
        "",
        "2025-12-31",
        "",
        "",
    ]
    assert verify_export(_zip("csv", rows, columns)).sums == {"money": "-36.69"}
    monkeypatch.setattr(export_writers, "SHEET_ROWS", 4)  # 9 rows: sheets of 4, 4 and 1
    zipped = _zip("xlsx", rows, columns)
    assert verify_export(zipped).sums == {"money": "-36.69"}
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data_file(zipped)[1]))
    assert book.sheetnames == ["t", "t (2)", "t (3)"]
    first = book["t"]
    assert first["A2"].value == '=HYPERLINK("x")' and first["A2"].data_type == "s"  # text, not a formula
    assert first["B2"].value == -12.3 and first["B2"].number_format == "#,##0.00"
    assert first["E2"].value == datetime(2025, 1, 2, 3, 4, 5)  # UTC, as Excel has no time zones
    assert first["F2"].value is True and first["C2"].value == -3
    assert [c.value for c in book["t (3)"][1]] == list(names)


# --- breakdowns, traces, warnings ---------------------------------------------------------------------

MONEY = ("budget", "transfer_in", "transfer_out", "paid", "plan")


@pytest.mark.parametrize(
    "params",
    [
        {"by": "region"},
        {"by": "department", "sort": "-paid"},
        {"by": "exp_func", "level": 2, "fund_type": "1"},
        {"by": "payee", "region": "410100000"},  # indicators fall into no row: the unattributed row
    ],
)
def test_a_drilldown_export_sums_to_the_json_total(client: TestClient, params: dict[str, Any]) -> None:
    asked = {"year": YEAR, **params}
    answer = client.get("/v1/drilldown", params={**asked, "limit": 500}).json()
    zipped, manifest = export(client, "/v1/drilldown", {**asked, "limit": 3})
    assert manifest.sums == {m: answer["total"][m] for m in MONEY}
    rows = csv_rows(zipped)
    listed = [r for r in rows if r["unattributed"] == "false"]
    assert len(listed) == answer["row_count"]
    rest = [r for r in rows if r["unattributed"] == "true"]
    unattributed = answer["unattributed"]
    assert len(rest) == (0 if all(unattributed[m] == "0.00" for m in MONEY) else 1)
    if params["by"] == "payee":
        assert rest and rest[0]["budget"] == unattributed["budget"] != "0.00"
    assert [r["key"] for r in listed[:50]] == [r["key"] for r in answer["rows"][:50]]


def test_a_trace_export_is_one_row_per_node(demo_engine: Engine, client: TestClient) -> None:
    with demo_engine.connect() as conn:
        transfers = conn.execute(
            select(BgtInfo.bgt_id).where(
                BgtInfo.mof_div_code == PROVINCE,
                BgtInfo.rec_div_code.is_not(None),
                BgtInfo.fiscal_year == YEAR,
            )
        ).scalars()
        bgt_id = next(iter(transfers))
    traced = client.get(f"/v1/indicators/{bgt_id}/trace").json()
    totals = traced["totals"]
    assert totals["nodes"] > 2, "a tree, or the test proves little"
    zipped, manifest = export(client, f"/v1/indicators/{bgt_id}/trace", {})
    rows = csv_rows(zipped)
    assert len(rows) == manifest.rows == totals["nodes"]
    assert manifest.sums["paid"] == totals["paid"]
    assert manifest.sums["undistributed"] == totals["undistributed"]
    assert rows[0]["bgt_id"] == bgt_id and rows[0]["depth"] == "0" and rows[0]["parent_bgt_id"] == ""
    assert rows[0]["amount"] == totals["root_amount"]
    depth = {r["bgt_id"]: int(r["depth"]) for r in rows}
    assert all(depth[r["parent_bgt_id"]] == int(r["depth"]) - 1 for r in rows[1:])
    parents = {r["parent_bgt_id"] for r in rows}
    assigned = [r["amount"] for r in rows if r["bgt_id"] not in parents and r["kind"] == "assigned"]
    assert total(assigned) == totals["assigned_leaves"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_warnings_export_sums_the_amounts_of_every_page(client: TestClient, fmt: str) -> None:
    params = {"sort": "amount", "include_cleared": "true"}
    listed = pages(client, "/v1/warnings", params)
    assert listed, "the demo's rules raised warnings"
    zipped, manifest = export(client, "/v1/warnings", {**params, "limit": 2}, fmt)
    assert manifest.rows == len(listed)
    assert manifest.sums == {"amount": total([w["amount"] for w in listed])}
    if fmt == "csv":
        assert csv_rows(zipped) == [as_csv(w) for w in listed]


# --- inquiries and the audit log (fresh warehouses: these write) ----------------------------------------


def test_an_inquiries_export_lists_what_the_json_lists(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery_config, "current_config", lambda: FeedbackConfig())
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[payment("P1", "60000.00"), payment("P2", "500.00")],
    )
    region = "410100000"
    with api_client(engine, body="congress", region=region) as c:
        c.headers["Authorization"] = f"Bearer {token('congress', region, org='人大', sub='c1')}"
        for object_id in ("P1", "P2", "P1"):
            body = {"object_type": "payment", "object_id": object_id, "subject": "用途", "question": "请说明"}
            assert c.post("/v1/inquiries", json=body).status_code == 201
        listed = pages(c, "/v1/inquiries", {})
        for fmt in ("csv", "xlsx"):
            zipped, manifest = export(c, "/v1/inquiries", {"limit": 1}, fmt)
            assert manifest.rows == len(listed) == 3 and manifest.sums == {}
        rows = csv_rows(export(c, "/v1/inquiries", {"object_id": "P1"})[0])
        assert [int(r["id"]) for r in rows] == [i["id"] for i in listed if i["object_id"] == "P1"]
        assert all(r["object_link"] == "/v1/payments/P1" for r in rows)


def test_an_audit_export_holds_the_entries_the_json_pages_hold(engine: Engine) -> None:
    with api_client(engine) as c:
        for _ in range(7):
            c.get("/v1/regions")
    with api_client(engine, body="audit_admin", region=None) as admin:
        asked = {"operation": "GET /v1/regions"}
        listed = pages(admin, "/v1/audit", asked)
        assert len(listed) == 7
        zipped, manifest = export(admin, "/v1/audit", {**asked, "limit": 1})
        rows = csv_rows(zipped)
        assert manifest.rows == 7 and [int(r["seq"]) for r in rows] == [e["seq"] for e in listed]
        assert manifest.data_as_of is None  # the log is not loaded data
        assert orjson.loads(rows[0]["parameters"]) == listed[0]["parameters"]
        assert admin.get("/v1/audit", params={"format": "csv", "status": "99"}).status_code == 422
    with api_client(engine, body="congress") as c:
        assert c.get("/v1/audit", params={"format": "csv"}).status_code == 403


def test_every_export_is_audited_with_its_format(demo_engine: Engine, client: TestClient) -> None:
    request_id = f"export-{uuid.uuid4().hex}"
    export(client, "/v1/payments", {"region": COUNTY, "year": YEAR}, headers={"X-Request-ID": request_id})
    with demo_engine.connect() as conn:
        (row,) = conn.execute(select(AuditLog).where(AuditLog.request_id == request_id)).all()
    assert row.operation == "GET /v1/payments" and row.status == 200 and row.result_count is None
    assert orjson.loads(row.parameters) == {"format": "csv", "region": COUNTY, "year": str(YEAR)}


class _Broken(AuditWriter):
    def record_many(self, entries: Any) -> list[int]:
        raise AuditWriteError("the disk is full")


def test_no_log_no_export(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry of a streamed answer is written when its headers arrive; without it, 503 and the rows
    are never read."""
    from api.exports import stream

    read: list[Any] = []

    def exported(*args: Any, **kwargs: Any) -> Iterator[bytes]:
        read.append(args)
        yield b"EXPORTED-ROWS"

    monkeypatch.setattr(stream, "zip_export", exported)
    broken = _Broken(
        engine, settings=AuditSettings(signing_key=keys_dir() / "audit-ed25519.pem"), signing_key=audit_key()
    )
    with api_client(engine, audit=broken) as c:
        r = c.get("/v1/payments", params={"format": "csv"})
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert read == [] and b"EXPORTED-ROWS" not in r.content
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AuditLog)).scalar_one() == 0


def test_the_zip_streams_through_every_middleware_after_its_audit_entry(
    demo_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Driven as a server would: the answer leaves in many body messages (nothing buffers it whole), and
    the audit entry is in the log before the first."""
    monkeypatch.setattr(export_writers, "CHUNK", 16 * 1024)
    app: Any = api_client(demo_engine).app
    request_id = f"stream-{uuid.uuid4().hex}"
    headers = [
        (b"authorization", f"Bearer {token('congress', PROVINCE)}".encode()),
        (b"x-request-id", request_id.encode()),
        (b"host", b"testserver"),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/payments",
        "raw_path": b"/v1/payments",
        "query_string": f"format=csv&year={YEAR}".encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    bodies: list[bytes] = []
    audited_before_first: list[int] = []
    started: list[int] = []

    def entries() -> int:
        with demo_engine.connect() as conn:
            query = select(func.count()).select_from(AuditLog).where(AuditLog.request_id == request_id)
            return int(conn.execute(query).scalar_one())

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.append(message["status"])
        elif message.get("body"):
            if not bodies:
                audited_before_first.append(entries())
            bodies.append(message["body"])

    asyncio.run(app(scope, receive, send))
    assert started == [200]
    assert audited_before_first == [1]
    assert len(bodies) > 3, "streamed in chunks, not gathered"
    verify_export(b"".join(bodies))


# --- errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/payments", {"min_amount": "12.345"}),
        ("/v1/payments", {"date_from": "2025-05-01", "date_to": "2025-01-01"}),
        ("/v1/payments", {"region": "419999999"}),
        ("/v1/payments", {"sort": "nonsense"}),
        ("/v1/drilldown", {"by": "agency", "agency": "001"}),
        ("/v1/drilldown", {"by": "nonsense"}),
        ("/v1/drilldown", {"by": "region", "region": "419999999"}),
        ("/v1/indicators/nope/trace", {}),
        ("/v1/warnings", {"min_amount": "x"}),
        ("/v1/warnings", {"region": "419999999"}),
        ("/v1/inquiries", {"status": "closed"}),
    ],
)
def test_bad_filters_answer_as_json_does(client: TestClient, path: str, params: dict[str, Any]) -> None:
    as_json = client.get(path, params=params)
    assert 400 <= as_json.status_code < 500, as_json.text
    for fmt in ("csv", "xlsx"):
        r = client.get(path, params={**params, "format": fmt})
        assert r.status_code == as_json.status_code
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == as_json.json()["detail"]


def test_a_bad_format_is_a_422_naming_format(client: TestClient) -> None:
    for path in ("/v1/payments", "/v1/drilldown?by=region", "/v1/warnings", "/v1/inquiries"):
        r = client.get(path, params={"format": "pdf"})
        assert r.status_code == 422 and "format" in r.json()["detail"], (path, r.text)


def test_exports_are_never_served_from_the_cache(client: TestClient) -> None:
    params = {"year": YEAR, "region": COUNTY}
    first = client.get("/v1/drilldown", params={**params, "by": "agency", "format": "csv"})
    again = client.get("/v1/drilldown", params={**params, "by": "agency", "format": "csv"})
    assert first.status_code == again.status_code == 200
    assert "x-cache" not in again.headers
    assert verify_export(first.content).generated_at != verify_export(again.content).generated_at
    client.get("/v1/drilldown", params={**params, "by": "agency"})
    assert client.get("/v1/drilldown", params={**params, "by": "agency"}).headers.get("x-cache") == "hit"


def test_rows_of_values_take_plain_columns_only() -> None:
    """A route that streams tuples in column order (payments) reads each value as it is; a column whose
    value is converted on the way (a dict shown as JSON) cannot be, and is refused when defined."""
    from pydantic import BaseModel

    from api.exports import model_columns, positional

    class Plain(BaseModel):
        name: str
        amount: str

    class WithJson(BaseModel):
        name: str
        evidence: dict[str, int]

    columns = positional(model_columns(Plain, money={"amount"}))
    assert [c.get(("a", "1.00")) for c in columns] == ["a", "1.00"]
    with pytest.raises(TypeError, match="evidence"):
        positional(model_columns(WithJson))
