"""Inquiries (询问函) in GraphQL: the listing and one inquiry (as /v1/inquiries), and the four steps as
mutations, through the same service functions as REST, with the same refusals as GraphQL errors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from api.errors import BadParameter, NotFound, ProblemError
from api.graphql.types import Connection, Ctx, connection, limit
from api.inquiries import service
from api.inquiries.lifecycle import InquiryObjectType as ObjectType
from security.principal import Principal

ObjectTypeEnum = strawberry.enum(
    ObjectType,
    name="InquiryObjectType",
    description="What an inquiry is about: payment (pay_cert_id), indicator (bgt_id), project "
    "(region:pro_code), special_fund (spe_fund_code) or warning (its id)",
)
VIA = "graphql"


@strawberry.input(description="The filters of /v1/inquiries (all optional, combined with AND)")
class InquiryFilter:
    status: str | None = strawberry.field(
        default=None, description="open 待答复, answered 已答复, returned 已退回, accepted 已采纳"
    )
    object_type: str | None = strawberry.field(default=None, description="payment, indicator, project, …")
    object_id: str | None = None
    region: str | None = strawberry.field(default=None, description="9-digit region: its subtree")
    overdue: bool = strawberry.field(default=False, description="only those waiting past their deadline")
    raised_from: date | None = strawberry.field(default=None, description="a day in China")
    raised_to: date | None = strawberry.field(default=None, description="a day in China")

    def model(self) -> service.InquiryFilter:
        return service.InquiryFilter(
            **{name: getattr(self, name) for name in service.InquiryFilter.model_fields}
        )


@strawberry.input(name="InquiryAttachmentInput", description="An attachment's metadata (the file stays put)")
class AttachmentInput:
    name: str
    media_type: str = strawberry.field(description="e.g. application/pdf")
    size: int = strawberry.field(description="bytes")
    sha256: str = strawberry.field(description="64 hexadecimal digits")
    url: str | None = strawberry.field(default=None, description="http:// or https:// only")


@strawberry.input(description="A question about one object the caller may see")
class RaiseInquiryInput:
    object_type: ObjectTypeEnum  # type: ignore[valid-type]
    object_id: str
    subject: str = strawberry.field(description="one line, at most 200 characters")
    question: str = strawberry.field(description="at most 4000 characters")


@strawberry.type(name="InquiryAttachment", description="An attachment's metadata")
class Attachment:
    name: str
    media_type: str
    size: int = strawberry.field(description="bytes")
    sha256: str
    url: str | None


@strawberry.type(description="A step of an inquiry: who took it, when, how, and what it said")
class InquiryStep:
    id: int
    action: str = strawberry.field(description="raise 提出, answer 答复, accept 采纳, return 退回")
    from_status: str | None
    to_status: str
    round: int
    actor_sub: str
    actor_body: str
    actor_org: str | None
    via: str = strawberry.field(description="rest, graphql, or channel:NAME")
    at: datetime = strawberry.field(description="UTC")
    text: str | None = strawberry.field(description="the question, the answer, or the comment")
    attachments: list[Attachment]

    @staticmethod
    def of(s: service.InquiryStepRow) -> InquiryStep:
        return InquiryStep(
            **s.model_dump(exclude={"attachments"}),
            attachments=[Attachment(**a.model_dump()) for a in s.attachments],
        )


Details = DataLoader[int, service.InquiryDetail | None]


@strawberry.type(description="询问函: a question about one object, to the finance bureau of its region")
class Inquiry:
    id: int
    object_type: str
    object_id: str
    object_link: str = strawberry.field(description="where the API shows the object")
    region: str = strawberry.field(description="the region whose finance bureau answers")
    region_name: str | None
    fiscal_year: int | None
    subject: str
    status: str = strawberry.field(
        description="open 待答复, answered 已答复, returned 已退回, accepted 已采纳"
    )
    round: int
    deadline: date = strawberry.field(description="the last working day to answer this round (China)")
    overdue: bool
    asker_body: str
    asker_org: str | None
    asker_region: str | None
    raised_at: datetime
    updated_at: datetime
    answered_at: datetime | None
    closed_at: datetime | None
    link: str
    known: strawberry.Private[service.InquiryDetail | None] = None
    details: strawberry.Private[Details | None] = None

    @staticmethod
    def of(row: service.InquiryRow, details: Details | None = None) -> Inquiry:
        known = row if isinstance(row, service.InquiryDetail) else None
        return Inquiry(
            **row.model_dump(include=set(service.InquiryRow.model_fields)), known=known, details=details
        )

    async def _detail(self) -> service.InquiryDetail | None:
        if self.known is None and self.details is not None:
            self.known = await self.details.load(self.id)
        return self.known

    @strawberry.field(description="The question as raised")
    async def question(self) -> str:
        d = await self._detail()
        return d.question if d is not None else ""

    @strawberry.field(description="Who raised it, at its issuer")
    async def asker_sub(self) -> str:
        d = await self._detail()
        return d.asker_sub if d is not None else ""

    @strawberry.field(description="Every step, oldest first")
    async def steps(self) -> list[InquiryStep]:
        d = await self._detail()
        return [InquiryStep.of(s) for s in (d.steps if d is not None else [])]

    @strawberry.field(description="The steps this caller may take next")
    async def allowed_actions(self) -> list[str]:
        d = await self._detail()
        return d.allowed_actions if d is not None else []


def inquiry_id(value: int) -> int:
    if not 1 <= value < 2**31:
        raise BadParameter("id", "an inquiry id, a positive whole number")
    return value


def _principal(info: Ctx) -> Principal:
    principal = info.context.principal
    if principal is None:
        raise ProblemError.unauthorized()
    return principal


def _details(info: Ctx, principal: Principal) -> Details:
    """The details of a page's inquiries, read together the first time a node asks for one."""
    ctx = info.context

    async def load(ids: list[int]) -> Sequence[service.InquiryDetail | None]:
        found = await ctx.call(service.inquiries_by_id, principal, list(ids))
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


async def list_inquiries(
    info: Ctx, filter: InquiryFilter | None, first: int, after: str | None
) -> Connection[Inquiry]:
    """``inquiries``: as ``GET /v1/inquiries``."""
    ctx = info.context
    principal = _principal(info)
    given = filter.model() if filter is not None else service.InquiryFilter()
    page = await ctx.call(service.list_inquiries, principal, given, cursor=after, limit=limit(first))
    details = _details(info, principal)

    async def total() -> int:
        return await ctx.call(service.count_inquiries, principal, given)

    return connection(page.rows, lambda r: Inquiry.of(r, details), page.next_cursor, total)


async def one_inquiry(info: Ctx, id: int) -> Inquiry | None:
    """``inquiry``: as ``GET /v1/inquiries/{id}``, null when absent or not visible."""
    principal = _principal(info)
    try:
        found = await info.context.call(service.get_inquiry, principal, inquiry_id(id))
    except NotFound:
        return None
    return Inquiry.of(found)


# --- the mutations ------------------------------------------------------------------------------------


async def _write(info: Ctx, step: Any) -> Inquiry:
    """Run a service step with the writable engine, the caller's scope and principal."""
    ctx = info.context
    principal = _principal(info)
    if ctx.writer is None:
        raise ProblemError.unauthorized()
    writer = ctx.writer

    def run(_session: Any, scope: Any) -> service.InquiryDetail:
        detail: service.InquiryDetail = step(writer, scope, principal)
        return detail

    return Inquiry.of(await ctx.call(run))


@strawberry.type
class InquiryMutation:
    @strawberry.mutation(
        description="Raise an inquiry (询问函) about an object the caller may see, to the finance bureau of "
        "the object's region (congress, audit and discipline bodies)"
    )
    async def raise_inquiry(self, info: Ctx, input: RaiseInquiryInput) -> Inquiry:
        kind = ObjectType(input.object_type).value
        return await _write(
            info,
            lambda writer, scope, principal: service.raise_inquiry(
                writer,
                scope,
                principal,
                object_type=kind,
                object_id=input.object_id,
                subject=input.subject,
                question=input.question,
                via=VIA,
            ),
        )

    @strawberry.mutation(
        description="Answer an open or returned inquiry, with attachments' metadata (finance of the "
        "inquiry's own region only)"
    )
    async def answer_inquiry(
        self, info: Ctx, id: int, answer: str, attachments: list[AttachmentInput] | None = None
    ) -> Inquiry:
        wanted = inquiry_id(id)
        files = [
            {"name": a.name, "media_type": a.media_type, "size": a.size, "sha256": a.sha256, "url": a.url}
            for a in attachments or []
        ]
        return await _write(
            info,
            lambda writer, scope, principal: service.answer_inquiry(
                writer, scope, principal, wanted, answer=answer, attachments=files, via=VIA
            ),
        )

    @strawberry.mutation(
        description="Accept the answer (采纳), closing the inquiry (the asking organisation)"
    )
    async def accept_inquiry(self, info: Ctx, id: int, comment: str | None = None) -> Inquiry:
        wanted = inquiry_id(id)
        return await _write(
            info,
            lambda writer, scope, principal: service.accept_inquiry(
                writer, scope, principal, wanted, comment=comment, via=VIA
            ),
        )

    @strawberry.mutation(
        description="Return the answer (退回) saying why: a new round with a new deadline (the asking "
        "organisation)"
    )
    async def return_inquiry(self, info: Ctx, id: int, comment: str) -> Inquiry:
        wanted = inquiry_id(id)
        return await _write(
            info,
            lambda writer, scope, principal: service.return_inquiry(
                writer, scope, principal, wanted, comment=comment, via=VIA
            ),
        )


__all__ = [
    "Inquiry",
    "InquiryFilter",
    "InquiryMutation",
    "ObjectTypeEnum",
    "list_inquiries",
    "one_inquiry",
]
