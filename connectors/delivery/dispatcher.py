"""The dispatcher: delivers the outbox to its channels at least once.

One round (:meth:`Dispatcher.run_once`):

1. **Claim** a batch of due rows in a short write transaction: pending, ``available_at`` passed, not
   leased by a live dispatcher, of a configured and enabled channel. Each claimed row gets a lease
   (``lease_until``, ``leased_by``) and one more attempt, and the transaction commits before anything is
   sent. On PostgreSQL the claim skips rows another dispatcher holds (``FOR UPDATE SKIP LOCKED``), so
   several run side by side; on SQLite the claim takes the write lock.
2. **Deliver** each channel's rows in one call, in outbox order, outside any transaction.
3. **Record** the outcomes in a second write transaction: delivered rows are marked so; a failure to
   retry waits ``min(backoff_max, base · 2^(attempt-1))`` with full jitter (at least what ``Retry-After``
   asked); after ``max_attempts``, or a permanent refusal, the row moves to the dead letters; a ``410
   Gone`` disables the channel and its rows wait in the outbox. Each update names the dispatcher's lease,
   so a dispatcher that lost its lease (it stalled past it) changes nothing.

A dispatcher that dies between 2 and 3 leaves leased rows that another claims once the lease runs out:
they are sent again, and the receiver drops the duplicate by the idempotency key (the event's id). That
is the "at least once"; nothing is lost, because a row leaves the outbox only for the dead letters.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from connectors.channels.base import Channel, Message, Outcome, Result
from connectors.delivery.config import FeedbackConfig, FeedbackSettings
from connectors.delivery.events import utcnow
from schema.db import write_transaction
from schema.feedback import CallbackReceipt, ChannelState, DeadLetter, Outbox

log = logging.getLogger("oversight.dispatch")
SLICE = 100  # rows of one channel handed to it at once


@dataclass
class Round:
    """What one round did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    disabled: list[str] = field(default_factory=list)
    by_channel: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # delivered per channel


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    channel: str
    attempts: int  # including this one
    message: Message


def worker_name() -> str:
    """Unique per dispatcher, even for two containers with the same host name and pid: the lease guard
    (``leased_by``) must tell them apart."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:16]}"


def disabled_channels(conn: Connection) -> set[str]:
    return set(conn.scalars(select(ChannelState.channel).where(ChannelState.disabled_at.is_not(None))))


def set_channel_state(
    conn: Connection, channel: str, disabled_at: datetime | None, reason: str | None
) -> None:
    """Disable (``disabled_at`` set) or enable a channel."""
    values = {"channel": channel, "disabled_at": disabled_at, "reason": reason}
    stmt = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(ChannelState).values(values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["channel"], set_={"disabled_at": disabled_at, "reason": reason}
        )
    )


def backoff(attempt: int, settings: FeedbackSettings, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait before attempt ``attempt + 1``: full jitter over an exponential ceiling, but never
    less than the receiver's ``Retry-After`` (capped at the longest delay)."""
    ceiling = min(settings.backoff_max_s, settings.backoff_base_ms / 1000 * 2 ** min(attempt - 1, 30))
    delay = rng.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.backoff_max_s))
    return delay


def move_to_dead(conn: Connection, ids: Sequence[int], now: datetime, error: str | None = None) -> int:
    """Move outbox rows to the dead letters (with their last error, or ``error``)."""
    if not ids:
        return 0
    rows = conn.execute(
        select(
            Outbox.id.label("outbox_id"),
            Outbox.event_id,
            Outbox.event_type,
            Outbox.channel,
            Outbox.region,
            Outbox.payload,
            Outbox.created_at,
            Outbox.attempts,
            Outbox.last_error,
        ).where(Outbox.id.in_(ids))
    ).mappings()
    dead = [{**r, "last_error": error or r["last_error"], "died_at": now} for r in rows]
    if dead:
        conn.execute(insert(DeadLetter), dead)
        conn.execute(delete(Outbox).where(Outbox.id.in_([d["outbox_id"] for d in dead])))
    return len(dead)


def retry_dead(conn: Connection, ids: Iterable[int] | None = None, channel: str | None = None) -> int:
    """Put dead letters back in the outbox as new rows, due now (attempts from zero); ``ids`` None: all (of
    ``channel``). Their event id, the idempotency key, stays: a receiver that got one after all drops it."""
    query = select(DeadLetter.__table__)
    if ids is not None:
        query = query.where(DeadLetter.id.in_(list(ids)))
    if channel is not None:
        query = query.where(DeadLetter.channel == channel)
    now = utcnow()
    dead = list(conn.execute(query).mappings())
    rows = [
        {
            **{k: d[k] for k in ("event_id", "event_type", "channel", "region", "payload", "created_at")},
            "status": "pending",
            "attempts": 0,
            "available_at": now,
            "last_error": d["last_error"],
        }
        for d in dead
    ]
    if rows:
        conn.execute(insert(Outbox), rows)
        conn.execute(delete(DeadLetter).where(DeadLetter.id.in_([d["id"] for d in dead])))
    return len(rows)


def purge_delivered(conn: Connection, before: datetime) -> tuple[int, int]:
    """Delete delivered outbox rows and callback receipts older than ``before``: what ``oversight outbox
    purge`` keeps the tables small with. Pending rows and dead letters are never purged."""
    outbox = conn.execute(
        delete(Outbox).where(Outbox.status == "delivered", Outbox.delivered_at < before)
    ).rowcount
    receipts = conn.execute(delete(CallbackReceipt).where(CallbackReceipt.received_at < before)).rowcount
    return int(outbox or 0), int(receipts or 0)


class Dispatcher:
    """Delivers ``engine``'s outbox through the channels of ``config``."""

    def __init__(
        self,
        engine: Engine,
        config: FeedbackConfig,
        settings: FeedbackSettings | None = None,
        *,
        worker: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        seed: int | None = None,
        channels: dict[str, Channel] | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.settings = settings or FeedbackSettings()
        self.worker = worker or worker_name()
        self.clock = clock
        self.rng = random.Random(seed)
        self._channels: dict[str, Channel] = dict(channels or {})  # built on first use, unless given

    def channel(self, name: str) -> Channel:
        if name not in self._channels:
            self._channels[name] = self.config.channel(name)
        return self._channels[name]

    def close(self) -> None:
        for ch in self._channels.values():
            try:
                ch.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                log.exception("closing channel %s", ch.name)
        self._channels.clear()

    # --- 1. claim ---------------------------------------------------------------------------------------

    def claim(self, now: datetime) -> list[Claimed]:
        configured = list(self.config.channels)
        if not configured:
            return []
        lease = now + timedelta(seconds=self.settings.lease_s)
        with write_transaction(self.engine) as conn:
            wanted = [c for c in configured if c not in disabled_channels(conn)]
            if not wanted:
                return []
            query = (
                select(Outbox.id, Outbox.event_id, Outbox.event_type, Outbox.channel, Outbox.region)
                .add_columns(Outbox.created_at, Outbox.payload, Outbox.attempts)
                .where(
                    Outbox.status == "pending",
                    Outbox.available_at <= now,
                    (Outbox.lease_until.is_(None)) | (Outbox.lease_until <= now),
                    Outbox.channel.in_(wanted),
                )
                .order_by(Outbox.id)
                .limit(self.settings.batch)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).all()
            if not rows:
                return []
            conn.execute(
                update(Outbox)
                .where(Outbox.id.in_([r.id for r in rows]))
                .values(lease_until=lease, leased_by=self.worker, attempts=Outbox.attempts + 1)
            )
        return [
            Claimed(
                r.id,
                r.channel,
                r.attempts + 1,
                Message(r.event_id, r.event_type, r.region, r.created_at, r.payload.encode()),
            )
            for r in rows
        ]

    # --- 2. deliver -------------------------------------------------------------------------------------

    def deliver(self, claimed: Sequence[Claimed]) -> list[tuple[Claimed, Outcome]]:
        """Each channel's rows in slices of :data:`SLICE`; a slice is not started once half the lease has
        gone (a slow endpoint must not let the lease run out under rows still being sent, or another
        dispatcher would send them too): its rows are answered ``retry`` unsent."""
        started = time.monotonic()
        budget = self.settings.lease_s / 2
        by_channel: dict[str, list[Claimed]] = defaultdict(list)
        for c in claimed:
            by_channel[c.channel].append(c)
        results: list[tuple[Claimed, Outcome]] = []
        for name, items in by_channel.items():
            for i in range(0, len(items), SLICE):
                part = items[i : i + SLICE]
                if time.monotonic() - started > budget:
                    unsent = Outcome(Result.retry, "not sent: the batch used half its lease", 0.0)
                    results.extend((c, unsent) for c in part)
                    continue
                results.extend(zip(part, self._send(name, part), strict=True))
        return results

    def _send(self, name: str, items: Sequence[Claimed]) -> list[Outcome]:
        try:
            outcomes = self.channel(name).deliver([c.message for c in items])
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not stop the other channels
            log.exception("channel %s failed to deliver", name)
            broken = self._channels.pop(name, None)
            if broken is not None:
                try:
                    broken.close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    log.exception("closing channel %s", name)
            return [Outcome(Result.retry, f"{type(exc).__name__}: {exc}")] * len(items)
        if len(outcomes) != len(items):
            return [Outcome(Result.retry, f"channel {name} answered {len(outcomes)} outcomes")] * len(items)
        return outcomes

    # --- 3. record --------------------------------------------------------------------------------------

    def _given_up(self, c: Claimed, now: datetime) -> bool:
        """A failing event is given up on after ``max_attempts`` AND ``dead_after_s``: an outage of the
        receiver (every attempt refused for hours) must not turn every waiting event into a dead letter."""
        old_enough = (now - c.message.created_at).total_seconds() >= self.settings.dead_after_s
        return c.attempts >= self.settings.max_attempts and old_enough

    def record(self, results: Sequence[tuple[Claimed, Outcome]], now: datetime, report: Round) -> None:
        delivered = [c.id for c, o in results if o.result is Result.delivered]
        dead: list[tuple[int, str | None]] = []
        later: list[dict[str, Any]] = []
        gone: dict[str, str] = {}
        waiting: list[dict[str, Any]] = []
        for c, o in results:
            if o.result is Result.failed or (o.result is Result.retry and self._given_up(c, now)):
                reason = o.error if o.result is Result.failed else f"{o.error} (after {c.attempts} attempts)"
                dead.append((c.id, reason))
            elif o.result is Result.retry:
                delay = backoff(c.attempts, self.settings, o.retry_after, self.rng)
                later.append({"b_id": c.id, "b_at": now + timedelta(seconds=delay), "b_error": o.error})
            elif o.result is Result.gone:
                gone[c.channel] = o.error or "the endpoint answered 410 Gone"
                # not the message's fault: the attempt does not count, it waits for the channel
                waiting.append({"b_id": c.id, "b_at": now, "b_error": o.error})
        mine = Outbox.leased_by == self.worker
        with write_transaction(self.engine) as conn:
            for i in range(0, len(delivered), 500):
                part = delivered[i : i + 500]
                conn.execute(
                    update(Outbox)
                    .where(Outbox.id.in_(part), mine)
                    .values(status="delivered", delivered_at=now, lease_until=None, last_error=None)
                )
            if later:
                conn.execute(
                    update(Outbox)
                    .where(Outbox.id == bindparam("b_id"), mine)
                    .values(
                        available_at=bindparam("b_at"), last_error=bindparam("b_error"), lease_until=None
                    ),
                    later,
                )
            if waiting:
                conn.execute(
                    update(Outbox)
                    .where(Outbox.id == bindparam("b_id"), mine)
                    .values(
                        available_at=bindparam("b_at"),
                        last_error=bindparam("b_error"),
                        lease_until=None,
                        attempts=Outbox.attempts - 1,
                    ),
                    waiting,
                )
            for rid, reason in dead:
                owned = conn.execute(select(Outbox.id).where(Outbox.id == rid, mine)).first()
                if owned is not None:
                    report.dead += move_to_dead(conn, [rid], now, reason)
            for name, reason in gone.items():
                set_channel_state(conn, name, now, reason)
        for c, o in results:
            if o.result is Result.delivered:
                report.by_channel[c.channel] += 1
        report.delivered += len(delivered)
        report.retried += len(later)
        report.disabled.extend(sorted(gone))
        for name, reason in gone.items():
            log.warning("channel %s disabled: %s", name, reason)

    def run_once(self) -> Round:
        """Claim, deliver and record one batch; what it did."""
        report = Round()
        claimed = self.claim(self.clock())
        report.claimed = len(claimed)
        if claimed:
            results = self.deliver(claimed)
            self.record(results, self.clock(), report)
        return report

    def drain(self, *, max_rounds: int | None = None) -> Round:
        """Rounds until nothing is due (retries scheduled later are left for later)."""
        total = Round()
        rounds = 0
        while max_rounds is None or rounds < max_rounds:
            r = self.run_once()
            rounds += 1
            if not r.claimed:
                break
            total.claimed += r.claimed
            total.delivered += r.delivered
            total.retried += r.retried
            total.dead += r.dead
            total.disabled.extend(r.disabled)
            for k, v in r.by_channel.items():
                total.by_channel[k] += v
        return total

    def run(
        self,
        stop: threading.Event,
        *,
        on_round: Callable[[Round], None] | None = None,
        sweep: Callable[[], Any] | None = None,
        sweep_every_s: float = 60.0,
    ) -> None:
        """Deliver until ``stop`` is set: a busy round follows at once, an idle one waits ``poll_ms``;
        ``sweep`` (overdue inquiries) runs every ``sweep_every_s``. A database that is briefly
        unreachable is waited out, not a reason to stop."""
        next_sweep = 0.0
        idle = self.settings.poll_ms / 1000
        try:
            while not stop.is_set():
                if sweep is not None and time.monotonic() >= next_sweep:
                    try:
                        sweep()
                    except Exception:  # noqa: BLE001 - logged; the next sweep tries again
                        log.exception("the overdue sweep failed")
                    next_sweep = time.monotonic() + sweep_every_s
                try:
                    r = self.run_once()
                except Exception:  # noqa: BLE001 - the database is down or locked: wait and try again
                    log.exception("a dispatch round failed")
                    stop.wait(max(idle, 1.0))
                    continue
                if on_round is not None and r.claimed:
                    on_round(r)
                if not r.claimed:
                    stop.wait(idle)
        finally:
            self.close()
