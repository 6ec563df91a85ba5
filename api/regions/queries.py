"""SQL of the region listings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, func, or_, select

from schema.models import MofDiv, RegionClosure
from security.scope import Scope

LIVE = MofDiv.is_deleted.is_(False)
Query = Select[*tuple[Any, ...]]  # a SELECT of any row shape


def regions_list(scope: Scope, *, parent: str | None, level: int | None, q: str | None) -> Query:
    query = select(MofDiv.mof_div_code, MofDiv.mof_div_name, MofDiv.parent_code, MofDiv.level_no).where(
        LIVE, scope.regions(MofDiv.mof_div_code)
    )
    if parent is not None:
        query = query.where(MofDiv.parent_code == parent)
    if level is not None:
        query = query.where(MofDiv.level_no == level)
    if q:
        query = query.where(or_(MofDiv.mof_div_name.contains(q, autoescape=True), MofDiv.mof_div_code == q))
    return query


def region(scope: Scope, code: str) -> Query:
    return select(MofDiv.mof_div_code, MofDiv.mof_div_name, MofDiv.parent_code, MofDiv.level_no).where(
        LIVE, MofDiv.mof_div_code == code, scope.regions(MofDiv.mof_div_code)
    )


def ancestors(scope: Scope, code: str) -> Query:
    """The path from the top of the caller's scope down to the region (the region itself excluded)."""
    return (
        select(MofDiv.mof_div_code, MofDiv.mof_div_name, MofDiv.level_no)
        .join(RegionClosure, and_(RegionClosure.ancestor == MofDiv.mof_div_code, RegionClosure.depth > 0))
        .where(RegionClosure.descendant == code, LIVE, scope.regions(MofDiv.mof_div_code))
        .order_by(RegionClosure.depth.desc())
    )


def children_count(code: str) -> Query:
    return select(func.count()).select_from(MofDiv).where(MofDiv.parent_code == code, LIVE)
