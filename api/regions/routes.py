"""``/v1/regions``: the finance regions (财政区划) of the caller's jurisdiction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from api.deps import get_scope, get_session
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from api.params import PRINTABLE
from api.regions.service import Region, RegionPage, get_region, list_regions
from security.scope import Scope

router = APIRouter(prefix="/v1/regions", tags=["regions"])
RegionCode = Annotated[str, Path(pattern=r"^\d{9}$", description="9-digit finance region code")]


@router.get("", response_model=RegionPage, summary="Finance regions, by code")
def regions(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    parent: Annotated[
        str | None, Query(pattern=r"^\d{9}$", description="Only the children of this region")
    ] = None,
    level: Annotated[
        int | None, Query(ge=1, le=4, description="1 province, 2 city, 3 county, 4 township")
    ] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=50, pattern=PRINTABLE, description="Part of the name, or a code"),
    ] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> RegionPage:
    return list_regions(session, scope, parent=parent, level=level, q=q, cursor=cursor, limit=limit)


@router.get(
    "/{code}",
    response_model=Region,
    summary="One region with its path and number of children",
    responses={404: {"description": "No such region in the caller's jurisdiction"}},
)
def region(
    code: RegionCode,
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
) -> Region:
    return get_region(session, scope, code)
