"""Writing the canonical feed format (spec/feeds.md): one file per table, CSV, JSONL or XLSX.

Every value reaches a writer as text or None (amounts already formatted from integer fen), so the three
formats carry the same records: CSV writes None as an empty field, JSONL as null, XLSX as an empty cell.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from demo.scales import XLSX_MAX_ROWS

_SOFT = ("is_deleted", "update_time")

#: table → its feed fields, in the order of feeds.md (is_deleted / update_time last, except mof_div)
FIELDS: dict[str, tuple[str, ...]] = {
    "mof_div": ("mof_div_code", "mof_div_name", "parent_code", "level_no"),
    "mof_dep": ("mof_dep_code", "mof_dep_name", "mof_div_code", *_SOFT),
    "agency": (
        "agency_code",
        "agency_name",
        "mof_div_code",
        "dept_code",
        "unifsoc_cred_code",
        "agency_type",
        *_SOFT,
    ),
    "spe_fund": (
        "spe_fund_code",
        "spe_fund_name",
        "mof_div_code",
        "manage_mof_dep_code",
        "fund_type_code",
        "policy_doc_no",
        "start_year",
        "end_year",
        *_SOFT,
    ),
    "spe_fund_alloc": (
        "alloc_id",
        "spe_fund_code",
        "fiscal_year",
        "mof_div_code",
        "rec_div_code",
        "agency_code",
        "pro_code",
        "amount",
        "alloc_doc_no",
        "alloc_date",
        *_SOFT,
    ),
    "project": (
        "pro_code",
        "pro_name",
        "mof_div_code",
        "agency_code",
        "pro_kind_code",
        "spe_fund_code",
        "start_year",
        *_SOFT,
    ),
    "ba_bgt_info": (
        "bgt_id",
        "mof_div_code",
        "fiscal_year",
        "cor_bgt_doc_no",
        "bgt_doc_title",
        "doc_date",
        "sup_bgt_doc_no",
        "sup_bgt_id",
        "ori_bgt_id",
        "rec_date",
        "source_type_code",
        "agency_code",
        "rec_div_code",
        "pro_code",
        "spe_fund_code",
        "fund_type_code",
        "bgt_type_code",
        "manage_mof_dep_code",
        "exp_func_code",
        "gov_bgt_eco_code",
        "dep_bgt_eco_code",
        "amount",
        *_SOFT,
    ),
    "bgt_adj": ("adj_id", "bgt_id", "adj_date", "add_amount", "adj_doc_no", "reason", *_SOFT),
    "pay_plan": (
        "plan_id",
        "bgt_id",
        "fiscal_year",
        "plan_month",
        "plan_amt",
        "mof_div_code",
        "agency_code",
        *_SOFT,
    ),
    "pay_voucher": (
        "pay_cert_id",
        "pay_cert_no",
        "bgt_id",
        "fiscal_year",
        "mof_div_code",
        "agency_code",
        "pro_code",
        "vou_date",
        "xpay_date",
        "pay_amt",
        "pay_acct_name",
        "pay_acct_no",
        "pay_acct_bank_name",
        "payee_acct_name",
        "payee_acct_no",
        "payee_acct_bank_name",
        "payee_type",
        "unifsoc_cred_code",
        "iden_no",
        "use_des",
        "set_mode_code",
        "pay_type_code",
        "fund_type_code",
        "exp_func_code",
        "gov_bgt_eco_code",
        "dep_bgt_eco_code",
        "contract_no",
        *_SOFT,
    ),
    "pay_detail": (
        "pay_detail_id",
        "pay_cert_id",
        "payee_acct_name",
        "payee_acct_no",
        "payee_acct_bank_name",
        "pay_amt",
        "xpay_date",
        "per_name",
        "iden_no",
        "corp_name",
        "unifsoc_cred_code",
        "town_code",
        "village_code",
        "pay_month",
        "subsidy_item",
        "tracking_id",
        *_SOFT,
    ),
    "account": (
        "account_no",
        "account_name",
        "bank_name",
        "mof_div_code",
        "agency_code",
        "account_type",
        "opened_on",
        "closed_on",
        "approval_doc_no",
        *_SOFT,
    ),
    "gov_exec": (
        "mof_div_code",
        "fiscal_year",
        "month",
        "fund_type_code",
        "side",
        "subject_code",
        "subject_name",
        "budget_amt",
        "adjusted_amt",
        "exec_amt",
        *_SOFT,
    ),
    "ext_risk": (
        "subject_id_type",
        "subject_id",
        "subject_name",
        "risk_type",
        "source",
        "valid_from",
        "valid_to",
        *_SOFT,
    ),
}

FORMATS = ("csv", "jsonl", "xlsx")
ENCODINGS = ("utf-8", "gb18030")
Row = Sequence[str | None]
Progress = Callable[[str, int, int | None], None]
PROGRESS_EVERY = 10_000


class TableWriter:
    """Streams the rows of one table into ``<dir>/<table>.<fmt>``."""

    def __init__(
        self,
        directory: Path,
        table: str,
        fmt: str,
        encoding: str,
        progress: Progress | None = None,
        expected: int | None = None,
    ) -> None:
        self.table = table
        self.fields = FIELDS[table]
        self.fmt = fmt
        self.path = directory / f"{table}.{fmt}"
        self.rows = 0
        self._progress = progress
        self._expected = expected
        self._fh: Any = None
        self._pending: list[str] = []
        self._write: Callable[[Row], None]
        if fmt == "csv":
            self._fh = self.path.open("w", encoding=encoding, newline="", buffering=1 << 20)
            writer = csv.writer(self._fh, lineterminator="\r\n")
            writer.writerow(self.fields)
            commas = len(self.fields) - 1
            pending = self._pending

            def write_csv(row: Row) -> None:
                # the csv module's output for a row that needs no quoting, joined directly (several times
                # faster); a row with a comma, quote or line break goes through csv.writer itself
                line = ",".join(["" if v is None else v for v in row])
                if line.count(",") == commas and '"' not in line and "\n" not in line and "\r" not in line:
                    pending.append(line)
                    if len(pending) >= 2_000:
                        self._flush()
                else:
                    self._flush()
                    writer.writerow(row)

            self._write = write_csv
        elif fmt == "jsonl":
            self._fh = self.path.open("wb", buffering=1 << 20)
            fields = self.fields
            fh = self._fh

            def write_jsonl(row: Row) -> None:
                fh.write(orjson.dumps(dict(zip(fields, row, strict=True))))
                fh.write(b"\n")

            self._write = write_jsonl
        elif fmt == "xlsx":
            from openpyxl import Workbook

            self._wb = Workbook(write_only=True)
            self._ws = self._wb.create_sheet(table)
            self._ws.append(list(self.fields))
            ws = self._ws

            def write_xlsx(row: Row) -> None:
                ws.append(list(row))  # None: no cell at all

            self._write = write_xlsx
        else:
            raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")

    def write(self, row: Row) -> None:
        if self.fmt == "xlsx" and self.rows >= XLSX_MAX_ROWS:
            raise ValueError(
                f"{self.table} has more than {XLSX_MAX_ROWS:,} rows, more than an xlsx sheet holds; "
                "use csv or jsonl"
            )
        self._write(row)
        self.rows += 1
        if self._progress is not None and self.rows % PROGRESS_EVERY == 0:
            self._progress(self.table, self.rows, self._expected)

    def write_all(self, rows: Any) -> None:
        for row in rows:
            self.write(row)

    def _flush(self) -> None:
        if self._pending:
            self._pending.append("")
            self._fh.write("\r\n".join(self._pending))
            self._pending.clear()

    def close(self) -> None:
        if self.fmt == "xlsx":
            self._save_xlsx()
        else:
            self._flush()
            self._fh.close()
        if self._progress is not None:
            self._progress(self.table, self.rows, self.rows)

    def _save_xlsx(self) -> None:
        from datetime import datetime

        fixed = datetime(2026, 10, 31, 18, 0, 0)
        self._wb.properties.created = fixed
        self._wb.properties.modified = fixed
        buffer = io.BytesIO()
        self._wb.save(buffer)
        _rezip_deterministically(buffer.getvalue(), self.path)


def _rezip_deterministically(data: bytes, path: Path) -> None:
    """openpyxl stamps the zip entries with the clock; rewrite them with a fixed time so files repeat."""
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 10, 31, 18, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" with the clock on save
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>2026-10-31T18:00:00Z\g<2>",
                    content,
                )
            dst.writestr(fixed, content)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_json(path: Path, value: object) -> None:
    path.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
