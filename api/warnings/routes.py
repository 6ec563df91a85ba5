"""``/v1/rules`` (the rule catalogue) and ``/v1/warnings`` (the warnings ledger and its lifecycle)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import get_principal, get_scope, get_session
from api.errors import ProblemError
from api.exports import EXPORT_RESPONSES, ExportFormat, FormatParam, export_response, model_columns, streamed
from api.params import DEFAULT_LIMIT, PRINTABLE, Cursor, Limit, OwnLevel, Region
from api.warnings.service import (
    RuleInfo,
    RuleList,
    TransitionRequest,
    WarningPage,
    _checked,
    get_rule,
    get_warning,
    list_rules,
    list_warnings,
    transition,
    warning_escalations,
    warning_stats,
)
from monitor import ledger
from monitor.ledger import Escalations, Stats, WarningDetail, WarningFilter, WarningRow
from security.scope import Scope

router = APIRouter(prefix="/v1", tags=["monitoring"])

WarningId = Annotated[int, Path(ge=1, le=2**31 - 1, description="id of the warning")]
Text = Annotated[str | None, Query(min_length=1, max_length=64, pattern=PRINTABLE)]
Amount = Annotated[str | None, Query(max_length=20, description="yuan, at most 2 decimals")]
COLUMNS = model_columns(WarningRow, money={"amount"})  # an export's: a row of the listing


def warning_filter(
    rule: Annotated[
        str | None, Query(min_length=1, max_length=32, pattern=PRINTABLE, description="rule code")
    ] = None,
    group: Annotated[
        str | None,
        Query(min_length=1, max_length=32, pattern=PRINTABLE, description="rule group (资金使用 …)"),
    ] = None,
    level: Annotated[str | None, Query(pattern=r"^(blue|yellow|orange|red)$")] = None,
    status: Annotated[
        str | None,
        Query(
            pattern=r"^(pending|verified|rectifying|rectified)$",
            description="pending 待核实, verified 已核实, rectifying 整改中, rectified 已整改",
        ),
    ] = None,
    verdict: Annotated[
        str | None, Query(pattern=r"^(violation|no_issue)$", description="违规 | 无误")
    ] = None,
    object_type: Annotated[
        str | None, Query(pattern=r"^[a-z_]{1,16}$", description="of the primary object")
    ] = None,
    object_id: Annotated[
        str | None,
        Query(min_length=1, max_length=64, pattern=PRINTABLE, description="any object it concerns"),
    ] = None,
    region: Region = None,
    own_level: OwnLevel = False,
    agency_code: Text = None,
    payee_key: Text = None,
    fiscal_year: Annotated[int | None, Query(ge=1949, le=2100)] = None,
    occurred_from: Annotated[date | None, Query(description="occurred_on on or after")] = None,
    occurred_to: Annotated[date | None, Query(description="occurred_on on or before")] = None,
    detected_from: Annotated[date | None, Query(description="detected on or after (a day in China)")] = None,
    detected_to: Annotated[date | None, Query(description="detected on or before (a day in China)")] = None,
    min_amount: Amount = None,
    max_amount: Amount = None,
    include_cleared: Annotated[
        bool, Query(description="also warnings a later run no longer finds (cleared_at set)")
    ] = False,
    overdue: Annotated[
        bool, Query(description="only pending or rectifying warnings beyond the handling days")
    ] = False,
) -> WarningFilter:
    return WarningFilter(
        rule=rule,
        group=group,
        level=level,
        status=status,
        verdict=verdict,
        object_type=object_type,
        object_id=object_id,
        region=region,
        own_level=own_level,
        agency_code=agency_code,
        payee_key=payee_key,
        fiscal_year=fiscal_year,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        detected_from=detected_from,
        detected_to=detected_to,
        min_amount=min_amount,
        max_amount=max_amount,
        include_cleared=include_cleared,
        overdue=overdue,
    )


Filters = Annotated[WarningFilter, Depends(warning_filter)]


@router.get("/rules", response_model=RuleList, summary="The warning rules (预警规则) as configured")
def rules() -> RuleList:
    return list_rules()


@router.get("/rules/{code}", response_model=RuleInfo, summary="One warning rule")
def rule(code: Annotated[str, Path(min_length=1, max_length=32, pattern=PRINTABLE)]) -> RuleInfo:
    return get_rule(code)


@router.get(
    "/warnings",
    response_model=WarningPage,
    responses=EXPORT_RESPONSES,
    summary="The warnings ledger (预警台账): filters, cursor pages; or all of it as CSV or XLSX",
)
def warnings(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    filters: Filters,
    sort: Annotated[
        str | None,
        Query(
            pattern=r"^-?(id|occurred_on|amount)$",
            description="id, occurred_on or amount; '-' first for descending (default -id: newest first)",
        ),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    fmt: FormatParam = ExportFormat.json,
) -> WarningPage | Response:
    if fmt is ExportFormat.json:
        return list_warnings(session, scope, filters, sort=sort, cursor=cursor, limit=limit)
    statement = _checked(ledger.export_query, session, scope, filters, sort=sort)
    return export_response(
        request,
        name="warnings",
        fmt=fmt,
        scope=scope,
        session=session,
        columns=COLUMNS,
        rows=streamed(statement, ledger.warning_row),
    )


@router.get(
    "/warnings/stats",
    response_model=Stats,
    summary="Warning statistics by rule, group, region, agency or month: count, amount, handling, overdue",
)
def stats(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    filters: Filters,
    by: Annotated[
        str, Query(pattern=r"^(rule|group|region|agency|month)$", description="how to group")
    ] = "rule",
) -> Stats:
    return warning_stats(session, scope, filters, by)


@router.get(
    "/warnings/escalations",
    response_model=Escalations,
    summary="专项督查: regions with open warnings at each of the last escalation_months month-ends",
)
def escalations(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    month: Annotated[
        str | None,
        Query(
            pattern=r"^\d{4}-\d{2}$",
            description="the last month (YYYY-MM); default: the month of the newest occurred_on in scope",
        ),
    ] = None,
    region: Region = None,
) -> Escalations:
    return warning_escalations(session, scope, month, region)


@router.get("/warnings/{id}", response_model=WarningDetail, summary="One warning: objects, evidence, steps")
def warning(
    session: Annotated[Session, Depends(get_session)],
    scope: Annotated[Scope, Depends(get_scope)],
    id: WarningId,
) -> WarningDetail:
    return get_warning(session, scope, id)


@router.post(
    "/warnings/{id}/transitions",
    response_model=WarningDetail,
    summary="Take a lifecycle step (finance of the warning's own region only)",
)
def transitions(
    request: Request,
    scope: Annotated[Scope, Depends(get_scope)],
    id: WarningId,
    step: Annotated[TransitionRequest, Body()],
) -> WarningDetail:
    principal = get_principal(request)
    if principal is None:
        raise ProblemError.unauthorized()
    return transition(
        request.app.state.writer,
        scope,
        principal,
        id,
        action=step.action,
        verdict=step.verdict,
        comment=step.comment,
    )
