"""Finance regions (财政区划) as the caller may see them."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.errors import NotFound
from api.pagination import Listed, keyset_page
from api.regions import queries
from schema.models import MofDiv
from security.scope import Scope


class RegionRef(BaseModel):
    code: str
    name: str
    level: int


class RegionRow(RegionRef, Listed):
    parent_code: str | None


class Region(RegionRow):
    ancestors: list[RegionRef]  # from the top of the caller's jurisdiction down to the parent
    children: int


class RegionPage(BaseModel):
    rows: list[RegionRow]
    next_cursor: str | None


def list_regions(
    session: Session,
    scope: Scope,
    *,
    parent: str | None,
    level: int | None,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> RegionPage:
    query = queries.regions_list(scope, parent=parent, level=level, q=q)
    page, next_cursor = keyset_page(
        session,
        query,
        "regions",
        [MofDiv.mof_div_code],
        cursor,
        limit,
        lambda r: RegionRow(code=r[0], name=r[1], parent_code=r[2], level=r[3]),
        lambda row: [row.code],
    )
    return RegionPage(rows=page, next_cursor=next_cursor)


def get_region(session: Session, scope: Scope, code: str) -> Region:
    row = session.execute(queries.region(scope, code)).first()
    if row is None:
        raise NotFound(f"no region {code!r}")
    path = [
        RegionRef(code=a[0], name=a[1], level=a[2]) for a in session.execute(queries.ancestors(scope, code))
    ]
    children = session.execute(queries.children_count(code)).scalar_one()
    return Region(
        code=row[0], name=row[1], parent_code=row[2], level=row[3], ancestors=path, children=children
    )


def regions_by_code(session: Session, scope: Scope, codes: list[str]) -> dict[str, RegionRow]:
    """Regions the caller may see, by code, in one query."""
    if not codes:
        return {}
    rows = session.execute(
        queries.regions_list(scope, parent=None, level=None, q=None).where(MofDiv.mof_div_code.in_(codes))
    )
    return {r[0]: RegionRow(code=r[0], name=r[1], parent_code=r[2], level=r[3]) for r in rows}


def children_of(session: Session, scope: Scope, parents: list[str]) -> dict[str, list[RegionRow]]:
    """The regions right below each of ``parents`` that the caller may see, by code, in one query."""
    out: dict[str, list[RegionRow]] = {p: [] for p in parents}
    if not parents:
        return out
    query = queries.regions_list(scope, parent=None, level=None, q=None)
    for r in session.execute(query.where(MofDiv.parent_code.in_(parents)).order_by(MofDiv.mof_div_code)):
        out[r[2]].append(RegionRow(code=r[0], name=r[1], parent_code=r[2], level=r[3]))
    return out
