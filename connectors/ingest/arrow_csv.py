"""Reading a quote-free CSV file in blocks of lines parsed by Arrow's C++ CSV reader.

A feed file with no ``"`` and no bare carriage return is one record per line, so a block of whole lines is a
block of whole records and a record's line number is its block's first line plus its position. Such a block
becomes an Arrow table of the raw text of every field. A block Arrow's reader should not be trusted with
(a blank line, a NUL byte, bytes that are not valid in the file's encoding, a line with the wrong number of
fields) is read by the Python CSV reader instead, which says what is wrong with each line exactly as a
serial load always has. Files with quotes load through :class:`~connectors.ingest.readers.CsvReader`.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from connectors.ingest.readers import ByteRange, Row, csv_rows

_SCAN = 1 << 22
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None  # glibc, not musl or another C library
    except OSError:
        return None


_LIBC = _glibc()


def _return_freed_memory() -> None:
    """Keep a loader process's footprint flat: Arrow's default allocator (mimalloc) keeps the pages a block
    freed, where jemalloc told to decay at once gives them back; and glibc's malloc, which raises its mmap
    threshold after each freed block of a few MB, would otherwise serve the next one from its heap."""
    with contextlib.suppress(NotImplementedError, AttributeError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(0)
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, 1 << 20)


def trim_heap() -> None:
    """Give the pages the last chunk freed back to the system: glibc keeps them in its heap, and two loader
    processes' worth of them is some 35 MB of the memory target."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


_return_freed_memory()


@dataclass(frozen=True, slots=True)
class ArrowBlock:
    """Consecutive records from ``first_line`` on, one string column per header position."""

    first_line: int
    table: pa.Table
    odd_spaces: bool = True  # whether a field may hold a white-space character C's isspace() does not know


def plain_lines_range(path: Path) -> ByteRange | None:
    """The data lines of a CSV file that the Arrow path can read (no quotes, no bare CR, a one-line header),
    or None for a file that needs the Python CSV reader."""
    with path.open("rb") as fh:
        header = fh.readline()
        if not header.endswith(b"\n") or b'"' in header or b"\r" in header[:-2]:
            return None
        start = fh.tell()
        pending = b""  # a CR at the end of one read, whose LF may start the next
        while block := fh.read(_SCAN):
            if b'"' in block:
                return None
            if b"\r" in block or pending:
                data = pending + block
                pending = b"\r" if data.endswith(b"\r") else b""
                if data.count(b"\r") - len(pending) != data.count(b"\r\n"):
                    return None
        if pending:
            return None
        end = fh.tell()
    return ByteRange(start, end, 2)


class ArrowCsvReader:
    """The records of a byte range of a quote-free CSV file, as Arrow blocks of at most ``block_lines``
    lines (or as the Python reader's rows where a block holds something unusual)."""

    def __init__(
        self, path: Path, encoding: str, header: list[str], part: ByteRange, block_lines: int
    ) -> None:
        self.path, self.header, self.part, self.block_lines = path, header, part, block_lines
        self.encoding = encoding
        self._codec = "utf-8" if encoding == "utf-8-sig" else encoding  # only the header can hold a BOM
        names = [f"c{i}" for i in range(len(header))]
        self._read = pacsv.ReadOptions(column_names=names, use_threads=False)
        self._parse = pacsv.ParseOptions(
            delimiter=",",
            quote_char=False,
            double_quote=False,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=False,
        )
        self._convert = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            check_utf8=True,
        )

    def blocks(self) -> Iterator[ArrowBlock | list[Row]]:
        part = self.part
        with self.path.open("rb") as fh:
            fh.seek(part.start)
            pos, line = part.start, part.first_line
            while pos < part.end:
                lines = list(islice(fh, self.block_lines))
                size = sum(map(len, lines))
                while pos + size > part.end:  # the range ends at a line boundary inside this block
                    size -= len(lines.pop())
                if not lines:
                    return
                count = len(lines)
                block = self._block(line, lines)
                del lines  # not held while the chunk made of it is parsed and stored
                yield block
                pos += size
                line += count

    def _block(self, first_line: int, lines: list[bytes]) -> ArrowBlock | list[Row]:
        data = b"".join(lines)
        table = self._arrow(data, lines)
        if table is not None and table.num_rows == len(lines):
            odd = any(c in data for c in (b"\x1c", b"\x1d", b"\x1e", b"\x1f"))
            return ArrowBlock(first_line, table, odd)
        text = data.decode(self._codec, "surrogateescape")
        return list(csv_rows(io.StringIO(text, newline=""), self.header, self.encoding, first_line - 1))

    def _arrow(self, data: bytes, lines: list[bytes]) -> pa.Table | None:
        if lines[0] in (b"\n", b"\r\n") or b"\n\n" in data or b"\n\r\n" in data or b"\x00" in data:
            return None  # blank lines are skipped, NUL bytes rejected, by the Python reader
        if self._codec != "utf-8":
            try:
                data = data.decode(self._codec).encode("utf-8")
            except UnicodeDecodeError:
                return None
        try:
            return pacsv.read_csv(
                pa.BufferReader(data),
                read_options=self._read,
                parse_options=self._parse,
                convert_options=self._convert,
            )
        except pa.ArrowInvalid:  # a line with too many or too few fields, or bytes that are not UTF-8
            return None

    def close(self) -> None:
        pass
