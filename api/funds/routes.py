"""``/v1/special-funds``, ``/v1/special-funds/{code}`` and ``/v1/special-funds/{code}/flow``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from api.deps import get_scope, get_session
from api.funds.service import Flow, Fund, FundPage, flow, get_fund, list_funds
from api.params import DEFAULT_LIMIT, PRINTABLE, Cursor, Limit, Region, Year
from security.scope import Scope

router = APIRouter(prefix="/v1/special-funds", tags=["special funds"])
FundCode = Annotated[str, Path(min_length=1, max_length=64, pattern=PRINTABLE, description="spe_fund_code")]


@router.get("", response_model=FundPage, summary="Special funds (专项资金) of the caller's jurisdiction")
def funds(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=50, pattern=PRINTABLE, description="Part of the name, or a code"),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> FundPage:
    return list_funds(session, scope, q=q, cursor=cursor, limit=limit)


@router.get("/{code}", response_model=Fund, summary="One special fund with its figures per year")
def fund(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    code: FundCode,
) -> Fund:
    return get_fund(session, scope, code)


@router.get(
    "/{code}/flow",
    response_model=Flow,
    summary="Allocation plan vs indicators vs payments per region and level, with stage lags",
)
def fund_flow(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    code: FundCode,
    year: Year = None,
    region: Region = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Flow:
    return flow(session, scope, code, year=year, region=region, cursor=cursor, limit=limit)
