"""The interface every channel plugin implements, and the outcomes of a delivery.

A channel is built from its section of the feedback configuration (``[channels.NAME]``) and delivers
:class:`Message` s: an event's JSON document, byte for byte as the outbox holds it, with the event's id as
the idempotency key the receiver removes duplicates by (delivery is at least once). ``deliver`` takes a
batch and answers one :class:`Outcome` per message, in order, so that a channel able to pipeline (a broker
with publisher confirms, a Redis pipeline) sends a batch in one round trip; it raises nothing for one
message's failure, only for its own misconfiguration.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar


class ChannelConfigError(ValueError):
    """A channel's configuration is wrong; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Message:
    """One event for one channel."""

    id: str  # the event's id: the idempotency key
    type: str  # warning.raised, inquiry.raised, …
    region: str  # the region (mof_div_code) the event concerns
    created_at: datetime  # UTC, naive: when the event was committed
    body: bytes  # the JSON document


class Result(StrEnum):
    delivered = "delivered"
    retry = "retry"  # failed for now (a broker down, a timeout, a 5xx, a 429): try again later
    failed = (
        "failed"  # refused for good (a 4xx other than 408, 409, 410, 425, 429): straight to the dead letters
    )
    gone = "gone"  # the endpoint is gone (HTTP 410): the channel is disabled, the message waits


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    error: str | None = None  # what went wrong, safe to store and show (no secrets)
    retry_after: float | None = None  # seconds the receiver asked to wait (Retry-After)

    @classmethod
    def ok(cls) -> Outcome:
        return cls(Result.delivered)


DELIVERED = Outcome(Result.delivered)


class Channel(abc.ABC):
    """A configured destination. Subclasses set ``kind`` and build themselves from their TOML section."""

    kind: ClassVar[str]

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    @abc.abstractmethod
    def from_config(cls, name: str, cfg: dict[str, Any]) -> Channel:
        """Build from ``[channels.NAME]`` (``${VAR}`` already expanded); :class:`ChannelConfigError` names a
        missing or wrong setting."""

    @abc.abstractmethod
    def deliver(self, messages: Sequence[Message]) -> list[Outcome]:
        """Deliver a batch; one outcome per message, in order. A connection lost half-way answers
        ``retry`` for the messages it could not confirm."""

    def close(self) -> None:  # noqa: B027 - optional for channels that hold no connection
        """Release connections (the dispatcher calls it on exit and after a connection error)."""

    def describe(self) -> str:
        """Where it delivers, without secrets (for ``oversight outbox`` and logs)."""
        return self.kind
