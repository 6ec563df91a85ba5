"""``/v1/payments`` and ``/v1/payments/{pay_cert_id}``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.analysis.dimensions import Dim
from api.analysis.routes import drill_filters
from api.deps import get_scope, get_session
from api.exports import (
    EXPORT_RESPONSES,
    ExportFormat,
    FormatParam,
    export_response,
    model_columns,
    positional,
    streamed,
)
from api.params import DEFAULT_LIMIT, PRINTABLE, Cursor, Limit, OwnLevel, Region, Year
from api.payments.service import (
    DetailPage,
    PaymentDetail,
    PaymentPage,
    PaymentRow,
    PaymentSearch,
    export_query,
    get_payment,
    list_payments,
    payment_details,
    payment_values,
    search_root,
)
from security.scope import Scope

router = APIRouter(prefix="/v1/payments", tags=["payments"])
PayCertId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=PRINTABLE, description="pay_cert_id of the payment")
]
Amount = Annotated[str | None, Query(max_length=20, description="yuan, at most 2 decimals")]
# an export's columns: a row of the listing, its payee's fields flattened (payee_id, payee_name, …)
COLUMNS = positional(model_columns(PaymentRow, money={"amount"}, nested={"payee": "payee_"}))


@router.get(
    "",
    response_model=PaymentPage,
    responses=EXPORT_RESPONSES,
    summary="Payments: filters, keyword search, cursor pages; or all of them as CSV or XLSX",
)
def payments(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    filters: Annotated[dict[Dim, str], Depends(drill_filters)],
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=50,
            description="Keyword (any length, Chinese included) found in the purpose, payee, project, "
            "unit or indicator document number",
        ),
    ] = None,
    year: Year = None,
    region: Region = None,
    own_level: OwnLevel = False,
    payee_type: Annotated[
        str | None, Query(pattern=r"^[0-9]$", description="资金往来对象类型 1-6, 9")
    ] = None,
    set_mode: Annotated[
        str | None, Query(pattern=r"^[0-9]$", description="结算方式: 1 转账, 2 现金, 3 公务卡 …")
    ] = None,
    min_amount: Amount = None,
    max_amount: Amount = None,
    date_from: Annotated[date | None, Query(description="vou_date on or after")] = None,
    date_to: Annotated[date | None, Query(description="vou_date on or before")] = None,
    sort: Annotated[
        str | None,
        Query(
            pattern=r"^-?(pay_cert_id|vou_date|pay_amt)$",
            description="pay_cert_id (the default), vou_date or pay_amt; '-' first for descending. "
            "With q and no sort, payments come in the keyword index's match order (stable, and the "
            "fastest whatever the number of matches).",
        ),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    fmt: FormatParam = ExportFormat.json,
) -> PaymentPage | Response:
    search = PaymentSearch(
        q=q,
        year=year,
        region=search_root(session, scope, region, own_level),
        own_level=own_level,
        filters=filters,
        payee_type=payee_type,
        set_mode=set_mode,
        min_amount=min_amount,
        max_amount=max_amount,
        date_from=date_from,
        date_to=date_to,
    )
    if fmt is not ExportFormat.json:
        statement = export_query(session, scope, search, sort)
        pii = scope.pii
        return export_response(
            request,
            name="payments",
            fmt=fmt,
            scope=scope,
            session=session,
            columns=COLUMNS,
            rows=streamed(statement, lambda row: payment_values(row, pii=pii)),
        )
    return list_payments(session, scope, search, sort=sort, cursor=cursor, limit=limit)


@router.get(
    "/{pay_cert_id}", response_model=PaymentDetail, summary="One payment with its details and indicator"
)
def payment(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    pay_cert_id: PayCertId,
) -> PaymentDetail:
    return get_payment(session, scope, pay_cert_id)


@router.get(
    "/{pay_cert_id}/details", response_model=DetailPage, summary="A payment's detail lines (支付明细)"
)
def details(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    pay_cert_id: PayCertId,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> DetailPage:
    return payment_details(session, scope, pay_cert_id, cursor=cursor, limit=limit)
