"""``/v1/indicators/{bgt_id}`` and ``/v1/indicators/{bgt_id}/trace``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import get_scope, get_session
from api.exports import EXPORT_RESPONSES, ExportFormat, FormatParam, export_response, model_columns, ready
from api.indicators.service import Indicator, Trace, TraceRow, get_indicator, trace, trace_rows
from api.params import DEFAULT_LIMIT, PRINTABLE, Cursor, Limit
from security.scope import Scope

router = APIRouter(prefix="/v1/indicators", tags=["indicators and trace"])
# an export's columns: a node's place in the tree, then its fields as the JSON shows them
TRACE_COLUMNS = model_columns(
    TraceRow, money={"amount", "paid", "undistributed"}, skip={"children"}, nested={"node": ""}
)
BgtId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=PRINTABLE, description="bgt_id of the indicator")
]


@router.get(
    "/{bgt_id}", response_model=Indicator, summary="One indicator (预算指标) with adjustments and plans"
)
def indicator(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    bgt_id: BgtId,
) -> Indicator:
    return get_indicator(session, scope, bgt_id)


@router.get(
    "/{bgt_id}/trace",
    response_model=Trace,
    responses=EXPORT_RESPONSES,
    summary="何时拨、拨给谁、怎么用: upstream chain, downstream tree, and the payments; or the tree's "
    "nodes as CSV or XLSX",
)
def indicator_trace(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    bgt_id: BgtId,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    fmt: FormatParam = ExportFormat.json,
) -> Trace | Response:
    if fmt is ExportFormat.json:
        return trace(session, scope, bgt_id, cursor=cursor, limit=limit)
    tree = trace(session, scope, bgt_id, cursor=None, limit=1).downstream
    return export_response(
        request,
        name="trace",
        fmt=fmt,
        scope=scope,
        session=session,
        columns=TRACE_COLUMNS,
        rows=ready(trace_rows(tree)),
    )
