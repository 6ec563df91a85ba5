"""A declarative mapping from a source system's records to canonical feed records (``feeds.md``).

A source's columns map onto feed fields by name, case-insensitively, because the feed's names are the
一体化 standard's own, lower-cased. Where a source differs, its stream says so:

- ``rename``: source column → feed field (``PAYEE_NAME = "payee_acct_name"``);
- ``codes``: per feed field, the source's code → the canonical one (fund types, settlement modes, a
  deletion flag of ``1``/``2``); a code the map does not know is a bad row, quarantined with the reason;
- ``transform``: per feed field, a chain of small value transforms (``"fen_to_yuan"``, ``"zfill:9"``);
- ``constant``: feed fields set to one value for every record (a single-region source's ``mof_div_code``).

The output is the feed's own text form, so every record then takes the one path into the warehouse that a
feed batch takes: the same parsing, checks, quarantine and merge.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.ingest.readers import BadLine, cell_text, normalise_name
from schema.feed import FeedTable


class MappingError(ValueError):
    """A mapping that cannot work (names a field the feed table lacks, an unknown transform)."""


class BadRecord(ValueError):
    """One source value that the mapping cannot turn into a feed value."""


def _text(value: Any) -> str | None:
    """A source value in the feed's text form; exact for decimals, never through a float."""
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, float):
        # a floating-point column of the source: its shortest repr is the decimal the source meant
        return _decimal_text(Decimal(repr(value)))
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("gb18030", "replace")
    return cell_text(value)


def _decimal_text(value: Decimal) -> str:
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):
        raise BadRecord(f"{value} is not a number")
    if exponent >= -2:  # a NUMERIC(p, 2) value: as it is ("1234.50", "10", "1E+3" written out)
        return format(value, "f")
    return format(value.normalize(), "f")


def _fen_to_yuan(text: str) -> str:
    try:
        fen = Decimal(text)
    except InvalidOperation:
        raise BadRecord(f"{text!r} is not an amount in fen") from None
    if fen != fen.to_integral_value():
        raise BadRecord(f"{text!r} is not a whole number of fen")
    return format(fen.quantize(Decimal(1)) / 100, ".2f")


def _wan_to_yuan(text: str) -> str:
    try:
        wan = Decimal(text)
    except InvalidOperation:
        raise BadRecord(f"{text!r} is not an amount in 万元") from None
    yuan = wan * 10_000
    if yuan != yuan.quantize(Decimal("0.01")):
        raise BadRecord(f"{text!r} 万元 is not a whole number of fen")
    return format(yuan.quantize(Decimal("0.01")), "f")


def _date_part(text: str) -> str:
    return text[:10] if len(text) >= 10 and text[4] in "-/" else text[:8]


_SIMPLE: dict[str, Callable[[str], str]] = {
    "strip": str.strip,
    "upper": str.upper,
    "lower": str.lower,
    "fen_to_yuan": _fen_to_yuan,  # an integer amount in fen → yuan with two decimals
    "wan_to_yuan": _wan_to_yuan,  # an amount in 万元 (ten thousand yuan) → yuan
    "date": _date_part,  # a date-time → its date
}
_WITH_ARG = re.compile(r"(zfill|prefix|suffix|remove_prefix|default|slice):(.*)")


def transform(spec: str) -> Callable[[str | None], str | None]:
    """One named transform. Each takes and returns feed text; only ``default`` fills an empty value."""
    simple = _SIMPLE.get(spec)
    if simple is not None:
        return lambda v: simple(v) if v else v
    m = _WITH_ARG.fullmatch(spec)
    if not m:
        names = ", ".join(
            [*_SIMPLE, "zfill:N", "prefix:X", "suffix:X", "remove_prefix:X", "slice:A:B", "default:X"]
        )
        raise MappingError(f"unknown transform {spec!r} (known: {names})")
    name, arg = m.groups()
    if name == "zfill":  # leading zeros a numeric column of the source lost: 101 → 0101
        if not arg.isdigit():
            raise MappingError(f"zfill takes a width: {spec!r}")
        width = int(arg)
        return lambda v: v.zfill(width) if v else v
    if name == "prefix":
        return lambda v: arg + v if v else v
    if name == "suffix":
        return lambda v: v + arg if v else v
    if name == "remove_prefix":
        return lambda v: v.removeprefix(arg) if v else v
    if name == "default":
        return lambda v: v if v else arg
    parts = arg.split(":")
    try:
        lo, hi = (int(p) if p else None for p in parts) if len(parts) == 2 else (None, None)
    except ValueError:
        lo = hi = None
    if len(parts) != 2 or (lo is None and hi is None):
        raise MappingError(f"slice takes start:end: {spec!r}")
    return lambda v: v[lo:hi] if v else v


@dataclass
class FieldMap:
    """How one feed field is made from a source record."""

    target: str
    index: int  # position in the feed header
    source: str | None  # the source column (lower-cased), or None for a constant
    codes: dict[str, str] | None = None
    steps: list[Callable[[str | None], str | None]] = field(default_factory=list)
    constant: str | None = None


class RecordMapping:
    """Turns source records (dicts) into rows of feed text lined up with :attr:`header`."""

    def __init__(
        self,
        ft: FeedTable,
        *,
        rename: Mapping[str, str] | None = None,
        codes: Mapping[str, Mapping[str, Any]] | None = None,
        transforms: Mapping[str, str | list[str]] | None = None,
        constant: Mapping[str, Any] | None = None,
    ) -> None:
        self.ft = ft
        feed_names = {c.field.name for c in ft.columns}
        known = set(ft.by_feed_name)
        renames = {normalise_name(k): normalise_name(v) for k, v in (rename or {}).items()}
        for src, target in renames.items():
            if target not in known:
                raise MappingError(f"rename {src} → {target}: {ft.name} has no field {target!r}")
        self.renames = renames
        self._canonical = {name: ft.columns[i].field.name for name, i in ft.by_feed_name.items()}
        for section, names in (
            ("codes", codes or {}),
            ("transform", transforms or {}),
            ("constant", constant or {}),
        ):
            for name in names:
                if normalise_name(name) not in known:
                    raise MappingError(f"{section}.{name}: {ft.name} has no field {name!r}")
        self.codes = {
            self._canonical[normalise_name(k)]: {str(a): str(b) for a, b in v.items()}
            for k, v in (codes or {}).items()
        }
        self.steps = {
            self._canonical[normalise_name(k)]: [transform(s) for s in ([v] if isinstance(v, str) else v)]
            for k, v in (transforms or {}).items()
        }
        self.constant = {self._canonical[normalise_name(k)]: _text(v) for k, v in (constant or {}).items()}
        self.header = [c.field.name for c in ft.columns]
        self._fields = feed_names
        self._plans: dict[tuple[str, ...], tuple[list[FieldMap], list[str]]] = {}

    def target_of(self, source_column: str) -> str | None:
        """The feed field a source column feeds, or None if it feeds none."""
        name = normalise_name(source_column)
        name = self.renames.get(name, name)
        return self._canonical.get(name)

    def source_of(self, target: str) -> str | None:
        """The source column (lower-cased) that feeds a feed field, as far as the mapping alone says."""
        for src, dst in self.renames.items():
            if self._canonical.get(dst) == target:
                return src
        return target

    def plan(self, columns: tuple[str, ...]) -> tuple[list[FieldMap], list[str]]:
        """The field maps for records with these columns, and the columns no field takes."""
        cached = self._plans.get(columns)
        if cached is not None:
            return cached
        index = {name: i for i, name in enumerate(self.header)}
        maps: dict[str, FieldMap] = {}
        unknown: list[str] = []
        # a column the mapping renames comes first: it wins over a column that happens to bear the field's
        # name (an element table's own MOF_DIV_CODE beside the ELE_CODE renamed to it)
        ordered = sorted(columns, key=lambda c: normalise_name(c) not in self.renames)
        for col in ordered:
            target = self.target_of(col)
            if target is None or target in maps:
                unknown.append(normalise_name(col))
                continue
            maps[target] = FieldMap(
                target, index[target], col, self.codes.get(target), self.steps.get(target, [])
            )
        for target, value in self.constant.items():
            maps[target] = FieldMap(target, index[target], None, None, [], value)
        for target, steps in self.steps.items():  # a transform may fill a field no column feeds (default:)
            if target not in maps:
                maps[target] = FieldMap(target, index[target], None, self.codes.get(target), steps)
        result = (list(maps.values()), unknown)
        self._plans[columns] = result
        return result

    def row(self, record: Mapping[str, Any]) -> list[str | None] | BadLine:
        """One source record → feed text in :attr:`header` order, or a :class:`BadLine` saying why not."""
        maps, _ = self.plan(tuple(record))
        values: list[str | None] = [None] * len(self.header)
        try:
            for fm in maps:
                if fm.source is None:
                    value = fm.constant
                else:
                    raw = record[fm.source]
                    if raw is None:
                        value = None
                    else:
                        value = (raw if raw.__class__ is str else _text(raw)).strip() or None  # type: ignore[union-attr]
                for step in fm.steps:
                    value = step(value)
                if fm.codes is not None and value is not None:
                    mapped = fm.codes.get(value)
                    if mapped is None:
                        raise BadRecord(
                            f"{fm.target}: the source's code {value!r} is not in the mapping's codes"
                        )
                    value = mapped
                values[fm.index] = value
        except (BadRecord, ArithmeticError, ValueError) as exc:  # decimal's InvalidOperation is both
            why = (
                str(exc)
                if isinstance(exc, BadRecord)
                else f"{fm.target}: the source's value cannot be converted"
            )
            return BadLine(why, {str(k): safe_value(v) for k, v in record.items()})
        return values


def safe_value(value: Any) -> Any:
    """A source value as it can be kept in the quarantine's JSON."""
    try:
        return _text(value)
    except (BadRecord, ArithmeticError, ValueError):
        return str(value)
