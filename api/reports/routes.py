"""``/v1/reports``: a periodic oversight report of a region, as HTML, XLSX or JSON."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from api.deps import get_principal, get_scope, get_session
from api.params import Region
from api.reports.html import render_html
from api.reports.model import Report
from api.reports.period import PATTERN, parse_period
from api.reports.service import build_report
from api.reports.xlsx import MEDIA_TYPE, render_xlsx
from security.scope import Scope

router = APIRouter(prefix="/v1", tags=["reports"])


class ReportFormat(StrEnum):
    html = "html"
    xlsx = "xlsx"
    json = "json"


@router.get(
    "/reports",
    response_model=Report,
    summary="A weekly, monthly, quarterly or annual oversight report of a region (HTML, XLSX or JSON)",
    responses={
        200: {
            "content": {
                "text/html": {"schema": {"type": "string"}},
                MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "format=json: the report's data; html: one self-contained page; xlsx: a workbook",
        }
    },
)
def report(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    period: Annotated[
        str,
        Query(
            pattern=PATTERN,
            description="ISO week 2025-W14, month 2025-03, quarter 2025-Q1 or year 2025",
        ),
    ],
    region: Region = None,
    fmt: Annotated[
        ReportFormat, Query(alias="format", description="html (default), xlsx, or json: the data itself")
    ] = ReportFormat.html,
) -> Any:
    built = build_report(session, scope, parse_period(period), region, principal=get_principal(request))
    if fmt is ReportFormat.json:
        return built
    name = f"oversight-report-{built.region}-{built.period.label}.{fmt.value}"
    if fmt is ReportFormat.xlsx:
        disposition = f"attachment; filename*=UTF-8''{quote(name)}"
        return Response(
            render_xlsx(built), media_type=MEDIA_TYPE, headers={"Content-Disposition": disposition}
        )
    return Response(
        render_html(built),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}"},
    )
