"""``/v1/inquiries``: inquiries (询问函), their history, and their steps (raise, answer, accept, return)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session

from api.deps import get_principal, get_scope, get_session
from api.errors import ProblemError
from api.exports import EXPORT_RESPONSES, ExportFormat, FormatParam, export_response, model_columns, streamed
from api.inquiries import service
from api.inquiries.service import (
    AcceptInquiryRequest,
    AnswerInquiryRequest,
    InquiryDetail,
    InquiryFilter,
    InquiryPage,
    InquiryRow,
    RaiseInquiryRequest,
    ReturnInquiryRequest,
)
from api.params import DEFAULT_LIMIT, PRINTABLE, Cursor, Limit, Region
from security.principal import Principal
from security.scope import Scope

router = APIRouter(prefix="/v1", tags=["inquiries"])
VIA = "rest"

COLUMNS = model_columns(InquiryRow)  # an export's: a row of the listing
InquiryId = Annotated[int, Path(ge=1, le=2**31 - 1, description="id of the inquiry")]


def inquiry_filter(
    status: Annotated[
        str | None,
        Query(
            pattern=r"^(open|answered|returned|accepted)$",
            description="open 待答复, answered 已答复, returned 已退回, accepted 已采纳",
        ),
    ] = None,
    object_type: Annotated[
        str | None,
        Query(pattern=r"^(payment|indicator|project|special_fund|warning)$", description="what it is about"),
    ] = None,
    object_id: Annotated[
        str | None, Query(min_length=1, max_length=64, pattern=PRINTABLE, description="the object's id")
    ] = None,
    region: Region = None,
    overdue: Annotated[
        bool, Query(description="only inquiries open or returned and past their deadline")
    ] = False,
    raised_from: Annotated[date | None, Query(description="raised on or after (a day in China)")] = None,
    raised_to: Annotated[date | None, Query(description="raised on or before (a day in China)")] = None,
) -> InquiryFilter:
    return InquiryFilter(
        status=status,
        object_type=object_type,
        object_id=object_id,
        region=region,
        overdue=overdue,
        raised_from=raised_from,
        raised_to=raised_to,
    )


def _principal(request: Request) -> Principal:
    principal = get_principal(request)
    if principal is None:
        raise ProblemError.unauthorized()
    return principal


@router.get(
    "/inquiries",
    response_model=InquiryPage,
    responses=EXPORT_RESPONSES,
    summary="Inquiries (询问函): filters, cursor pages; or all of them as CSV or XLSX",
)
def inquiries(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    filters: Annotated[InquiryFilter, Depends(inquiry_filter)],
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    fmt: FormatParam = ExportFormat.json,
) -> InquiryPage | Response:
    principal = _principal(request)
    if fmt is ExportFormat.json:
        return service.list_inquiries(session, scope, principal, filters, cursor=cursor, limit=limit)
    statement = service.export_query(session, scope, principal, filters)
    return export_response(
        request,
        name="inquiries",
        fmt=fmt,
        scope=scope,
        session=session,
        columns=COLUMNS,
        rows=streamed(statement, service.inquiry_row),
    )


@router.post(
    "/inquiries",
    response_model=InquiryDetail,
    status_code=201,
    summary="Raise an inquiry about an object (congress, audit and discipline bodies)",
)
def raise_inquiry(
    request: Request,
    response: Response,
    scope: Annotated[Scope, Depends(get_scope)],
    body: Annotated[RaiseInquiryRequest, Body()],
) -> InquiryDetail:
    found = service.raise_inquiry(
        request.app.state.writer,
        scope,
        _principal(request),
        object_type=body.object_type.value,
        object_id=body.object_id,
        subject=body.subject,
        question=body.question,
        via=VIA,
    )
    response.headers["Location"] = found.link
    return found


@router.get("/inquiries/{id}", response_model=InquiryDetail, summary="One inquiry with its whole history")
def inquiry(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    id: InquiryId,
) -> InquiryDetail:
    return service.get_inquiry(session, scope, _principal(request), id)


@router.post(
    "/inquiries/{id}/answer",
    response_model=InquiryDetail,
    summary="Answer an open or returned inquiry (finance of the inquiry's own region only)",
)
def answer(
    request: Request,
    scope: Annotated[Scope, Depends(get_scope)],
    id: InquiryId,
    body: Annotated[AnswerInquiryRequest, Body()],
) -> InquiryDetail:
    return service.answer_inquiry(
        request.app.state.writer,
        scope,
        _principal(request),
        id,
        answer=body.answer,
        attachments=[a.model_dump() for a in body.attachments],
        via=VIA,
    )


@router.post(
    "/inquiries/{id}/accept",
    response_model=InquiryDetail,
    summary="Accept the answer (采纳), closing the inquiry (the asking organisation only)",
)
def accept(
    request: Request,
    scope: Annotated[Scope, Depends(get_scope)],
    id: InquiryId,
    body: Annotated[AcceptInquiryRequest | None, Body()] = None,
) -> InquiryDetail:
    comment = body.comment if body is not None else None
    return service.accept_inquiry(
        request.app.state.writer, scope, _principal(request), id, comment=comment, via=VIA
    )


@router.post(
    "/inquiries/{id}/return",
    response_model=InquiryDetail,
    summary="Return the answer (退回) with why: a new round and deadline (the asking organisation only)",
)
def return_(
    request: Request,
    scope: Annotated[Scope, Depends(get_scope)],
    id: InquiryId,
    body: Annotated[ReturnInquiryRequest, Body()],
) -> InquiryDetail:
    return service.return_inquiry(
        request.app.state.writer, scope, _principal(request), id, comment=body.comment, via=VIA
    )
