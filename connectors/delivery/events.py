"""The events the feedback loop delivers, and the JSON document each becomes.

An event is about one region (the one that must act) and is addressed to some bodies (its audience):
a new warning and a new or returned inquiry to the finance bureau that answers them, an answer to the
body that asked, an overdue inquiry to both. Subscriptions choose events by type, level, region subtree and
audience (:mod:`connectors.delivery.config`).

The document carries identifiers, figures and links, never personal data: a warning's message (which may
name a subsidy recipient) stays in the API, behind its masking.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

WARNING_RAISED = "warning.raised"
INQUIRY_RAISED = "inquiry.raised"
INQUIRY_ANSWERED = "inquiry.answered"
INQUIRY_ACCEPTED = "inquiry.accepted"
INQUIRY_RETURNED = "inquiry.returned"
INQUIRY_OVERDUE = "inquiry.overdue"
EVENT_TYPES = (
    WARNING_RAISED,
    INQUIRY_RAISED,
    INQUIRY_ANSWERED,
    INQUIRY_ACCEPTED,
    INQUIRY_RETURNED,
    INQUIRY_OVERDUE,
)
LEVELS = ("blue", "yellow", "orange", "red")  # 蓝 黄 橙 红, lowest first
FINANCE = frozenset({"finance"})


def utcnow() -> datetime:
    """Now in UTC, naive (as every timestamp column holds it)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Event:
    """Something that happened, to tell the bodies in ``audience`` about."""

    type: str
    region: str  # mof_div_code of the region concerned
    data: dict[str, Any]  # JSON values only: money as yuan strings, dates as ISO text
    audience: frozenset[str] = FINANCE
    level: str | None = None  # warnings: blue, yellow, orange or red
    id: str = field(default_factory=lambda: str(uuid.uuid4()))  # the idempotency key
    occurred_at: datetime = field(default_factory=utcnow)  # UTC, naive

    def document(self) -> bytes:
        """The JSON document every channel delivers (a webhook's body, a broker's message)."""
        return orjson.dumps(
            {
                "id": self.id,
                "type": self.type,
                "occurred_at": self.occurred_at.isoformat(timespec="milliseconds") + "Z",
                "region": self.region,
                "level": self.level,
                "audience": sorted(self.audience),
                "data": self.data,
            }
        )
