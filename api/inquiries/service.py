"""Inquiries (询问函) for REST and GraphQL alike: who sees which, the listing and one inquiry with its
history, and the steps (:mod:`api.inquiries.lifecycle`) through the writable engine, with the lifecycle's
refusals as the API's problems.

Visibility: a finance bureau sees the inquiries to the regions of its subtree (it answers those of its own
region); a congress, audit or discipline user sees those of its subtree raised by its own body. Anything
else answers exactly like an inquiry that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Engine, and_, false, func, select
from sqlalchemy.orm import Session

from api.errors import BadParameter, Conflict, Forbidden, InvalidRequest, NotFound, Unavailable
from api.inquiries import lifecycle
from api.inquiries.lifecycle import (
    ASKERS,
    MAX_ANSWER,
    MAX_ATTACHMENTS,
    MAX_COMMENT,
    MAX_QUESTION,
    MAX_SIZE,
    MAX_SUBJECT,
    MAX_URL,
    MEDIA_TYPE,
    SHA256,
    URL,
    Action,
    Actor,
    Asker,
    InquiryObjectType,
    Status,
)
from api.pagination import Listed, decode_cursor, encode_cursor
from connectors.sync.config import ConfigError
from monitor import ledger
from schema.db import write_transaction
from schema.feedback import Inquiry, InquiryStep
from schema.models import MofDiv
from security.principal import Body, Principal
from security.scope import Scope

LISTING = "inquiries"
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]{1,64}\Z")


# --- requests -------------------------------------------------------------------------------------------


class InquiryAttachment(BaseModel):
    """An attachment's metadata: the file stays where its owner keeps it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, pattern=PRINTABLE, description="file name")
    media_type: str = Field(max_length=255, pattern=f"^{MEDIA_TYPE}$", description="e.g. application/pdf")
    size: int = Field(ge=0, le=MAX_SIZE, description="bytes")
    sha256: str = Field(pattern=f"^{SHA256}$", description="SHA-256 of the file, 64 hexadecimal digits")
    url: str | None = Field(
        default=None, max_length=MAX_URL, pattern=f"^{URL}$", description="where to fetch it (http/https)"
    )


class RaiseInquiryRequest(BaseModel):
    """A question about one object the asker may see, to the finance bureau of the object's region."""

    model_config = ConfigDict(extra="forbid")

    object_type: InquiryObjectType = Field(description="payment, indicator, project, special_fund or warning")
    object_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=PRINTABLE,
        description="pay_cert_id, bgt_id, region:pro_code (a project), spe_fund_code, or a warning's id",
    )
    subject: str = Field(min_length=1, max_length=MAX_SUBJECT, pattern=PRINTABLE, description="one line")
    question: str = Field(min_length=1, max_length=MAX_QUESTION)


class AnswerInquiryRequest(BaseModel):
    """The finance bureau's answer, with attachments' metadata."""

    model_config = ConfigDict(extra="forbid")

    answer: str = Field(min_length=1, max_length=MAX_ANSWER)
    attachments: list[InquiryAttachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class AcceptInquiryRequest(BaseModel):
    """The asker accepts the answer (采纳), closing the inquiry."""

    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=MAX_COMMENT)


class ReturnInquiryRequest(BaseModel):
    """The asker returns the answer (退回): a new round, with a new deadline."""

    model_config = ConfigDict(extra="forbid")

    comment: str = Field(min_length=1, max_length=MAX_COMMENT, description="required: why")


class InquiryFilter(BaseModel):
    """The filters of the listing (all optional, combined with AND)."""

    status: str | None = Field(
        default=None, description="open 待答复, answered 已答复, returned 已退回, accepted 已采纳"
    )
    object_type: str | None = Field(default=None, description="payment, indicator, project, …")
    object_id: str | None = None
    region: str | None = Field(default=None, description="9-digit region: its subtree (within the scope)")
    overdue: bool = Field(default=False, description="only inquiries waiting past their deadline")
    raised_from: date | None = Field(default=None, description="raised on or after (a day in China)")
    raised_to: date | None = Field(default=None, description="raised on or before (a day in China)")


# --- answers --------------------------------------------------------------------------------------------


class InquiryRow(Listed):
    id: int
    object_type: str
    object_id: str
    object_link: str = Field(description="where the API shows the object")
    region: str = Field(description="the region whose finance bureau answers")
    region_name: str | None
    fiscal_year: int | None
    subject: str
    status: str = Field(description="open 待答复, answered 已答复, returned 已退回, accepted 已采纳")
    round: int = Field(description="1, and one more each time the answer was returned")
    deadline: date = Field(description="the last working day to answer this round (China)")
    overdue: bool = Field(description="open or returned, and past the deadline")
    asker_body: str
    asker_org: str | None
    asker_region: str | None
    raised_at: datetime = Field(description="UTC")
    updated_at: datetime = Field(description="UTC")
    answered_at: datetime | None = Field(description="UTC: the latest answer")
    closed_at: datetime | None = Field(description="UTC: accepted")
    link: str = Field(description="this inquiry: /v1/inquiries/{id}")


class InquiryPage(BaseModel):
    rows: list[InquiryRow]
    next_cursor: str | None


class InquiryStepRow(BaseModel):
    id: int
    action: str = Field(description="raise 提出, answer 答复, accept 采纳, return 退回")
    from_status: str | None
    to_status: str
    round: int = Field(description="the round the step belongs to (a return opens the next)")
    actor_sub: str
    actor_body: str
    actor_org: str | None
    via: str = Field(description="rest, graphql, or channel:NAME (a signed callback)")
    at: datetime = Field(description="UTC")
    text: str | None = Field(description="the question, the answer, or the comment")
    attachments: list[InquiryAttachment]


class InquiryDetail(InquiryRow):
    question: str
    asker_sub: str
    steps: list[InquiryStepRow] = Field(description="every step, oldest first")
    allowed_actions: list[str] = Field(description="the steps this caller may take next")


# --- who sees what --------------------------------------------------------------------------------------


def actor_of(principal: Principal) -> Actor:
    return Actor(sub=principal.sub, body=principal.body.value, region=principal.region, org=principal.org)


def visible(scope: Scope, principal: Principal) -> ColumnElement[bool]:
    """The inquiries ``principal`` may see: finance those to its subtree, an oversight body those to its
    subtree that its own body raised, any other body none."""
    inside = scope.regions(Inquiry.mof_div_code)
    if principal.body is Body.finance:
        return inside
    if principal.body.value in ASKERS:
        return and_(inside, Inquiry.asker_body == principal.body.value)
    return false()


def _utc_start(day: date) -> datetime:
    return datetime.combine(day, time()) - ledger.CHINA


def _choice(parameter: str, value: str | None, allowed: Sequence[str]) -> str | None:
    if value is not None and value not in allowed:
        raise BadParameter(parameter, f"one of {', '.join(allowed)}; got {value[:40]!r}")
    return value


def _root(session: Session, scope: Scope, region: str | None) -> str | None:
    if region is None:
        return None
    if not re.fullmatch(r"\d{9}", region):
        raise BadParameter("region", "a 9-digit finance region code")
    found = session.execute(
        select(MofDiv.mof_div_code).where(MofDiv.mof_div_code == region, scope.regions(MofDiv.mof_div_code))
    ).scalar()
    if found is None:
        raise NotFound(f"no region {region!r}")
    return region


def conditions(
    session: Session, scope: Scope, principal: Principal, f: InquiryFilter, today: date
) -> list[ColumnElement[bool]]:
    """The WHERE of a filtered question over the inquiries ``principal`` may see."""
    where = [visible(scope, principal)]
    status = _choice("status", f.status, [s.value for s in Status])
    kind = _choice("object_type", f.object_type, [t.value for t in InquiryObjectType])
    if f.object_id is not None and not _PRINTABLE.match(f.object_id):
        raise BadParameter("object_id", "1 to 64 printable characters")
    for column, value in (
        (Inquiry.status, status),
        (Inquiry.object_type, kind),
        (Inquiry.object_id, f.object_id),
    ):
        if value is not None:
            where.append(column == value)
    root = _root(session, scope, f.region)
    if root is not None:
        where.append(Scope(region=root).regions(Inquiry.mof_div_code))
    if f.overdue:
        where.append(lifecycle.overdue_condition(today))
    if f.raised_from and f.raised_to and f.raised_from > f.raised_to:
        raise BadParameter("raised_from", "is after raised_to")
    if f.raised_from:
        where.append(Inquiry.raised_at >= _utc_start(f.raised_from))
    if f.raised_to:
        where.append(Inquiry.raised_at < _utc_start(f.raised_to + timedelta(days=1)))
    return where


def _rows_query(today: date) -> Any:
    return select(
        *Inquiry.__table__.columns,
        MofDiv.mof_div_name,
        lifecycle.overdue_condition(today).label("overdue"),
    ).outerjoin(MofDiv, MofDiv.mof_div_code == Inquiry.mof_div_code)


def object_link(object_type: str, object_id: str) -> str:
    """The route that shows the object (a project: the projects listing narrowed to it)."""
    if object_type == InquiryObjectType.project:
        region, _, code = object_id.partition(":")
        return "/v1/projects?" + urlencode({"region": region, "q": code})
    path = {
        InquiryObjectType.payment: "/v1/payments/",
        InquiryObjectType.indicator: "/v1/indicators/",
        InquiryObjectType.special_fund: "/v1/special-funds/",
        InquiryObjectType.warning: "/v1/warnings/",
    }[InquiryObjectType(object_type)]
    return path + quote(object_id, safe="")


def _row(r: Any) -> InquiryRow:
    return InquiryRow(
        id=r.id,
        object_type=r.object_type,
        object_id=r.object_id,
        object_link=object_link(r.object_type, r.object_id),
        region=r.mof_div_code,
        region_name=r.mof_div_name,
        fiscal_year=r.fiscal_year,
        subject=r.subject,
        status=r.status,
        round=r.round,
        deadline=r.deadline,
        overdue=bool(r.overdue),
        asker_body=r.asker_body,
        asker_org=r.asker_org,
        asker_region=r.asker_region,
        raised_at=r.raised_at,
        updated_at=r.updated_at,
        answered_at=r.answered_at,
        closed_at=r.closed_at,
        link=f"/v1/inquiries/{r.id}",
    )


# --- reading ----------------------------------------------------------------------------------------------


def list_inquiries(
    session: Session,
    scope: Scope,
    principal: Principal,
    f: InquiryFilter,
    *,
    cursor: str | None = None,
    limit: int = 50,
    today: date | None = None,
) -> InquiryPage:
    """A page of the inquiries ``principal`` may see, newest first."""
    day = today or ledger.china_today()
    after = decode_cursor(LISTING, cursor, 1)
    query = _rows_query(day).where(*conditions(session, scope, principal, f, day))
    if after is not None:
        if not isinstance(after[0], int) or isinstance(after[0], bool):
            raise BadParameter("cursor", f"not a cursor of the {LISTING} listing")
        query = query.where(Inquiry.id < after[0])
    found = session.execute(query.order_by(Inquiry.id.desc()).limit(limit + 1)).all()
    rows = [_row(r) for r in found[:limit]]
    for row in rows:
        row.at(encode_cursor(LISTING, [row.id]))
    return InquiryPage(rows=rows, next_cursor=rows[-1].cursor if len(found) > limit and rows else None)


def export_query(
    session: Session, scope: Scope, principal: Principal, f: InquiryFilter, today: date | None = None
) -> Any:
    """Every inquiry of the listing, newest first, for an export to stream (each row: :func:`inquiry_row`):
    the listing's own conditions and columns, without pages."""
    day = today or ledger.china_today()
    query = _rows_query(day).where(*conditions(session, scope, principal, f, day))
    return query.order_by(Inquiry.id.desc())


def inquiry_row(r: Any) -> InquiryRow:
    """A row of :func:`export_query` as the listing shows it."""
    return _row(r)


def count_inquiries(
    session: Session, scope: Scope, principal: Principal, f: InquiryFilter, today: date | None = None
) -> int:
    day = today or ledger.china_today()
    query = select(func.count()).select_from(Inquiry).where(*conditions(session, scope, principal, f, day))
    return int(session.execute(query).scalar_one())


def inquiries_by_id(
    session: Session, scope: Scope, principal: Principal, ids: Sequence[int], today: date | None = None
) -> dict[int, InquiryDetail]:
    """The inquiries ``ids`` that ``principal`` may see, in full (two queries whatever their number)."""
    day = today or ledger.china_today()
    wanted = [i for i in dict.fromkeys(ids) if isinstance(i, int) and 0 < i < 2**31]
    if not wanted:
        return {}
    rows = session.execute(_rows_query(day).where(Inquiry.id.in_(wanted), visible(scope, principal))).all()
    steps: dict[int, list[InquiryStepRow]] = {}
    for s in session.execute(
        select(InquiryStep)
        .where(InquiryStep.inquiry_id.in_([r.id for r in rows]))
        .order_by(InquiryStep.inquiry_id, InquiryStep.id)
    ).scalars():
        steps.setdefault(s.inquiry_id, []).append(
            InquiryStepRow(
                id=s.id,
                action=s.action,
                from_status=s.from_status,
                to_status=s.to_status,
                round=s.round,
                actor_sub=s.actor_sub,
                actor_body=s.actor_body,
                actor_org=s.actor_org,
                via=s.via,
                at=s.at,
                text=s.text,
                attachments=[InquiryAttachment(**a) for a in s.attachments or []],
            )
        )
    actor = actor_of(principal)
    out = {}
    for r in rows:
        asker = Asker(r.asker_sub, r.asker_body, r.asker_org, r.asker_region)
        out[r.id] = InquiryDetail(
            **_row(r).model_dump(),
            question=r.question,
            asker_sub=r.asker_sub,
            steps=steps.get(r.id, []),
            allowed_actions=[
                a.value
                for a in lifecycle.allowed_actions(r.status)
                if lifecycle.permitted(a, actor, r.mof_div_code, asker)
            ],
        )
    return out


def get_inquiry(
    session: Session, scope: Scope, principal: Principal, inquiry_id: int, today: date | None = None
) -> InquiryDetail:
    """One inquiry with its history; absent and not visible alike are a 404."""
    found = inquiries_by_id(session, scope, principal, [inquiry_id], today).get(inquiry_id)
    if found is None:
        raise NotFound(f"no inquiry {inquiry_id}")
    return found


# --- writing ----------------------------------------------------------------------------------------------


@contextmanager
def step_problems() -> Iterator[None]:
    """The lifecycle's refusals as the API's problems: not permitted a 403 naming why, a malformed request
    a 422 naming the field, an illegal or concurrent step a 409; a missing object a 404 with its read
    route's message."""
    try:
        yield
    except lifecycle.NotPermitted as exc:
        raise Forbidden(str(exc)) from None
    except lifecycle.InvalidStep as exc:
        raise InvalidRequest(str(exc)) from None
    except (lifecycle.IllegalStep, lifecycle.ConcurrentStep) as exc:
        raise Conflict(str(exc)) from None
    except (lifecycle.ObjectMissing, lifecycle.InquiryMissing) as exc:
        raise NotFound(str(exc)) from None
    except ConfigError as exc:  # the feedback file cannot be read: no step without its events
        raise Unavailable(f"the feedback configuration cannot be used: {exc}") from None


def _read(writer: Engine, scope: Scope, principal: Principal, inquiry_id: int) -> InquiryDetail:
    """The inquiry as it is now (through the writer: the step just committed there)."""
    with Session(writer) as session, session.begin():
        return get_inquiry(session, scope, principal, inquiry_id)


def raise_inquiry(
    writer: Engine,
    scope: Scope,
    principal: Principal,
    *,
    object_type: str,
    object_id: str,
    subject: str,
    question: str,
    via: str,
) -> InquiryDetail:
    """Raise an inquiry as ``principal`` about an object it may see (else a 404 exactly like the object's
    own read route), to the finance bureau of the object's region."""
    with step_problems(), write_transaction(writer) as conn:
        step = lifecycle.raise_inquiry(
            conn,
            object_type,
            object_id,
            actor=actor_of(principal),
            subject=subject,
            question=question,
            via=via,
        )
    return _read(writer, scope, principal, step.inquiry_id)


def take_step(
    writer: Engine,
    scope: Scope,
    principal: Principal,
    inquiry_id: int,
    action: Action,
    *,
    text: str | None,
    attachments: Sequence[dict[str, Any]] = (),
    via: str,
) -> InquiryDetail:
    """A step as ``principal``: an inquiry it may not see is a 404 like a missing one (checked in the
    write transaction); one it sees but may not answer, accept or return a 403 naming why."""
    with step_problems(), write_transaction(writer) as conn:
        seen = conn.execute(
            select(Inquiry.id).where(Inquiry.id == inquiry_id, visible(scope, principal))
        ).scalar()
        if seen is None:
            raise NotFound(f"no inquiry {inquiry_id}")
        lifecycle.apply(
            conn,
            inquiry_id,
            action.value,
            actor=actor_of(principal),
            text=text,
            attachments=attachments,
            via=via,
        )
    return _read(writer, scope, principal, inquiry_id)


def answer_inquiry(
    writer: Engine,
    scope: Scope,
    principal: Principal,
    inquiry_id: int,
    *,
    answer: str,
    attachments: Sequence[dict[str, Any]] = (),
    via: str,
) -> InquiryDetail:
    return take_step(
        writer, scope, principal, inquiry_id, Action.answer, text=answer, attachments=attachments, via=via
    )


def accept_inquiry(
    writer: Engine, scope: Scope, principal: Principal, inquiry_id: int, *, comment: str | None, via: str
) -> InquiryDetail:
    return take_step(writer, scope, principal, inquiry_id, Action.accept, text=comment, via=via)


def return_inquiry(
    writer: Engine, scope: Scope, principal: Principal, inquiry_id: int, *, comment: str | None, via: str
) -> InquiryDetail:
    return take_step(writer, scope, principal, inquiry_id, Action.return_, text=comment, via=via)
