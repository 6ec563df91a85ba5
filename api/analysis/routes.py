"""``/v1/summary`` and ``/v1/drilldown``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.analysis.dimensions import Dim
from api.analysis.service import SORTS, Drilldown, DrillExportRow, Summary, drilldown, export_rows, summary
from api.deps import get_scope, get_session
from api.exports import EXPORT_RESPONSES, ExportFormat, FormatParam, export_response, model_columns, ready
from api.params import DEFAULT_LIMIT, Code, Cursor, Limit, OwnLevel, Region, Year
from security.scope import Scope

router = APIRouter(prefix="/v1", tags=["budget execution"])


def drill_filters(
    fund_type: Annotated[
        str | None, Query(pattern=r"^[0-9]$", description="1-4 the four budgets, 9 other")
    ] = None,
    department: Annotated[Code, Query(description="主管部门: code, or region:code as in a row key")] = None,
    agency: Annotated[Code, Query(description="预算单位: code, or region:code")] = None,
    project: Annotated[Code, Query(description="项目: code, or region:code")] = None,
    spe_fund: Annotated[Code, Query(description="专项资金 code")] = None,
    mof_dep: Annotated[Code, Query(description="财政处室: code, or region:code")] = None,
    exp_func: Annotated[Code, Query(description="支出功能分类: 3, 5 or 7 digits (类/款/项)")] = None,
    gov_eco: Annotated[Code, Query(description="政府预算支出经济分类: 3 or 5 digits")] = None,
    dep_eco: Annotated[Code, Query(description="部门预算支出经济分类: 3 or 5 digits")] = None,
    month: Annotated[
        Code, Query(description="calendar month 1-12 (doc_date of indicators, vou_date of payments)")
    ] = None,
    indicator: Annotated[Code, Query(description="预算指标 bgt_id")] = None,
    payee: Annotated[Code, Query(description="a payee_id from /v1/payees")] = None,
) -> dict[Dim, str]:
    given = {
        Dim.fund_type: fund_type,
        Dim.department: department,
        Dim.agency: agency,
        Dim.project: project,
        Dim.spe_fund: spe_fund,
        Dim.mof_dep: mof_dep,
        Dim.exp_func: exp_func,
        Dim.gov_eco: gov_eco,
        Dim.dep_eco: dep_eco,
        Dim.month: month,
        Dim.indicator: indicator,
        Dim.payee: payee,
    }
    return {d: v for d, v in given.items() if v is not None}


@router.get(
    "/summary", response_model=Summary, summary="The four budgets of a scope: budget, transfers, paid"
)
def get_summary(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    year: Year = None,
    region: Region = None,
) -> Summary:
    return summary(session, scope, year=year, region=region)


SortParam = Annotated[
    str,
    Query(
        pattern=r"^-?(" + "|".join(SORTS) + ")$",
        description="Row order: " + ", ".join(SORTS) + "; '-' first for descending. Ties go by key.",
    ),
]


# an export's columns: a row's key, name and flags, and its measures
DRILL_COLUMNS = model_columns(
    DrillExportRow,
    money={"budget", "transfer_in", "transfer_out", "paid", "plan"},
    nested={"measures": ""},
)


@router.get(
    "/drilldown",
    response_model=Drilldown,
    responses=EXPORT_RESPONSES,
    summary="One breakdown of a scope; rows plus unattributed equal the total; or all rows as CSV or XLSX",
)
def get_drilldown(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    filters: Annotated[dict[Dim, str], Depends(drill_filters)],
    by: Annotated[Dim, Query(description="The dimension the rows are")],
    year: Year = None,
    region: Region = None,
    own_level: OwnLevel = False,
    level: Annotated[int | None, Query(ge=1, le=3, description="exp_func 1-3, gov_eco / dep_eco 1-2")] = None,
    sort: SortParam = "key",
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    fmt: FormatParam = ExportFormat.json,
) -> Drilldown | Response:
    exporting = fmt is not ExportFormat.json
    answer = drilldown(
        session,
        scope,
        year=year,
        region=region,
        own_level=own_level,
        by=by,
        level=level,
        filters=filters,
        sort=sort,
        cursor=None if exporting else cursor,
        limit=None if exporting else limit,
    )
    if not exporting:
        return answer
    return export_response(
        request,
        name="drilldown",
        fmt=fmt,
        scope=scope,
        session=session,
        columns=DRILL_COLUMNS,
        rows=ready(export_rows(answer)),
    )
