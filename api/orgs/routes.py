"""``/v1/agencies`` and ``/v1/projects``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import get_scope, get_session
from api.orgs.service import AgencyPage, ProjectPage, list_agencies, list_projects
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from api.params import PRINTABLE
from security.scope import Scope

router = APIRouter(prefix="/v1", tags=["units and projects"])
Region = Annotated[str | None, Query(pattern=r"^\d{9}$", description="Only this finance region")]
Keyword = Annotated[
    str | None,
    Query(min_length=1, max_length=50, pattern=PRINTABLE, description="Part of the name, or a code"),
]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.get("/agencies", response_model=AgencyPage, summary="Budget units (预算单位) with their departments")
def agencies(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    region: Region = None,
    department: Annotated[str | None, Query(max_length=64, description="Only units of this 主管部门")] = None,
    q: Keyword = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> AgencyPage:
    return list_agencies(
        session, scope, region=region, department=department, q=q, cursor=cursor, limit=limit
    )


@router.get("/projects", response_model=ProjectPage, summary="Projects (项目) with their units")
def projects(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    region: Region = None,
    agency: Annotated[str | None, Query(max_length=64, description="Only projects of this unit")] = None,
    spe_fund: Annotated[
        str | None, Query(max_length=64, description="Only projects of this special fund")
    ] = None,
    q: Keyword = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> ProjectPage:
    return list_projects(
        session, scope, region=region, agency=agency, spe_fund=spe_fund, q=q, cursor=cursor, limit=limit
    )
