"""Streaming readers for the three file forms of a feed batch: CSV, JSONL and XLSX.

Each reader yields ``(line, values)`` where ``values`` lines up with the reader's ``header`` (lower-case
field names) and holds text or ``None``; a line it cannot make sense of is yielded as ``(line, BadLine)``.
Memory stays bounded whatever the file size.
"""

from __future__ import annotations

import codecs
import csv
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

FORMATS = ("csv", "jsonl", "xlsx")
_SURROGATE = re.compile("[\udc80-\udcff]")
_SNIFF = 1 << 20

csv.field_size_limit(min(sys.maxsize, 1 << 26))


@dataclass(frozen=True, slots=True)
class BadLine:
    reason: str
    raw: dict[str, Any]


Row = tuple[int, "list[str | None] | BadLine"]


def detect_encoding(path: Path, declared: str | None = None) -> str:
    """UTF-8 (with or without BOM) or GB18030: the manifest's word, a BOM, or the first non-ASCII bytes."""
    if declared:
        name = codecs.lookup(declared).name
        if name in ("gbk", "gb2312", "gb18030"):
            return "gb18030"  # a superset of GBK and GB2312: decodes every file they produce
        return "utf-8-sig" if name == "utf-8" else name
    with path.open("rb") as fh:
        head = fh.read(3)
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        while block := fh.read(_SNIFF):
            if block.isascii():
                decoder.decode(block)
                continue
            try:
                decoder.decode(block)
                return "utf-8"
            except UnicodeDecodeError:
                return "gb18030"
    return "utf-8"


def normalise_name(name: Any) -> str:
    return str(name or "").strip().lstrip("\ufeff").strip().lower()


@dataclass(frozen=True, slots=True)
class ByteRange:
    """A slice of a line-oriented file, from a line boundary: bytes [start, end) and its first line number."""

    start: int
    end: int
    first_line: int


def _range_lines(path: Path, encoding: str, part: ByteRange) -> Iterator[str]:
    codec = "utf-8" if encoding == "utf-8-sig" else encoding  # only the file's first line can hold a BOM
    with path.open("rb") as fh:
        fh.seek(part.start)
        pos = part.start
        for raw in fh:
            if pos >= part.end:
                return
            pos += len(raw)
            yield raw.decode(codec, "surrogateescape")


class CsvReader:
    def __init__(self, path: Path, encoding: str, part: tuple[list[str], ByteRange] | None = None) -> None:
        self.path, self.encoding = path, encoding
        self._line_offset = 0
        if part is None:
            self._fh: Any = path.open("r", encoding=encoding, errors="surrogateescape", newline="")
            self._reader = csv.reader(self._fh)
            try:
                self.header = [normalise_name(h) for h in next(self._reader)]
            except StopIteration:
                self.header = []
        else:  # one slice of a quote-free file, read by one of several loader processes
            self.header, byte_range = part
            self._fh = None
            self._reader = csv.reader(_range_lines(path, encoding, byte_range))
            self._line_offset = byte_range.first_line - 1

    def rows(self) -> Iterator[Row]:
        return _records(self._reader, self.header, self.encoding, self._line_offset)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def csv_rows(lines: Iterable[str], header: list[str], encoding: str, line_offset: int) -> Iterator[Row]:
    """The records of CSV text lines that follow the header, numbered from ``line_offset + 1``."""
    return _records(csv.reader(lines), header, encoding, line_offset)


def _records(reader: Any, header: list[str], encoding: str, offset: int) -> Iterator[Row]:
    width = len(header)
    line = reader.line_num + offset
    while True:
        start = line + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num + offset
            yield start, BadLine(f"malformed CSV: {exc}", {})
            continue
        line = reader.line_num + offset
        if not values:
            continue  # a blank line
        if len(values) != width:
            yield (
                start,
                BadLine(
                    f"line has {len(values)} fields, header has {width}",
                    dict(zip(header, values, strict=False)),
                ),
            )
            continue
        if _SURROGATE.search("".join(values)):
            raw = {
                h: v.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                for h, v in zip(header, values, strict=True)
            }
            yield start, BadLine(f"bytes that are not valid {encoding}", raw)
            continue
        yield start, values  # type: ignore[misc]


def cell_text(value: Any) -> str | None:
    """A value read from a JSON or spreadsheet cell (or a database) in the feed's text form."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


class JsonlReader:
    """One JSON object per line; keys are matched case-insensitively against ``expected``."""

    def __init__(self, path: Path, expected: list[str], part: ByteRange | None = None) -> None:
        self.path = path
        self.header = list(expected)
        self._pos = {name: i for i, name in enumerate(self.header)}
        self.unknown: set[str] = set()
        self._fh = path.open("rb")
        self._part = part

    def _lines(self) -> Iterator[bytes]:
        if self._part is None:
            yield from self._fh
            return
        self._fh.seek(self._part.start)
        pos = self._part.start
        for raw in self._fh:
            if pos >= self._part.end:
                return
            pos += len(raw)
            yield raw

    def rows(self) -> Iterator[Row]:
        width = len(self.header)
        first = self._part.first_line if self._part else 1
        for line_no, raw_line in enumerate(self._lines(), start=first):
            if not raw_line.strip():
                continue
            try:
                obj = orjson.loads(raw_line)
            except orjson.JSONDecodeError as exc:
                yield (
                    line_no,
                    BadLine(f"not valid JSON: {exc}", {"line": raw_line[:2000].decode("utf-8", "replace")}),
                )
                continue
            if not isinstance(obj, dict):
                yield line_no, BadLine("a JSONL line must be an object", {"line": str(obj)[:2000]})
                continue
            values: list[str | None] = [None] * width
            for key, value in obj.items():
                pos = self._pos.get(normalise_name(key))
                if pos is None:
                    self.unknown.add(normalise_name(key))
                elif isinstance(value, dict | list):
                    values[pos] = orjson.dumps(value).decode()
                else:
                    values[pos] = cell_text(value)
            yield line_no, values

    def close(self) -> None:
        self._fh.close()


class XlsxReader:
    """The first sheet; its first row is the header."""

    def __init__(self, path: Path) -> None:
        from openpyxl import load_workbook

        self.path = path
        self._wb = load_workbook(path, read_only=True, data_only=True)
        self._rows = self._wb.worksheets[0].iter_rows(values_only=True)
        try:
            self.header = [normalise_name(h) for h in next(self._rows)]
        except StopIteration:
            self.header = []
        while self.header and not self.header[-1]:
            self.header.pop()

    def rows(self) -> Iterator[Row]:
        width = len(self.header)
        for line_no, cells in enumerate(self._rows, start=2):
            if cells is None or all(c is None or c == "" for c in cells):
                continue
            values = [cell_text(c) for c in cells[:width]]
            values.extend([None] * (width - len(values)))
            extra = [c for c in cells[width:] if c not in (None, "")]
            if extra:
                yield (
                    line_no,
                    BadLine(
                        f"row has values beyond the {width} header columns",
                        dict(zip(self.header, values, strict=True)),
                    ),
                )
                continue
            yield line_no, values

    def close(self) -> None:
        self._wb.close()


def open_reader(
    path: Path, fmt: str, encoding: str | None, expected: list[str]
) -> CsvReader | JsonlReader | XlsxReader:
    if fmt == "csv":
        return CsvReader(path, detect_encoding(path, encoding))
    if fmt == "jsonl":
        return JsonlReader(path, expected)
    return XlsxReader(path)


def count_records(path: Path, fmt: str, encoding: str | None) -> int:
    """Data records in a file, for the manifest's row count; fast for the common quote-free CSV."""
    if fmt == "jsonl":
        with path.open("rb") as fh:
            return sum(1 for line in fh if line.strip())
    if fmt == "csv":
        with path.open("rb") as fh:
            records = 0
            for line in fh:
                if b'"' in line:
                    break  # a quoted field may hold a line break: let the CSV parser count
                if line.strip():
                    records += 1
            else:
                return max(records - 1, 0)
    reader = open_reader(path, fmt, encoding, [])
    try:
        return sum(1 for _ in reader.rows())
    finally:
        reader.close()
