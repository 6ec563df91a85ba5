"""``GET /v1/audit``: the audit log, for the ``audit_admin`` body only (and itself audited)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import get_scope
from api.exports import EXPORT_RESPONSES, ExportFormat, FormatParam, export_response, model_columns, streamed
from api.params import DEFAULT_LIMIT, PRINTABLE, Cursor, Limit
from security.audit import AuditFilters, AuditPage, AuditRow, audit_row, export_query, list_entries
from security.scope import Scope

router = APIRouter(prefix="/v1", tags=["audit"])
COLUMNS = model_columns(AuditRow)  # an export's: an entry as the listing shows it (parameters as JSON)


def audit_session(request: Request) -> Iterator[Session]:
    """A read of the log through the audit writer's own engine (the log may live in its own database)."""
    with Session(request.app.state.audit.engine) as session, session.begin():
        yield session


@router.get(
    "/audit",
    response_model=AuditPage,
    responses=EXPORT_RESPONSES,
    summary="The audit log, newest first (audit_admin only); or all of it as CSV or XLSX",
)
def audit_log(
    request: Request,
    session: Annotated[Session, Depends(audit_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    since: Annotated[datetime | None, Query(description="entries at or after this time (UTC)")] = None,
    until: Annotated[datetime | None, Query(description="entries before this time (UTC)")] = None,
    sub: Annotated[str | None, Query(max_length=200, pattern=PRINTABLE)] = None,
    body: Annotated[str | None, Query(pattern=r"^[a-z_]{1,20}$")] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    operation: Annotated[str | None, Query(max_length=300, pattern=PRINTABLE)] = None,
    status: Annotated[int | None, Query(ge=100, le=599)] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    fmt: FormatParam = ExportFormat.json,
) -> AuditPage | Response:
    filters = AuditFilters(
        since=since, until=until, sub=sub, body=body, region=region, operation=operation, status=status
    )
    if fmt is ExportFormat.json:
        return list_entries(session, filters=filters, cursor=cursor, limit=limit)
    # read through the audit writer's engine, as a page is; the log is not loaded data: no data_as_of
    return export_response(
        request,
        name="audit",
        fmt=fmt,
        scope=scope,
        session=session,
        columns=COLUMNS,
        rows=streamed(export_query(filters), audit_row),
        engine=request.app.state.audit.engine,
        data_as_of=False,
    )
