"""The breakdown dimensions of semantics.md: how a key is spelled, checked, filtered on and named.

A key of a unit, department, project or finance division is qualified by its region (``410100000:101``)
because those codes are unique only within a region; as a filter, an unqualified code matches that code in
every region of the scope. Classification keys are the code's first 3 / 5 / 7 digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from api.errors import BadParameter
from schema.models import Agency, BgtInfo, Classification, CodeSet, MofDep, MofDiv, Payee, Project, SpeFund
from security.masking import mask_name


class Dim(StrEnum):
    region = "region"
    fund_type = "fund_type"
    department = "department"
    agency = "agency"
    project = "project"
    spe_fund = "spe_fund"
    mof_dep = "mof_dep"
    exp_func = "exp_func"
    gov_eco = "gov_eco"
    dep_eco = "dep_eco"
    month = "month"
    indicator = "indicator"
    payee = "payee"


LOCAL = frozenset({Dim.department, Dim.agency, Dim.project, Dim.mof_dep})  # codes unique per region
LEVELS = {Dim.exp_func: (3, 5, 7), Dim.gov_eco: (3, 5), Dim.dep_eco: (3, 5)}  # digits of 类 / 款 / 项
FILTERS = tuple(d for d in Dim if d is not Dim.region)  # region is the scope parameter itself

_QUALIFIED = re.compile(r"^([0-9]{9}):(.+)\Z")
_DIGITS = re.compile(r"^[0-9]+\Z")
_MONTH = re.compile(r"^(0?[1-9]|1[0-2])\Z")


@dataclass(frozen=True, slots=True)
class Filter:
    dim: Dim
    value: str
    region: str | None = None  # qualified local key: the region part

    def condition(self, columns: dict[Dim, Any], region_column: Any) -> ColumnElement[bool]:
        """The filter over a source whose dimension columns are ``columns``."""
        column = columns[self.dim]
        if self.dim in LEVELS:
            return and_(column >= self.value, column < _successor(self.value))
        if self.dim is Dim.month:
            return column == int(self.value)  # type: ignore[no-any-return]
        if self.region is not None:
            return and_(region_column == self.region, column == self.value)
        return column == self.value  # type: ignore[no-any-return]


def _successor(prefix: str) -> str:
    """The smallest string greater than every string that starts with ``prefix`` (a digit string)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def parse_filter(dim: Dim, value: str) -> Filter:
    if dim in LOCAL:
        m = _QUALIFIED.match(value)
        return Filter(dim, m.group(2), m.group(1)) if m else Filter(dim, value)
    if dim in LEVELS:
        if not _DIGITS.match(value) or len(value) not in LEVELS[dim]:
            digits = " or ".join(str(n) for n in LEVELS[dim])
            raise BadParameter(dim.value, f"a classification code prefix of {digits} digits, got {value!r}")
        return Filter(dim, value)
    if dim is Dim.month:
        if not _MONTH.match(value):
            raise BadParameter("month", f"a month 1-12, got {value!r}")
        return Filter(dim, str(int(value)))
    return Filter(dim, value)


def pairs_among(first: Any, second: Any, pairs: Iterable[tuple[str, ...]]) -> ColumnElement[bool]:
    """Rows whose (``first``, ``second``) is among a superset of ``pairs``: every first value with every
    second value, which an index on both columns answers by lookups (SQLite scans the table for a
    row-value ``IN (VALUES …)``). The caller keeps the exact pairs."""
    pairs = list(pairs)
    return and_(first.in_(sorted({p[0] for p in pairs})), second.in_(sorted({p[1] for p in pairs})))


def rollup_dim(dim: Dim, level: int) -> str:
    """The ``dim`` column value of the rollups for a breakdown."""
    if dim in LEVELS:
        return f"{dim.value}.{level}"
    return "total" if dim in (Dim.region, Dim.fund_type) else dim.value


def check_level(dim: Dim | None, level: int | None) -> int:
    if level is None:
        return 1
    if dim not in LEVELS:
        raise BadParameter("level", f"only exp_func, gov_eco and dep_eco have levels, not {dim}")
    if not 1 <= level <= len(LEVELS[dim]):
        raise BadParameter("level", f"{dim} has levels 1 to {len(LEVELS[dim])}")
    return level


def prefix_digits(dim: Dim, level: int) -> int:
    return LEVELS[dim][level - 1]


# --- names --------------------------------------------------------------------------------------------


def names(session: Session, dim: Dim, keys: Iterable[str], year: int, pii: bool) -> dict[str, str | None]:
    """Display names of breakdown keys (only the keys of one page are asked for)."""
    keys = [k for k in keys if k is not None]
    if not keys:
        return {}
    rows: Any
    if dim is Dim.region:
        rows = session.execute(
            select(MofDiv.mof_div_code, MofDiv.mof_div_name).where(MofDiv.mof_div_code.in_(keys))
        )
        return dict(rows.all())
    if dim is Dim.fund_type:
        rows = session.execute(
            select(CodeSet.code, CodeSet.name).where(
                CodeSet.code_set == "fund_type_code", CodeSet.code.in_(keys)
            )
        )
        return dict(rows.all())
    if dim in LOCAL:
        pairs = [tuple(k.split(":", 1)) for k in keys]
        model: Any
        model, code_column = {
            Dim.department: (Agency, Agency.agency_code),
            Dim.agency: (Agency, Agency.agency_code),
            Dim.project: (Project, Project.pro_code),
            Dim.mof_dep: (MofDep, MofDep.mof_dep_code),
        }[dim]
        name: Any = {Agency: Agency.agency_name, Project: Project.pro_name, MofDep: MofDep.mof_dep_name}[
            model
        ]
        rows = session.execute(
            select(model.mof_div_code, code_column, name).where(
                pairs_among(model.mof_div_code, code_column, pairs)
            )
        )
        wanted = set(keys)
        return {key: r[2] for r in rows if (key := f"{r[0]}:{r[1]}") in wanted}
    if dim is Dim.spe_fund:
        rows = session.execute(
            select(SpeFund.spe_fund_code, SpeFund.spe_fund_name).where(SpeFund.spe_fund_code.in_(keys))
        )
        return dict(rows.all())
    if dim in LEVELS:
        found: dict[str, str | None] = {}
        rows = session.execute(
            select(Classification.code, Classification.name, Classification.first_year)
            .where(
                Classification.scheme == dim.value,
                Classification.code.in_(keys),
                Classification.first_year <= year,
            )
            .order_by(Classification.first_year)
        )
        for class_code, class_name, _ in rows:
            found[class_code] = class_name  # the latest version valid in the year wins
        return found
    if dim is Dim.month:
        return {k: f"{year}-{k}" for k in keys}
    if dim is Dim.indicator:
        rows = session.execute(
            select(BgtInfo.bgt_id, BgtInfo.cor_bgt_doc_no, BgtInfo.bgt_doc_title).where(
                BgtInfo.bgt_id.in_(keys)
            )
        )
        return {r[0]: f"{r[1]} {r[2]}" if r[2] else r[1] for r in rows}
    if dim is Dim.payee:
        rows = session.execute(
            select(Payee.payee_key, Payee.name, Payee.is_person).where(Payee.payee_key.in_(keys))
        )
        return {r[0]: r[1] if pii or not r[2] else mask_name(r[1]) for r in rows}
    return {}
