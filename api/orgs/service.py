"""Budget units (预算单位) and projects (项目) of the caller's jurisdiction, keyset-paginated."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, aliased

from api.analysis.dimensions import pairs_among
from api.errors import NotFound
from api.pagination import Listed, keyset_page
from schema.models import Agency, MofDiv, Project
from security.scope import Scope


class AgencyRow(Listed):
    region: str
    region_name: str | None
    code: str
    name: str
    department_code: str | None  # 主管部门: the 一级预算单位 the unit belongs to
    department_name: str | None
    agency_type: str | None
    unifsoc_cred_code: str | None


class AgencyPage(BaseModel):
    rows: list[AgencyRow]
    next_cursor: str | None


class ProjectRow(Listed):
    region: str
    code: str
    name: str
    agency_code: str | None
    agency_name: str | None
    kind: str | None  # 1 人员类, 2 运转类, 3 特定目标类
    spe_fund_code: str | None
    start_year: int | None


class ProjectPage(BaseModel):
    rows: list[ProjectRow]
    next_cursor: str | None


def list_agencies(
    session: Session,
    scope: Scope,
    *,
    region: str | None,
    department: str | None,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> AgencyPage:
    query = agencies_query(scope, region=region, department=department, q=q)
    page, next_cursor = keyset_page(
        session,
        query,
        "agencies",
        [Agency.mof_div_code, Agency.agency_code],
        cursor,
        limit,
        _agency_row,
        lambda row: [row.region, row.code],
    )
    return AgencyPage(rows=page, next_cursor=next_cursor)


def _agency_row(r: Any) -> AgencyRow:
    return AgencyRow(
        region=r[0],
        region_name=r[1],
        code=r[2],
        name=r[3],
        department_code=r[4],
        department_name=r[5],
        agency_type=r[6],
        unifsoc_cred_code=r[7],
    )


def agencies_by_key(
    session: Session, scope: Scope, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], AgencyRow]:
    """Units by (region, code), in one query: those the caller may see."""
    if not keys:
        return {}
    query = agencies_query(scope, region=None, department=None, q=None)
    rows = session.execute(query.where(pairs_among(Agency.mof_div_code, Agency.agency_code, keys)))
    wanted = set(keys)
    return {(r[0], r[2]): _agency_row(r) for r in rows if (r[0], r[2]) in wanted}


def agencies_query(scope: Scope, *, region: str | None, department: str | None, q: str | None) -> Any:
    """The units a listing holds, unordered (also counted for GraphQL's totalCount)."""
    dept = aliased(Agency)
    query = (
        select(
            Agency.mof_div_code,
            MofDiv.mof_div_name,
            Agency.agency_code,
            Agency.agency_name,
            Agency.dept_code,
            dept.agency_name,
            Agency.agency_type,
            Agency.unifsoc_cred_code,
        )
        .outerjoin(MofDiv, MofDiv.mof_div_code == Agency.mof_div_code)
        .outerjoin(
            dept,
            and_(
                dept.mof_div_code == Agency.mof_div_code,
                dept.agency_code == Agency.dept_code,
                dept.is_deleted.is_(False),
            ),
        )
        .where(Agency.is_deleted.is_(False), scope.regions(Agency.mof_div_code))
    )
    if region:
        query = query.where(Agency.mof_div_code == region)
    if department:
        query = query.where(Agency.dept_code == department)
    if q:
        query = query.where(or_(Agency.agency_name.contains(q, autoescape=True), Agency.agency_code == q))
    return query


def list_projects(
    session: Session,
    scope: Scope,
    *,
    region: str | None,
    agency: str | None,
    spe_fund: str | None,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> ProjectPage:
    query = projects_query(scope, region=region, agency=agency, spe_fund=spe_fund, q=q)
    page, next_cursor = keyset_page(
        session,
        query,
        "projects",
        [Project.mof_div_code, Project.pro_code],
        cursor,
        limit,
        _project_row,
        lambda row: [row.region, row.code],
    )
    return ProjectPage(rows=page, next_cursor=next_cursor)


def projects_query(
    scope: Scope, *, region: str | None, agency: str | None, spe_fund: str | None, q: str | None
) -> Any:
    """The projects a listing holds, unordered (also counted for GraphQL's totalCount)."""
    query: Any = (
        select(
            Project.mof_div_code,
            Project.pro_code,
            Project.pro_name,
            Project.agency_code,
            Agency.agency_name,
            Project.pro_kind_code,
            Project.spe_fund_code,
            Project.start_year,
        )
        .outerjoin(
            Agency,
            and_(
                Agency.mof_div_code == Project.mof_div_code,
                Agency.agency_code == Project.agency_code,
                Agency.is_deleted.is_(False),
            ),
        )
        .where(Project.is_deleted.is_(False), scope.regions(Project.mof_div_code))
    )
    if region:
        query = query.where(Project.mof_div_code == region)
    if agency:
        query = query.where(Project.agency_code == agency)
    if spe_fund:
        query = query.where(Project.spe_fund_code == spe_fund)
    if q:
        query = query.where(or_(Project.pro_name.contains(q, autoescape=True), Project.pro_code == q))
    return query


def get_project(session: Session, scope: Scope, region: str, code: str) -> ProjectRow:
    """One project the caller may see (its region and code), else a 404."""
    query = projects_query(scope, region=region, agency=None, spe_fund=None, q=None)
    r = session.execute(query.where(Project.pro_code == code)).first()
    if r is None:
        raise NotFound(f"no project {region}:{code}")
    return _project_row(r)


def _project_row(r: Any) -> ProjectRow:
    return ProjectRow(
        region=r[0],
        code=r[1],
        name=r[2],
        agency_code=r[3],
        agency_name=r[4],
        kind=r[5],
        spe_fund_code=r[6],
        start_year=r[7],
    )
