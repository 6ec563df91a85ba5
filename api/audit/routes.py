"""``GET /v1/audit``: the audit log, for the ``audit_admin`` body only (and itself audited)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from api.params import DEFAULT_LIMIT, PRINTABLE, Cursor, Limit
from security.audit import AuditFilters, AuditPage, list_entries

router = APIRouter(prefix="/v1", tags=["audit"])


def audit_session(request: Request) -> Iterator[Session]:
    """A read of the log through the audit writer's own engine (the log may live in its own database)."""
    with Session(request.app.state.audit.engine) as session, session.begin():
        yield session


@router.get("/audit", response_model=AuditPage, summary="The audit log, newest first (audit_admin only)")
def audit_log(
    session: Annotated[Session, Depends(audit_session)],
    since: Annotated[datetime | None, Query(description="entries at or after this time (UTC)")] = None,
    until: Annotated[datetime | None, Query(description="entries before this time (UTC)")] = None,
    sub: Annotated[str | None, Query(max_length=200, pattern=PRINTABLE)] = None,
    body: Annotated[str | None, Query(pattern=r"^[a-z_]{1,20}$")] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    operation: Annotated[str | None, Query(max_length=300, pattern=PRINTABLE)] = None,
    status: Annotated[int | None, Query(ge=100, le=599)] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> AuditPage:
    filters = AuditFilters(
        since=since, until=until, sub=sub, body=body, region=region, operation=operation, status=status
    )
    return list_entries(session, filters=filters, cursor=cursor, limit=limit)
