"""Builders of feed batches and readers of the warehouse, for tests that read like the user's question."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, select

from schema.feed import feed_tables

ZHENGZHOU = "410100000"
JINSHUI = "410105000"


def agency(
    code: str, name: str, region: str = ZHENGZHOU, dept: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "agency_code": code,
        "agency_name": name,
        "mof_div_code": region,
        "dept_code": dept or code,
        "update_time": "2025-01-02T09:00:00",
        **extra,
    }


def indicator(
    bgt_id: str, amount: str, region: str = ZHENGZHOU, agency_code: str | None = "001001", **extra: Any
) -> dict[str, Any]:
    row = {
        "bgt_id": bgt_id,
        "mof_div_code": region,
        "fiscal_year": "2025",
        "cor_bgt_doc_no": f"郑财预〔2025〕{bgt_id}号",
        "doc_date": "2025-01-10",
        "agency_code": agency_code,
        "fund_type_code": "1",
        "exp_func_code": "2050203",
        "amount": amount,
        "update_time": "2025-01-10T09:00:00",
    }
    row.update(extra)
    return row


def payment(pay_cert_id: str, amount: str, **extra: Any) -> dict[str, Any]:
    row = {
        "pay_cert_id": pay_cert_id,
        "pay_cert_no": "NO" + pay_cert_id,
        "bgt_id": "B1",
        "fiscal_year": "2025",
        "mof_div_code": ZHENGZHOU,
        "agency_code": "001001",
        "vou_date": "2025-03-04",
        "pay_amt": amount,
        "payee_acct_name": "河南中原建设工程有限公司",
        "payee_acct_no": "6222000011112222",
        "unifsoc_cred_code": "91410100MA44XXXX1A",
        "payee_type": "3",
        "use_des": "购置办公设备",
        "set_mode_code": "1",
        "fund_type_code": "1",
        "exp_func_code": "2050203",
        "update_time": "2025-03-04T10:00:00",
        "is_deleted": "0",
    }
    row.update(extra)
    return row


def write_table(
    folder: Path, table: str, rows: list[dict[str, Any]], fmt: str = "csv", encoding: str = "utf-8"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    header: list[str] = []
    for row in rows:
        header.extend(k for k in row if k not in header)
    path = folder / f"{table}.{fmt}"
    if fmt == "csv":
        with path.open("w", encoding=encoding, newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for row in rows:
                writer.writerow(["" if row.get(h) is None else row.get(h) for h in header])
    elif fmt == "jsonl":
        with path.open("wb") as fh:
            for row in rows:
                fh.write(orjson.dumps({k: v for k, v in row.items()}) + b"\n")
    else:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet()
        ws.append(header)
        for row in rows:
            ws.append([row.get(h) for h in header])
        wb.save(path)
    return path


def write_manifest(folder: Path, *, source: str = "test", encoding: str | None = None) -> None:
    tables = {}
    for path in sorted(folder.iterdir()):
        table, _, fmt = path.name.partition(".")
        if table in feed_tables():
            with path.open("rb") as fh:
                rows = sum(1 for line in fh if line.strip()) - (1 if fmt == "csv" else 0)
            tables[table] = {"rows": rows, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    manifest: dict[str, Any] = {
        "source": source,
        "extracted_at": "2025-12-31T18:00:00+08:00",
        "tables": tables,
    }
    if encoding:
        manifest["encoding"] = encoding
    (folder / "manifest.json").write_bytes(orjson.dumps(manifest))


def warehouse_snapshot(engine: Engine, *, with_lines: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every feed table's business content, sorted by key: what 'the same warehouse' means in tests.

    Leaves out which run wrote a row and when (they differ between a clean and a resumed load)."""
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name, ft in feed_tables().items():
            cols = [ft.table.c[c.column] for c in ft.columns] + [ft.table.c[d] for d in ft.derived]
            cols.append(ft.table.c.src_hash)
            if with_lines:
                cols.append(ft.table.c.src_line)
            rows = conn.execute(select(*cols).where(ft.table.c.src_name != "reference")).all()
            snapshot[name] = sorted((tuple(r) for r in rows), key=repr)
    return snapshot
