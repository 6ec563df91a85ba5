"""The feedback loop (问题反馈): inquiries (询问函) and their answers, and the delivery of events to outside
channels through a transactional outbox.

These, with the warnings' lifecycle steps, are the only tables a caller of the API writes to.

- An :class:`Inquiry` is raised by a congress, audit or discipline user about one object (a payment, an
  indicator, a project, a special fund or a warning) and routed to the finance bureau of the object's
  region; every step (raise, answer, accept, return) is kept as an :class:`InquiryStep`.
- An event (a new warning, a new inquiry, an answer, an overdue inquiry) is written to the :class:`Outbox`
  in the same transaction as what it reports, one row per channel that subscribes to it; the dispatcher
  delivers each at least once and moves the ones that keep failing to :class:`DeadLetter`.
- A :class:`ChannelState` row disables a channel whose endpoint answered 410 Gone.
- A :class:`CallbackReceipt` remembers each signed callback applied, so that a replay changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base


class Inquiry(Base):
    """询问函: a question about one object, to the finance bureau of the object's region."""

    __tablename__ = "inquiry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    object_type: Mapped[str] = mapped_column(String(16), nullable=False)  # payment, indicator, …
    object_id: Mapped[str] = mapped_column(String(64), nullable=False)
    mof_div_code: Mapped[str] = mapped_column(String(9), nullable=False)  # the region that must answer
    fiscal_year: Mapped[int | None] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(200), nullable=False)
    question: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # open | answered | returned | accepted
    round: Mapped[int] = mapped_column(Integer, nullable=False, default=1)  # 1, and one more per return
    deadline: Mapped[date] = mapped_column(Date, nullable=False)  # the last working day to answer (China)
    asker_sub: Mapped[str] = mapped_column(String(255), nullable=False)
    asker_body: Mapped[str] = mapped_column(String(32), nullable=False)
    asker_org: Mapped[str | None] = mapped_column(String(255))
    asker_region: Mapped[str | None] = mapped_column(String(9))
    raised_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)  # UTC, naive
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)  # the latest answer
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)  # accepted
    overdue_round: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # overdue event sent for

    __table_args__ = (
        Index("ix_inquiry_region", "mof_div_code", "status"),
        Index("ix_inquiry_asker", "asker_body", "status"),
        Index("ix_inquiry_object", "object_type", "object_id"),
        Index("ix_inquiry_deadline", "status", "deadline"),
    )


class InquiryStep(Base):
    """One step of an inquiry: raised, answered (with attachment metadata), accepted or returned."""

    __tablename__ = "inquiry_step"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    inquiry_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    action: Mapped[str] = mapped_column(String(16), nullable=False)  # raise | answer | accept | return
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    round: Mapped[int] = mapped_column(Integer, nullable=False)
    actor_sub: Mapped[str] = mapped_column(String(255), nullable=False)
    actor_body: Mapped[str] = mapped_column(String(32), nullable=False)
    actor_org: Mapped[str | None] = mapped_column(String(255))
    via: Mapped[str] = mapped_column(String(80), nullable=False)  # rest | graphql | channel:NAME
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    text: Mapped[str | None] = mapped_column(Text)  # the question, the answer or the comment
    # answers: [{name, media_type, size, sha256, url}] (metadata only: the files stay where they are)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)


class Outbox(Base):
    """One event to deliver to one channel, written in the transaction of what it reports."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), nullable=False)  # the idempotency key
    event_type: Mapped[str] = mapped_column(String(32), nullable=False)
    channel: Mapped[str] = mapped_column(String(64), nullable=False)
    region: Mapped[str] = mapped_column(String(9), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)  # the JSON document, byte for byte as sent
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)  # UTC, the event's commit
    status: Mapped[str] = mapped_column(String(12), nullable=False)  # pending | delivered
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    available_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)  # not tried before this
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)  # a dispatcher holds it until then
    leased_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("event_id", "channel", name="uq_outbox_event_channel"),
        Index("ix_outbox_due", "status", "available_at"),
        # never reuse an id (SQLite would hand out the largest again once its row moved to the dead letters)
        {"sqlite_autoincrement": True},
    )


class DeadLetter(Base):
    """An outbox row given up on after the configured attempts (or refused for good): kept until someone
    retries it (``oversight outbox retry``), never dropped."""

    __tablename__ = "outbox_dead"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(Integer, nullable=False)  # the outbox row it was
    event_id: Mapped[str] = mapped_column(String(36), nullable=False)
    event_type: Mapped[str] = mapped_column(String(32), nullable=False)
    channel: Mapped[str] = mapped_column(String(64), nullable=False)
    region: Mapped[str] = mapped_column(String(9), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    died_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    __table_args__ = (Index("ix_outbox_dead_channel", "channel"),)


class ChannelState(Base):
    """A channel turned off: its endpoint answered 410 Gone, or an operator disabled it. Its events wait in
    the outbox until it is enabled again."""

    __tablename__ = "channel_state"

    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    reason: Mapped[str | None] = mapped_column(Text)


class CallbackReceipt(Base):
    """A signed inbound callback applied once: its ``webhook-id`` and what it answered."""

    __tablename__ = "callback_receipt"

    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    response: Mapped[str] = mapped_column(Text, nullable=False)  # the JSON answered, answered again


FEEDBACK_TABLES = ("inquiry", "inquiry_step", "outbox", "outbox_dead", "channel_state", "callback_receipt")
