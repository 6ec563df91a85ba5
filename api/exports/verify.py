"""Checking an export against its manifest: what a committee's clerk (or a test) runs on a zip received.

Everything is recomputed from the data file alone: its size, its sha256, its header against the manifest's
columns, its rows, and the exact sum of each money column (in fen, never through a float for CSV; an
XLSX number is the double nearest the amount, which rounds back to it exactly). The first difference
found is raised, named.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from api.exports.spec import Manifest
from connectors.ingest.convert import BadValue, format_amount, parse_amount


class ExportMismatch(ValueError):
    """The export does not hold what its manifest says; ``field`` names the first thing that differs."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


def verify_export(zip_bytes: bytes) -> Manifest:
    """The manifest of an export, once its data file is found to match it; else :class:`ExportMismatch`."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    except zipfile.BadZipFile as exc:
        raise ExportMismatch("zip", f"not a readable zip archive ({exc})") from None
    with archive:
        names = archive.namelist()
        if "manifest.json" not in names:
            raise ExportMismatch("manifest", "the archive holds no manifest.json")
        try:
            manifest = Manifest.model_validate_json(archive.read("manifest.json"))
        except (ValidationError, zipfile.BadZipFile) as exc:
            raise ExportMismatch("manifest", f"not a manifest ({exc})") from None
        if manifest.file not in names:
            raise ExportMismatch("file", f"the archive holds no {manifest.file}")
        try:
            data = archive.read(manifest.file)
        except zipfile.BadZipFile as exc:
            raise ExportMismatch("zip", f"{manifest.file} cannot be read ({exc})") from None
    file = manifest.file
    if len(data) != manifest.bytes:
        raise ExportMismatch("bytes", f"{file} holds {len(data)} bytes, the manifest says {manifest.bytes}")
    digest = hashlib.sha256(data).hexdigest()
    if digest != manifest.sha256:
        raise ExportMismatch("sha256", f"{file} hashes to {digest}, the manifest says {manifest.sha256}")
    names_expected = [c.name for c in manifest.columns]
    money = [c.name for c in manifest.columns if c.type == "money"]
    if manifest.file.endswith(".csv"):
        header, rows, sums = _read_csv(data, names_expected, money)
    elif manifest.file.endswith(".xlsx"):
        header, rows, sums = _read_xlsx(data, names_expected, money)
    else:
        raise ExportMismatch("file", f"{manifest.file} is neither .csv nor .xlsx")
    if header != names_expected:
        raise ExportMismatch("columns", f"the header is {header}, the manifest says {names_expected}")
    if rows != manifest.rows:
        raise ExportMismatch("rows", f"{manifest.file} holds {rows} rows, the manifest says {manifest.rows}")
    if set(manifest.sums) != set(money):
        raise ExportMismatch("sums", f"the manifest sums {sorted(manifest.sums)}; money columns: {money}")
    for name in money:
        found, said = format_amount(sums[name]), manifest.sums[name]
        if found != said:
            raise ExportMismatch(f"sums.{name}", f"the rows sum to {found}, the manifest says {said}")
    return manifest


def _read_csv(data: bytes, expected: list[str], money: list[str]) -> tuple[list[str], int, dict[str, int]]:
    if not data.startswith(b"\xef\xbb\xbf"):
        raise ExportMismatch("encoding", "the CSV does not begin with the UTF-8 byte-order mark")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExportMismatch("encoding", f"the CSV is not UTF-8 ({exc})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    where = {name: header.index(name) for name in money if name in header}
    sums = dict.fromkeys(money, 0)
    rows = 0
    for line, row in enumerate(reader, start=2):
        rows += 1
        for name, i in where.items():
            value = row[i] if i < len(row) else ""
            if value:
                try:
                    sums[name] += parse_amount(value)
                except BadValue:
                    raise ExportMismatch(f"sums.{name}", f"line {line}: {value!r} is not an amount") from None
    return header, rows, sums


def _read_xlsx(data: bytes, expected: list[str], money: list[str]) -> tuple[list[str], int, dict[str, int]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever openpyxl cannot open is not a workbook
        raise ExportMismatch("file", f"not a readable XLSX workbook ({exc})") from None
    header: list[str] = []
    sums = dict.fromkeys(money, 0)
    rows = 0
    try:
        for number, sheet in enumerate(workbook.worksheets, start=1):
            lines = sheet.iter_rows(values_only=True)
            own = [str(v) if v is not None else "" for v in next(lines, ())]
            if number == 1:
                header = own
            elif own != header:
                raise ExportMismatch("columns", f"sheet {number}'s header differs from the first sheet's")
            where = {name: header.index(name) for name in money if name in header}
            for row in lines:
                rows += 1
                for name, i in where.items():
                    sums[name] += _fen(row[i] if i < len(row) else None, name, rows)
    finally:
        workbook.close()
    return header, rows, sums


def _fen(value: Any, name: str, row: int) -> int:
    """A money cell in fen: empty is 0, a number is rounded to the fen it stands for."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExportMismatch(f"sums.{name}", f"data row {row}: {value!r} is not a number")
    try:
        return int((Decimal(repr(value)) * 100).to_integral_value())
    except InvalidOperation:
        raise ExportMismatch(f"sums.{name}", f"data row {row}: {value!r} is not an amount") from None
