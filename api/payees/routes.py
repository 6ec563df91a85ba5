"""``/v1/payees`` and ``/v1/payees/{payee_id}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.orm import Session

from api.deps import get_scope, get_session
from api.params import DEFAULT_LIMIT, PRINTABLE, Cursor, Limit
from api.payees.service import PayeeDetail, PayeePage, get_payee, list_payees
from security.scope import Scope

router = APIRouter(prefix="/v1/payees", tags=["payees"])


@router.get("", response_model=PayeePage, summary="Payees (收款人) with what they received")
def payees(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=50,
            pattern=PRINTABLE,
            description="Part of the name, a credit code, or a payee_id",
        ),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> PayeePage:
    return list_payees(session, scope, q=q, cursor=cursor, limit=limit)


@router.get(
    "/{payee_id}",
    response_model=PayeeDetail,
    summary="Everything one payee received, across units, years and regions",
)
def payee(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    payee_id: Annotated[str, Path(min_length=1, max_length=64, pattern=PRINTABLE)],
) -> PayeeDetail:
    return get_payee(session, scope, payee_id)
