"""Feed text → prepared warehouse rows: the per-row hot path of every load, free of database work.

A chunk is parsed column by column: stripping, length and code-set checks and parsing run as ``map`` and
set operations over a whole column, and a column falls back to value-by-value work only where it holds a
bad value. That keeps the Python work per row to a few microseconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import orjson
import pyarrow as pa

from connectors.ingest.convert import MAX_CODE, BadValue, allowed_values, value_parser
from connectors.ingest.merge import stored_columns
from connectors.ingest.readers import BadLine
from schema.base import Kind
from schema.feed import FeedTable
from security.pseudonym import payee_key

Check = Callable[[str], Any] | frozenset[str] | int | None  # parser, allowed codes, max length, or text


@dataclass(frozen=True, slots=True)
class ParseContext:
    run_id: int
    source: str
    code_sets: dict[str, dict[str, str]]
    loaded_at: str  # in the warehouse's text form of a date-time


@dataclass(slots=True)
class ParsedChunk:
    read: int
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # in stored_columns() order
    # the feed values each row came from (read only for a row that a reference check quarantines)
    raw: Sequence[list[str | None]] = field(default_factory=list)
    bad: list[tuple[int, str | None, str, dict[str, Any]]] = field(
        default_factory=list
    )  # line, field, why, raw
    # the same rows as an Arrow table, where the Arrow path made every row of the chunk (PostgreSQL's COPY)
    table: pa.Table | None = None


def _blank_to_none(col: list[str]) -> list[str | None]:
    return [v or None for v in col]


def _digest(values: tuple[Any, ...]) -> str:
    # the content hash covers the parsed values, so one record in CSV, JSONL or XLSX hashes the same
    return hashlib.blake2b(orjson.dumps(values), digest_size=16).hexdigest()


class RowParser:
    """Parses the chunks of one file of one feed table."""

    def __init__(self, ft: FeedTable, header: list[str], ctx: ParseContext, file: str) -> None:
        self.ft, self.ctx, self.file, self.header = ft, ctx, file, header
        self.columns = stored_columns(ft)
        self.width = len(ft.columns)
        self.unknown: list[str] = []
        self.plan: list[tuple[int, int, Check, bool, str]] = []
        seen: set[int] = set()
        for pos, name in enumerate(header):
            idx = ft.by_feed_name.get(name)
            if idx is None:
                if name:
                    self.unknown.append(name)
                continue
            fc = ft.columns[idx]
            seen.add(idx)
            check: Check
            if fc.field.kind is Kind.TEXT:
                check = None
            elif fc.field.kind is Kind.CODE:
                check = allowed_values(fc.field, ctx.code_sets) or MAX_CODE
            else:
                check = value_parser(fc.field, ctx.code_sets)
            self.plan.append((pos, idx, check, fc.field.required, name))
        self.missing = [c.field.name for i, c in enumerate(ft.columns) if c.field.required and i not in seen]
        self._payee = (
            [ft.index_of(c) for c in ("unifsoc_cred_code", "iden_no", "payee_acct_name", "payee_acct_no")]
            if "payee_key" in ft.derived
            else None
        )

    def chunk(self, lines: list[tuple[int, Any]]) -> ParsedChunk:
        result = ParsedChunk(read=len(lines))
        numbers: list[int] = []
        values: list[list[str | None]] = []
        for line, vals in lines:
            if isinstance(vals, BadLine):
                result.bad.append((line, None, vals.reason, vals.raw))
            else:
                numbers.append(line)
                values.append(vals)
        n = len(values)
        if not n:
            return result
        errors: dict[int, tuple[str, str]] = {}
        cols = self._columns(values, n, errors)
        rows = self.assemble(cols, numbers)
        if errors:
            for i in sorted(errors):
                name, why = errors[i]
                result.bad.append((numbers[i], name, why, dict(zip(self.header, values[i], strict=False))))
            result.rows = [r for i, r in enumerate(rows) if i not in errors]
            result.raw = [v for i, v in enumerate(values) if i not in errors]
        else:
            result.rows, result.raw = rows, values
        return result

    def assemble(self, cols: list[Any], numbers: list[int]) -> list[tuple[Any, ...]]:
        """Prepared rows from parsed feed columns (one list per feed column) and their file lines."""
        return self.rows_of(cols, numbers, *self.derived(cols))

    def derived(self, cols: list[Any]) -> tuple[list[str], list[str] | None]:
        """The content hash of each row, and its payee key where the table has one."""
        digests = list(map(_digest, zip(*cols, strict=True)))
        if not self._payee:
            return digests, None
        u, i, nm, a = (cols[k] for k in self._payee)
        return digests, list(map(payee_key, u, i, nm, a))

    def rows_of(
        self, cols: list[Any], numbers: list[int], digests: list[str], payees: list[str] | None
    ) -> list[tuple[Any, ...]]:
        """The feed values with the derived payee key, the state columns a table without ``is_deleted``
        lacks, and provenance: rows in :func:`stored_columns` order."""
        extra: list[Any] = [] if payees is None else [payees]
        if not self.ft.soft_state:
            extra += [repeat(False), repeat(None)]
        c = self.ctx
        extra += [
            repeat(c.source),
            repeat(c.run_id),
            repeat(self.file),
            numbers,
            digests,
            repeat(c.loaded_at),
        ]
        return list(zip(*cols, *extra))  # noqa: B905 - the extras are endless repeats

    def _columns(
        self, values: list[list[str | None]], n: int, errors: dict[int, tuple[str, str]]
    ) -> list[Any]:
        incoming = list(zip(*values, strict=True))
        cols: list[Any] = [[None] * n] * self.width  # absent columns share one list of nulls
        filled: set[int] = set()
        for pos, idx, check, required, name in self.plan:
            try:
                col: list[str] = list(map(str.strip, incoming[pos]))  # type: ignore[arg-type]
            except TypeError:  # JSONL and XLSX leave absent values as None
                col = [v.strip() if v else "" for v in incoming[pos]]
            if required and not all(col):
                for i, v in enumerate(col):
                    if not v:
                        errors.setdefault(i, (name, "required field is empty"))
            if check is None:
                parsed = _blank_to_none(col)
            elif isinstance(check, int):
                if col and max(map(len, col)) > check:
                    for i, v in enumerate(col):
                        if len(v) > check:
                            errors.setdefault(i, (name, f"code longer than {check} characters"))
                parsed = _blank_to_none(col)
            elif isinstance(check, frozenset):
                present = set(col)
                present.discard("")
                if not present <= check:
                    listed = ", ".join(sorted(check))
                    for i, v in enumerate(col):
                        if v and v not in check:
                            errors.setdefault(i, (name, f"{v!r} is not one of {listed}"))
                parsed = _blank_to_none(col)
            else:
                parsed = self._parse_column(col, check, name, errors)
            if idx in filled:  # one field under two names (spe_fund_code, track_pro_code): first non-empty
                parsed = [a if a is not None else b for a, b in zip(cols[idx], parsed, strict=True)]
            cols[idx] = parsed
            filled.add(idx)
        if self.ft.soft_state:
            di = self.ft.index_of("is_deleted")
            cols[di] = [False if v is None else v for v in cols[di]]  # absent or empty: the record is live
        if self.ft.name == "ba_bgt_info":
            why = "exactly one of agency_code and rec_div_code must be set"
            pairs = zip(
                cols[self.ft.index_of("agency_code")], cols[self.ft.index_of("rec_div_code")], strict=True
            )
            for i, (agency, region) in enumerate(pairs):
                if (agency is None) == (region is None):
                    errors.setdefault(i, ("agency_code", why))
        return cols

    @staticmethod
    def _parse_column(
        col: list[str], parse: Callable[[str], Any], name: str, errors: dict[int, tuple[str, str]]
    ) -> list[Any]:
        try:
            return [parse(v) if v else None for v in col]
        except BadValue:
            pass
        out: list[Any] = []
        for i, v in enumerate(col):
            if not v:
                out.append(None)
                continue
            try:
                out.append(parse(v))
            except BadValue as exc:
                errors.setdefault(i, (name, str(exc)))
                out.append(None)
        return out
