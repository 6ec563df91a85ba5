"""The transactional outbox: events written in the transaction of what they report, one row per channel.

:func:`enqueue` is called inside the writer's own transaction (a new warning's insert, an inquiry's step):
if that transaction rolls back, no event exists; if it commits, every subscribed channel's row exists, and
the dispatcher will deliver it at least once. Nothing is sent from inside a transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert, select

from connectors.delivery.config import FeedbackConfig, current_config
from connectors.delivery.events import Event, utcnow
from schema.feedback import Outbox
from schema.org import RegionClosure

CHUNK = 500


def ancestors(conn: Connection, regions: set[str]) -> dict[str, set[str]]:
    """Each region with every region whose subtree holds it (itself included)."""
    found: dict[str, set[str]] = {r: {r} for r in regions}
    codes = sorted(regions)
    for i in range(0, len(codes), CHUNK):
        part = codes[i : i + CHUNK]
        for ancestor, descendant in conn.execute(
            select(RegionClosure.ancestor, RegionClosure.descendant).where(RegionClosure.descendant.in_(part))
        ):
            found[descendant].add(ancestor)
    return found


def outbox_rows(conn: Connection, events: Sequence[Event], config: FeedbackConfig) -> list[dict[str, Any]]:
    """The outbox rows of ``events``: one per event and subscribed channel (two subscriptions that send an
    event to one channel send it once)."""
    if not events or not config.subscriptions:
        return []
    up = ancestors(conn, {e.region for e in events})
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for e in events:
        channels = {
            s.channel for s in config.subscriptions if s.wants(e.type, e.level, up[e.region], e.audience)
        }
        if not channels:
            continue
        payload = e.document().decode()
        rows.extend(
            {
                "event_id": e.id,
                "event_type": e.type,
                "channel": channel,
                "region": e.region,
                "payload": payload,
                "created_at": now,
                "status": "pending",
                "attempts": 0,
                "available_at": now,
            }
            for channel in sorted(channels)
        )
    return rows


def enqueue(conn: Connection, events: Sequence[Event], config: FeedbackConfig | None = None) -> int:
    """Write the outbox rows of ``events`` in the caller's transaction; how many rows."""
    rows = outbox_rows(conn, events, config if config is not None else current_config())
    for i in range(0, len(rows), CHUNK):
        conn.execute(insert(Outbox), rows[i : i + CHUNK])
    return len(rows)
