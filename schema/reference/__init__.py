"""Reference data shipped with the project: finance regions, classification codes by year, code sets.

Pure Python over the CSV files of this folder (UTF-8); no database. See README.md for sources and gaps.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = [
    "REFERENCE_DIR",
    "SCHEMES",
    "Classification",
    "Region",
    "classifications_for",
    "load_classifications",
    "load_code_sets",
    "load_regions",
]

REFERENCE_DIR: Path = Path(__file__).resolve().parent

SCHEMES: tuple[str, ...] = ("exp_func", "gov_eco", "dep_eco", "income")

_LEVEL_BY_LENGTH = {3: 1, 5: 2, 7: 3}  # 类 / 款 / 项


@dataclass(frozen=True, slots=True)
class Region:
    """A finance region (财政区划): a 9-digit mof_div_code, its name, its parent and its level (1–4)."""

    code: str
    name: str
    parent_code: str | None
    level_no: int


@dataclass(frozen=True, slots=True)
class Classification:
    """One code of a classification scheme, valid from first_year to last_year (None: still valid)."""

    scheme: str
    code: str
    name: str
    first_year: int
    last_year: int | None

    @property
    def level(self) -> int:
        """1 for a 类 (3 digits), 2 for a 款 (5 digits), 3 for a 项 (7 digits)."""
        return _LEVEL_BY_LENGTH[len(self.code)]

    def valid_in(self, year: int) -> bool:
        return self.first_year <= year and (self.last_year is None or year <= self.last_year)


def _rows(name: str) -> Iterator[dict[str, str]]:
    with (REFERENCE_DIR / name).open(encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh)


@cache
def load_regions() -> tuple[Region, ...]:
    """Every finance region, sorted by level then code, so a parent always precedes its children."""
    return tuple(
        Region(
            code=row["mof_div_code"],
            name=row["mof_div_name"],
            parent_code=row["parent_code"] or None,
            level_no=int(row["level_no"]),
        )
        for row in _rows("regions.csv")
    )


@cache
def load_classifications() -> tuple[Classification, ...]:
    """Every classification code of every scheme, with its years of validity."""
    return tuple(
        Classification(
            scheme=row["scheme"],
            code=row["code"],
            name=row["name"],
            first_year=int(row["first_year"]),
            last_year=int(row["last_year"]) if row["last_year"] else None,
        )
        for row in _rows("classifications.csv")
    )


def classifications_for(scheme: str, year: int) -> dict[str, str]:
    """Code → name of the codes of `scheme` valid in fiscal `year` (a renamed code gives that year's name)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown classification scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    return {c.code: c.name for c in load_classifications() if c.scheme == scheme and c.valid_in(year)}


@cache
def _code_sets() -> dict[str, dict[str, str]]:
    sets: dict[str, dict[str, str]] = {}
    for row in _rows("code_sets.csv"):
        sets.setdefault(row["code_set"], {})[row["code"]] = row["name"]
    return sets


def load_code_sets() -> dict[str, dict[str, str]]:
    """code_set → {code: name} for every canonical code set of feeds.md (plus risk_type and side)."""
    # A fresh copy each call: the cache stays intact whatever a caller does with the result.
    return {name: dict(codes) for name, codes in _code_sets().items()}
