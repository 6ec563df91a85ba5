"""Inbound callbacks: answers that come back through a channel (``POST /v1/channels/{name}/callback``).

A finance bureau's office system answers an inquiry, or takes a step on a warning, by calling back the
webhook channel it receives events on. The call carries no bearer token: it is signed the Standard
Webhooks way with the channel's secret (either one while a secret is rotated) over its id, timestamp and
body, and the timestamp must be within five minutes. The channel's ``callback_region`` says whose finance
bureau it speaks for: it acts as that region's finance body, so it can answer that region's own inquiries
and warnings and no other (one outside the region answers like a missing one).

Each callback is applied once: its ``webhook-id`` is stored with the answer in the transaction that applies
it (:class:`schema.feedback.CallbackReceipt`), and a replay gets the same answer back
(``idempotent-replayed: true``) and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from api.errors import NotFound, ProblemError
from api.inquiries import lifecycle as inquiries
from api.inquiries.service import InquiryAttachment
from api.inquiries.service import step_problems as inquiry_problems
from api.params import PRINTABLE
from api.warnings.service import step_problems as warning_problems
from connectors.channels.signing import SignatureError, verify
from connectors.delivery.config import FeedbackConfig
from connectors.delivery.events import utcnow
from connectors.sync.config import ConfigError
from monitor import lifecycle as warnings
from schema.db import write_transaction
from schema.feedback import CallbackReceipt, Inquiry
from schema.monitor import Warning
from security.scope import Scope

MAX_BODY = 64 * 1024


class CallbackActor(BaseModel):
    sub: str = Field(
        min_length=1, max_length=180, pattern=PRINTABLE, description="the person at the finance bureau"
    )
    org: str | None = Field(default=None, max_length=200, pattern=PRINTABLE, description="their organisation")


class InquiryAnswer(BaseModel):
    """An answer to an inquiry (询问函答复)."""

    type: Literal["inquiry.answer"]
    inquiry_id: int = Field(ge=1, le=2**31 - 1)
    answer: str = Field(min_length=1, max_length=8000)
    attachments: list[InquiryAttachment] = Field(default_factory=list, max_length=20)
    actor: CallbackActor


class WarningStepIn(BaseModel):
    """A lifecycle step on a warning (预警处置)."""

    type: Literal["warning.transition"]
    warning_id: int = Field(ge=1, le=2**31 - 1)
    action: str = Field(max_length=40, description="verify, start_rectification or complete_rectification")
    verdict: str | None = Field(default=None, max_length=40)
    comment: str = Field(max_length=4000, pattern=r"^[^\x00]*$", description="no NUL character")
    actor: CallbackActor


class Callback(BaseModel):
    body: Annotated[InquiryAnswer | WarningStepIn, Field(discriminator="type")]


class Answer(BaseModel):
    status: int
    document: dict[str, Any]
    replayed: bool = False


class CallbackRefused(ProblemError):
    """A callback that is not signed right (401) or that names no channel taking callbacks (404)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title


def _problem(status: int, title: str, detail: str, **extra: Any) -> Answer:
    return Answer(
        status=status,
        document={"type": "about:blank", "title": title, "status": status, "detail": detail, **extra},
    )


def _parse(body: bytes) -> InquiryAnswer | WarningStepIn | Answer:
    try:
        return Callback.model_validate({"body": orjson.loads(body)}).body
    except orjson.JSONDecodeError as exc:
        return _problem(422, "Invalid request", f"body: not JSON ({exc})")
    except ValidationError as exc:
        errors = [
            {"parameter": ".".join(str(p) for p in e["loc"][1:]) or "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['parameter']}: {e['message']}" for e in errors)
        return _problem(422, "Invalid request", detail, errors=errors)


def _apply(conn: Any, channel: str, region: str, call: InquiryAnswer | WarningStepIn) -> Answer:
    """Apply inside ``conn``'s transaction, as the finance bureau of ``region``; a refusal of the lifecycle
    raises the same problem the REST route would answer."""
    scope = Scope(region=region)
    sub = f"{channel}:{call.actor.sub}"
    if isinstance(call, InquiryAnswer):
        visible = conn.execute(
            select(Inquiry.id).where(Inquiry.id == call.inquiry_id, scope.regions(Inquiry.mof_div_code))
        ).scalar()
        if visible is None:
            raise NotFound(f"no inquiry {call.inquiry_id}")
        actor = inquiries.Actor(sub=sub, body="finance", region=region, org=call.actor.org)
        with inquiry_problems():
            step = inquiries.apply(
                conn,
                call.inquiry_id,
                "answer",
                actor=actor,
                text=call.answer,
                attachments=[a.model_dump(exclude_none=True) for a in call.attachments],
                via=f"channel:{channel}",
            )
        return Answer(
            status=200,
            document={
                "applied": call.type,
                "inquiry_id": call.inquiry_id,
                "status": step.to_status,
                "step_id": step.step_id,
            },
        )
    visible = conn.execute(
        select(Warning.id).where(Warning.id == call.warning_id, scope.regions(Warning.mof_div_code))
    ).scalar()
    if visible is None:
        raise NotFound(f"no warning {call.warning_id}")
    wactor = warnings.Actor(sub=sub, body="finance", region=region, org=call.actor.org)
    with warning_problems():
        wstep = warnings.apply(
            conn, call.warning_id, call.action, actor=wactor, comment=call.comment, verdict=call.verdict
        )
    return Answer(
        status=200,
        document={
            "applied": call.type,
            "warning_id": call.warning_id,
            "status": wstep.to_status.value,
            "step_id": wstep.step_id,
        },
    )


def _replay(writer: Engine, channel: str, message_id: str) -> Answer | None:
    with writer.connect() as conn:
        row = conn.execute(
            select(CallbackReceipt.status_code, CallbackReceipt.response).where(
                CallbackReceipt.channel == channel, CallbackReceipt.message_id == message_id
            )
        ).first()
    if row is None:
        return None
    return Answer(status=row[0], document=orjson.loads(row[1]), replayed=True)


def _receipt(channel: str, message_id: str, answer: Answer) -> dict[str, Any]:
    return {
        "channel": channel,
        "message_id": message_id,
        "received_at": utcnow(),
        "status_code": answer.status,
        "response": orjson.dumps(answer.document).decode(),
    }


def _remembered(
    writer: Engine, channel: str, message_id: str, produce: Callable[[Connection], Answer]
) -> Answer:
    """``produce``'s answer, stored as the message's receipt in the transaction ``produce`` works in; when
    a concurrent delivery of the same message stored one first, that one (this transaction rolls back)."""
    try:
        with write_transaction(writer) as conn:
            answer = produce(conn)
            conn.execute(insert(CallbackReceipt).values(_receipt(channel, message_id, answer)))
            return answer
    except IntegrityError:
        again = _replay(writer, channel, message_id)
        if again is None:
            raise
        return again


def handle(
    writer: Engine, config: FeedbackConfig, channel: str, headers: dict[str, str], body: bytes
) -> Answer:
    """Verify, then apply once, a callback to ``channel``; the answer to give (and give again)."""
    region = config.callback_region(channel)
    if region is None:
        raise CallbackRefused(404, "Not found", f"no channel {channel!r} takes callbacks")
    if len(body) > MAX_BODY:
        raise CallbackRefused(413, "Payload too large", f"body: at most {MAX_BODY} bytes")
    try:
        # the secrets as the channel itself reads them (expanded from the environment, trimmed)
        secrets = list(getattr(config.channel(channel), "secrets", ()))
    except ConfigError as exc:
        raise CallbackRefused(503, "Service unavailable", f"channel {channel}: {exc}") from None
    try:
        message_id = verify(secrets, headers, body)
    except SignatureError as exc:
        raise CallbackRefused(401, "Unauthorized", f"signature: {exc}") from None
    if len(message_id) > 255:
        raise CallbackRefused(400, "Bad parameter", "webhook-id: at most 255 characters")
    replayed = _replay(writer, channel, message_id)
    if replayed is not None:
        return replayed
    call = _parse(body)
    if isinstance(call, Answer):
        return _remembered(writer, channel, message_id, lambda _conn: call)
    try:
        return _remembered(writer, channel, message_id, lambda conn: _apply(conn, channel, region, call))
    except ProblemError as exc:
        if exc.status >= 500:
            raise  # not the message's fault: a retry of it may succeed, so nothing is remembered
        # a refusal is remembered too (in a transaction of its own: the step's rolled back), so that a
        # replay of the same message gets the same answer rather than a different one once the state moved
        refused = _problem(exc.status, exc.title, exc.detail)
        return _remembered(writer, channel, message_id, lambda _conn: refused)
