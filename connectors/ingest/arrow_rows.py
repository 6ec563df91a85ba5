"""Arrow blocks of feed text → prepared warehouse rows, checked and converted column by column in C++.

Every column of a block is trimmed, checked and converted with Arrow compute kernels. The checks accept a
subset of what :mod:`connectors.ingest.convert` accepts (its plain, common forms: ASCII digits, the three date
forms, ISO date-times with ``Z`` or a ``±HH:MM`` offset); a row with any value outside that subset goes to
the Python :class:`~connectors.ingest.rows.RowParser`, which stores it or quarantines it with the same field
and reason as ever. A value that passes is converted to exactly the Python parser's result: the same text,
integer or flag, so the content hash (over the converted values) does not depend on the path.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

import pyarrow as pa
import pyarrow.compute as pc

from connectors.ingest.arrow_csv import ArrowBlock
from connectors.ingest.convert import MAX_CODE, allowed_values
from connectors.ingest.readers import Row
from connectors.ingest.rows import ParsedChunk, RowParser
from schema.base import FeedField, Kind

# str.strip() strips exactly the characters for which str.isspace() is true; Arrow's fast ASCII trim takes
# the six of them that C's isspace() knows (not the separators 0x1c-0x1f)
WHITESPACE = "".join(c for c in map(chr, range(0x110000)) if c.isspace())

_AMOUNT = r"^(?P<sign>-?)(?P<whole>[0-9]{1,16})(?:\.(?P<frac>[0-9]{1,2}))?$"
_DATE = r"^[1-9][0-9]{3}(?:-[0-9]{2}-[0-9]{2}|/[0-9]{2}/[0-9]{2}|[0-9]{4})$"
_DATE_PARTS = r"^([0-9]{4})[-/]?([0-9]{2})[-/]?([0-9]{2})$"
_DATETIME = (
    r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?$"
)
_FLAGS_TRUE = ["1", "y", "true", "是"]
_FLAGS_ALL = [*_FLAGS_TRUE, "0", "n", "false", "否"]

# (stored values, acceptable) of a column of trimmed, non-empty-or-empty text; empty values are dealt with
# by the caller, so a converter may answer anything for them
Converter = Callable[[pa.Array], tuple[pa.Array, pa.Array]]


def _strip(col: pa.Array, odd_spaces: bool) -> pa.Array:
    """``str.strip()`` of every value: Arrow's fast ASCII trim where it is the same thing."""
    if not odd_spaces and pc.all(pc.string_is_ascii(col)).as_py():
        return pc.ascii_trim_whitespace(col)
    return pc.utf8_trim(col, characters=WHITESPACE)


def _where(ok: pa.Array, col: pa.Array, placeholder: str) -> pa.Array:
    """``col`` with a harmless placeholder for the values a check refused (they go to the Python parser)."""
    return col if pc.all(ok).as_py() else pc.if_else(ok, col, placeholder)


def _text(col: pa.Array) -> tuple[pa.Array, pa.Array]:
    return col, pc.is_valid(col)


def _max_length(limit: int) -> Converter:
    def check(col: pa.Array) -> tuple[pa.Array, pa.Array]:
        return col, pc.less_equal(pc.utf8_length(col), limit)

    return check


def _one_of(allowed: frozenset[str]) -> Converter:
    value_set = pa.array(sorted(allowed), pa.string())

    def check(col: pa.Array) -> tuple[pa.Array, pa.Array]:
        return col, pc.is_in(col, value_set=value_set)

    return check


def _region(col: pa.Array) -> tuple[pa.Array, pa.Array]:
    return col, pc.match_substring_regex(col, r"^[0-9]{9}$")


def _integer(lo: int | None, hi: int | None, allowed: frozenset[str] | None) -> Converter:
    value_set = pa.array(sorted(allowed or ()), pa.string())

    def convert(col: pa.Array) -> tuple[pa.Array, pa.Array]:
        ok = pc.match_substring_regex(col, r"^-?[0-9]{1,18}$")
        values = pc.cast(_where(ok, col, "0"), pa.int64())
        if allowed is not None:  # convert.py compares the integer's own text with the code set
            return values, pc.and_(ok, pc.is_in(pc.cast(values, pa.string()), value_set=value_set))
        if lo is not None:
            ok = pc.and_(ok, pc.greater_equal(values, lo))
        if hi is not None:
            ok = pc.and_(ok, pc.less_equal(values, hi))
        return values, ok

    return convert


def _amount(col: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Yuan → integer fen by moving the decimal point in the text: never a float."""
    ok = pc.match_substring_regex(col, _AMOUNT)
    parts = pc.extract_regex(_where(ok, col, "0"), _AMOUNT)
    frac = pc.utf8_rpad(pc.struct_field(parts, "frac"), width=2, padding="0")
    fen = pc.binary_join_element_wise(
        pc.struct_field(parts, "sign"), pc.struct_field(parts, "whole"), frac, ""
    )
    return pc.cast(fen, pa.int64()), ok


def _flag(col: pa.Array) -> tuple[pa.Array, pa.Array]:
    lowered = pc.ascii_lower(col)
    return pc.is_in(lowered, value_set=pa.array(_FLAGS_TRUE)), pc.is_in(
        lowered, value_set=pa.array(_FLAGS_ALL)
    )


def _real_stamps(text: pa.Array, fmt: str, unit_type: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """``text`` parsed by Arrow's strptime, and whether each value is a real one: strptime rolls 30 February
    over into March, so a value counts only when its canonical text is the text it came from."""
    stamps = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
    again = pc.cast(pc.cast(stamps, unit_type), pa.string())
    return stamps, pc.fill_null(pc.equal(again, text), False)


def _date(col: pa.Array) -> tuple[pa.Array, pa.Array]:
    ok = pc.match_substring_regex(col, _DATE)
    iso = _where(ok, col, "2000-01-01")
    if not pc.all(pc.match_like(iso, "____-__-__")).as_py():  # YYYYMMDD or YYYY/MM/DD
        iso = pc.replace_substring_regex(iso, _DATE_PARTS, r"\1-\2-\3")
    _, real = _real_stamps(iso, "%Y-%m-%d", pa.date32())
    return iso, pc.and_(ok, real)


def _datetime(col: pa.Array) -> tuple[pa.Array, pa.Array]:
    """ISO 8601 → naive UTC text ``YYYY-MM-DD HH:MM:SS.ffffff``; no offset means Asia/Shanghai."""
    ok = pc.match_substring_regex(col, _DATETIME)
    text = _where(ok, col, "2000-01-01 00:00:00")
    local = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(text, 0, 10), pc.utf8_slice_codeunits(text, 11, 19), " "
    )
    stamps, real = _real_stamps(local, "%Y-%m-%d %H:%M:%S", pa.timestamp("s"))
    year = pc.cast(pc.utf8_slice_codeunits(text, 0, 4), pa.int64())
    # Python's strftime writes years below 1000 without padding, and 9999 may overflow: left to Python
    ok = pc.and_(pc.and_(ok, real), pc.and_(pc.greater(year, 1000), pc.less(year, 9999)))
    tail = pc.utf8_slice_codeunits(text, 19, 40)  # a fraction of a second, an offset: both optional
    zone, micros = tail, pa.scalar("000000")
    if pc.any(pc.starts_with(tail, ".")).as_py():
        zone = pc.replace_substring_regex(tail, r"^\.[0-9]+", "")
        fraction = pc.replace_substring_regex(tail, r"^\.([0-9]+).*$|^.*$", r"\1")
        micros = pc.utf8_rpad(fraction, width=6, padding="0")
    seconds = pc.subtract(pc.cast(pc.fill_null(stamps, 0), pa.int64()), _offsets(zone))
    utc = pc.cast(pc.cast(seconds, pa.timestamp("s")), pa.string())
    return pc.binary_join_element_wise(utc, micros, "."), ok


def _offsets(zone: pa.Array) -> pa.Array:
    """Seconds east of UTC of each offset text (``+08:00``, ``-05:30``, ``Z`` or empty for Shanghai time);
    a chunk holds a handful of distinct offsets, each worked out once."""
    distinct = pc.unique(zone)
    seconds = []
    for text in distinct.to_pylist():
        if text in ("", None):
            seconds.append(8 * 3600)
        elif text == "Z":
            seconds.append(0)
        else:
            sign = -1 if text[0] == "-" else 1
            seconds.append(sign * (int(text[1:3]) * 3600 + int(text[4:6]) * 60))
    return pc.take(pa.array(seconds, pa.int64()), pc.index_in(zone, value_set=distinct))


def _converter(ff: FeedField, code_sets: dict[str, dict[str, str]]) -> Converter:
    allowed = allowed_values(ff, code_sets)
    kind = ff.kind
    if kind is Kind.TEXT:
        return _text
    if kind is Kind.CODE:
        return _one_of(allowed) if allowed else _max_length(MAX_CODE)
    if kind is Kind.INT:
        return _integer(ff.min_value, ff.max_value, allowed)
    if allowed is not None or ff.min_value is not None or ff.max_value is not None:
        return _python_only  # no field of the feed has such a check today
    return {
        Kind.REGION: _region,
        Kind.AMOUNT: _amount,
        Kind.FLAG: _flag,
        Kind.DATE: _date,
        Kind.DATETIME: _datetime,
    }[kind]


def _python_only(col: pa.Array) -> tuple[pa.Array, pa.Array]:
    return col, pc.is_null(col)


class _KeptRaw(Sequence[list[str | None]]):
    """The feed values of the rows a chunk kept, taken from the Arrow block only when a quarantine row
    needs them (a reference that does not exist); ``order`` maps a kept row to the block's row or to a row
    the Python parser kept."""

    def __init__(self, table: pa.Table, order: list[int], python: Sequence[list[str | None]]) -> None:
        self._table, self._order, self._python = table, order, python

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, i: int) -> list[str | None]: ...
    @overload
    def __getitem__(self, i: slice) -> list[list[str | None]]: ...
    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        at = self._order[i]
        if at < 0:
            return self._python[-at - 1]
        return [col[at].as_py() for col in self._table.columns]


class ArrowRowParser:
    """Parses the Arrow blocks of one file of one feed table; falls back to ``rows`` row by row."""

    def __init__(
        self, rows: RowParser, code_sets: dict[str, dict[str, str]], *, with_table: bool = False
    ) -> None:
        self.rows = rows
        self.with_table = with_table  # also hand over each chunk as an Arrow table (for COPY)
        ft = rows.ft
        self.plan = [
            (pos, idx, _converter(ft.columns[idx].field, code_sets), required)
            for pos, idx, _check, required, _name in rows.plan
        ]
        self._types: dict[int, pa.DataType] = {}

    def chunks(self, blocks: Iterator[ArrowBlock | list[Row]]) -> Iterator[ParsedChunk]:
        for block in blocks:
            yield self.chunk(block) if isinstance(block, ArrowBlock) else self.rows.chunk(block)

    def chunk(self, block: ArrowBlock) -> ParsedChunk:
        table = block.table
        n = table.num_rows
        columns: dict[int, pa.Array] = {}
        ok: pa.Array = pa.array([True] * n, pa.bool_())
        for pos, idx, convert, required in self.plan:
            text = _strip(table.column(pos).combine_chunks(), block.odd_spaces)
            empty = pc.equal(pc.binary_length(text), 0)
            values, good = convert(text)
            ok = pc.and_(ok, pc.and_(good, pc.invert(empty)) if required else pc.or_(good, empty))
            values = pc.if_else(empty, pa.scalar(None, values.type), values)
            if idx in columns:  # one field under two names (spe_fund_code, track_pro_code): first non-empty
                values = pc.coalesce(columns[idx], values)
            columns[idx] = values
        ft = self.rows.ft
        if ft.soft_state:
            di = ft.index_of("is_deleted")
            columns[di] = pc.fill_null(columns.get(di, pa.nulls(n, pa.bool_())), False)
        if ft.name == "ba_bgt_info":  # exactly one of agency_code and rec_div_code
            agency = columns.get(ft.index_of("agency_code"), pa.nulls(n, pa.string()))
            region = columns.get(ft.index_of("rec_div_code"), pa.nulls(n, pa.string()))
            ok = pc.and_(ok, pc.not_equal(pc.is_null(agency), pc.is_null(region)))
        ok = pc.fill_null(ok, False)
        lines = range(block.first_line, block.first_line + n)
        if pc.all(ok).as_py():
            return self._assemble(n, columns, list(lines), table, list(range(n)))
        return self._with_fallback(table, columns, ok, lines)

    def _assemble(
        self,
        read: int,
        columns: dict[int, pa.Array],
        numbers: list[int],
        table: pa.Table,
        order: list[int],
        python: ParsedChunk | None = None,
    ) -> ParsedChunk:
        n = len(numbers)
        none: list[None] = [None] * n
        cols = [columns[i].to_pylist() if i in columns else none for i in range(self.rows.width)]
        digests, payees = self.rows.derived(cols)
        rows = self.rows.rows_of(cols, numbers, digests, payees)
        result = ParsedChunk(read=read)
        if python is None or not python.rows:
            result.rows, result.raw = rows, _KeptRaw(table, order, [])
            if self.with_table:
                result.table = self._table(columns, numbers, digests, payees)
        else:  # the rows of both parsers, back in file order: a tie between versions goes to the later line
            line = self.rows.columns.index("src_line")
            tagged = heapq.merge(
                zip(rows, order, strict=True),
                zip(python.rows, range(-1, -len(python.rows) - 1, -1), strict=True),
                key=lambda pair: pair[0][line],
            )
            merged = list(tagged)
            result.rows = [r for r, _ in merged]
            result.raw = _KeptRaw(table, [at for _, at in merged], python.raw)
        if python is not None:
            result.bad = python.bad
        return result

    def _table(
        self, columns: dict[int, pa.Array], numbers: list[int], digests: list[str], payees: list[str] | None
    ) -> pa.Table:
        """The prepared rows as Arrow columns, in :func:`stored_columns` order."""
        n, c, ft = len(numbers), self.rows.ctx, self.rows.ft
        arrays = [columns.get(i, pa.nulls(n)) for i in range(self.rows.width)]
        if payees is not None:
            arrays.append(pa.array(payees, pa.string()))
        if not ft.soft_state:
            arrays += [pa.array([False] * n), pa.nulls(n)]
        arrays += [
            pa.array([c.source] * n, pa.string()),
            pa.array([c.run_id] * n, pa.int64()),
            pa.array([self.rows.file] * n, pa.string()),
            pa.array(numbers, pa.int64()),
            pa.array(digests, pa.string()),
            pa.array([c.loaded_at] * n, pa.string()),
        ]
        return pa.Table.from_arrays(arrays, names=self.rows.columns)

    def _with_fallback(
        self, table: pa.Table, columns: dict[int, pa.Array], ok: pa.Array, lines: range
    ) -> ParsedChunk:
        good = pc.indices_nonzero(ok).to_pylist()
        bad = pc.indices_nonzero(pc.invert(ok)).to_pylist()
        raw = table.take(bad)
        raw_rows = [list(r) for r in zip(*(c.to_pylist() for c in raw.columns), strict=True)]
        python = self.rows.chunk([(lines[i], values) for i, values in zip(bad, raw_rows, strict=True)])
        kept = {i: pc.take(col, good) for i, col in columns.items()}
        return self._assemble(table.num_rows, kept, [lines[i] for i in good], table, good, python)
