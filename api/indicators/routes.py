"""``/v1/indicators/{bgt_id}`` and ``/v1/indicators/{bgt_id}/trace``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy.orm import Session

from api.deps import get_scope, get_session
from api.indicators.service import Indicator, Trace, get_indicator, trace
from api.params import DEFAULT_LIMIT, PRINTABLE, Cursor, Limit
from security.scope import Scope

router = APIRouter(prefix="/v1/indicators", tags=["indicators and trace"])
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
    summary="何时拨、拨给谁、怎么用: upstream chain, downstream tree, and the payments",
)
def indicator_trace(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    bgt_id: BgtId,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Trace:
    return trace(session, scope, bgt_id, cursor=cursor, limit=limit)
