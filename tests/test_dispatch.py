"""The outbox and its dispatcher, on both engines: fan-out by subscription in the writer's transaction,
delivery in order, retries with backoff, dead letters, a 410 disabling a channel, leases taken over after
a dispatcher dies. The channels here are scripted in-process; tests/test_delivery.py runs the real ones."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, func, select

from connectors.channels.base import Channel, Message, Outcome, Result
from connectors.delivery.config import FeedbackConfig, FeedbackSettings, Subscription
from connectors.delivery.dispatcher import Dispatcher, backoff, retry_dead, set_channel_state
from connectors.delivery.events import INQUIRY_ANSWERED, INQUIRY_RAISED, WARNING_RAISED, Event
from connectors.delivery.outbox import enqueue
from schema.db import write_transaction
from schema.feedback import ChannelState, DeadLetter, Outbox

T0 = datetime(2030, 3, 2, 8, 0, 0)  # after every event the tests enqueue (stamped with the real clock)


class Scripted(Channel):
    """A channel whose answer to the n-th attempt of a message is ``script(message, n)``."""

    kind = "scripted"

    def __init__(self, name: str, script: Callable[[Message, int], Outcome] | None = None) -> None:
        super().__init__(name)
        self.script = script or (lambda _m, _n: Outcome(Result.delivered))
        self.attempts: Counter[str] = Counter()
        self.delivered: list[str] = []

    @classmethod
    def from_config(cls, name: str, cfg: dict[str, object]) -> Channel:
        return cls(name)

    def deliver(self, messages: Sequence[Message]) -> list[Outcome]:
        out = []
        for m in messages:
            self.attempts[m.id] += 1
            o = self.script(m, self.attempts[m.id])
            if o.result is Result.delivered:
                self.delivered.append(m.id)
            out.append(o)
        return out


def config(*subs: Subscription, channels: Sequence[str] = ("a", "b")) -> FeedbackConfig:
    return FeedbackConfig(channels={c: {"type": "fake"} for c in channels}, subscriptions=subs)


EVERYTHING = Subscription("a", frozenset({"inquiry.*", "warning.*"}))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def settings(**kw: int) -> FeedbackSettings:
    values = {"max_attempts": 4, "backoff_base_ms": 1000, "backoff_max_s": 60, "batch": 50, "lease_s": 30}
    values.update(kw)
    return FeedbackSettings(**values)  # type: ignore[arg-type]


def events(n: int, type_: str = INQUIRY_RAISED, region: str = "410100000", **kw: object) -> list[Event]:
    return [Event(type=type_, region=region, data={"n": i}, **kw) for i in range(n)]  # type: ignore[arg-type]


def put(engine: Engine, evs: Sequence[Event], cfg: FeedbackConfig) -> int:
    with write_transaction(engine) as conn:
        return enqueue(conn, evs, cfg)


def statuses(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        found = Counter(dict(conn.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all()))
        found["dead"] = conn.execute(select(func.count()).select_from(DeadLetter)).scalar_one()
    return found


def dispatcher(engine: Engine, cfg: FeedbackConfig, clock: Clock, **channels: Channel) -> Dispatcher:
    return Dispatcher(engine, cfg, settings(), clock=clock, seed=1, channels=dict(channels), worker="w1")


# --- the outbox ---------------------------------------------------------------------------------------


def test_enqueue_follows_the_subscriptions(engine: Engine) -> None:
    cfg = config(
        Subscription("a", frozenset({"inquiry.*"})),
        Subscription("a", frozenset({INQUIRY_RAISED})),  # a second way to the same channel: sent once
        Subscription("b", frozenset({WARNING_RAISED}), min_level="orange", bodies=frozenset({"finance"})),
        Subscription("b", frozenset({INQUIRY_ANSWERED}), regions=("410200000",), bodies=frozenset({"audit"})),
    )
    evs = [
        Event(type=INQUIRY_RAISED, region="410100000", data={}),  # a
        Event(type=WARNING_RAISED, region="410100000", data={}, level="yellow"),  # below orange: none
        Event(type=WARNING_RAISED, region="410100000", data={}, level="red"),  # b
        Event(type=INQUIRY_ANSWERED, region="410200000", data={}, audience=frozenset({"audit"})),  # a, b
        Event(type=INQUIRY_ANSWERED, region="410300000", data={}, audience=frozenset({"audit"})),  # a
        Event(type=INQUIRY_ANSWERED, region="410200000", data={}, audience=frozenset({"congress"})),  # a
    ]
    assert put(engine, evs, cfg) == 6
    with engine.connect() as conn:
        rows = conn.execute(select(Outbox.event_id, Outbox.channel, Outbox.payload)).all()
    got = {(evs.index(next(e for e in evs if e.id == r[0])), r[1]) for r in rows}
    assert got == {(0, "a"), (2, "b"), (3, "a"), (3, "b"), (4, "a"), (5, "a")}
    doc = orjson.loads(next(r[2] for r in rows if r[0] == evs[2].id))
    assert doc["id"] == evs[2].id and doc["type"] == WARNING_RAISED and doc["level"] == "red"
    assert doc["region"] == "410100000" and doc["audience"] == ["finance"]


def test_a_rolled_back_transaction_leaves_no_event(engine: Engine) -> None:
    with pytest.raises(RuntimeError), write_transaction(engine) as conn:
        enqueue(conn, events(3), config(EVERYTHING))
        raise RuntimeError("the writer's own statement failed")
    assert statuses(engine)["pending"] == 0


def test_no_subscription_no_row(engine: Engine) -> None:
    assert put(engine, events(3), config()) == 0


# --- delivery -------------------------------------------------------------------------------------------


def test_delivers_everything_in_order_once(engine: Engine) -> None:
    cfg = config(EVERYTHING)
    evs = events(120)
    put(engine, evs, cfg)
    ch = Scripted("a")
    d = dispatcher(engine, cfg, Clock(), a=ch)
    total = d.drain()
    assert total.delivered == 120 and ch.delivered == [e.id for e in evs]
    assert statuses(engine) == Counter({"delivered": 120, "dead": 0})
    assert d.run_once().claimed == 0


def test_a_failure_waits_then_succeeds(engine: Engine) -> None:
    cfg = config(EVERYTHING)
    put(engine, events(5), cfg)
    clock = Clock()
    ch = Scripted(
        "a", lambda _m, n: Outcome(Result.retry, "503 from the receiver") if n < 3 else Outcome.ok()
    )
    d = dispatcher(engine, cfg, clock, a=ch)
    assert d.run_once().retried == 5
    assert d.run_once().claimed == 0  # not due yet
    with engine.connect() as conn:
        row = conn.execute(select(Outbox.__table__).limit(1)).one()
    assert row.attempts == 1 and row.last_error == "503 from the receiver" and row.lease_until is None
    assert T0 <= row.available_at <= T0 + timedelta(seconds=1)  # first retry: up to the base
    clock.advance(1.01)
    assert d.run_once().retried == 5
    clock.advance(2.01)  # second retry: up to twice the base
    assert d.run_once().delivered == 5
    assert statuses(engine)["delivered"] == 5


def test_dead_letters_after_max_attempts_and_retry_from_them(engine: Engine) -> None:
    cfg = config(EVERYTHING)
    put(engine, events(2), cfg)
    clock = Clock()
    broken = Scripted("a", lambda _m, _n: Outcome(Result.retry, "connection refused"))
    d = dispatcher(engine, cfg, clock, a=broken)
    for _ in range(4):
        d.run_once()
        clock.advance(120)
    assert statuses(engine) == Counter({"dead": 2})
    with engine.connect() as conn:
        dead = conn.execute(select(DeadLetter.__table__)).all()
    assert {x.attempts for x in dead} == {4}
    assert all(
        "connection refused" in (x.last_error or "") and "after 4 attempts" in (x.last_error or "")
        for x in dead
    )
    with write_transaction(engine) as conn:
        assert retry_dead(conn) == 2
    ok = Scripted("a")
    d2 = dispatcher(engine, cfg, clock, a=ok)
    assert d2.drain().delivered == 2
    assert sorted(ok.delivered) == sorted(x.event_id for x in dead)  # same idempotency keys
    assert statuses(engine) == Counter({"delivered": 2, "dead": 0})


def test_a_permanent_refusal_goes_straight_to_the_dead_letters(engine: Engine) -> None:
    cfg = config(EVERYTHING)
    evs = events(3)
    put(engine, evs, cfg)
    refuse = evs[1].id
    ch = Scripted(
        "a", lambda m, _n: Outcome(Result.failed, "400 bad request") if m.id == refuse else Outcome.ok()
    )
    dispatcher(engine, cfg, Clock(), a=ch).drain()
    with engine.connect() as conn:
        dead = conn.execute(select(DeadLetter.event_id, DeadLetter.last_error, DeadLetter.attempts)).all()
    assert dead == [(refuse, "400 bad request", 1)]
    assert statuses(engine)["delivered"] == 2


def test_410_disables_the_channel_and_its_events_wait(engine: Engine) -> None:
    cfg = config(EVERYTHING, Subscription("b", frozenset({"inquiry.*"})))
    put(engine, events(3), cfg)
    clock = Clock()
    gone = Scripted("a", lambda _m, _n: Outcome(Result.gone, "410 Gone"))
    other = Scripted("b")
    d = dispatcher(engine, cfg, clock, a=gone, b=other)
    r = d.drain()
    assert r.disabled == ["a"] and len(other.delivered) == 3  # the other channel goes on
    with engine.connect() as conn:
        state = conn.execute(select(ChannelState.__table__)).one()
        waiting = conn.execute(select(Outbox.attempts).where(Outbox.channel == "a")).scalars().all()
    assert state.channel == "a" and state.disabled_at == T0 and state.reason == "410 Gone"
    assert waiting == [0, 0, 0]  # not counted against the events, not dead
    clock.advance(3600)
    assert d.run_once().claimed == 0  # a disabled channel is not tried
    with write_transaction(engine) as conn:
        set_channel_state(conn, "a", None, None)
    back = Scripted("a")
    assert dispatcher(engine, cfg, clock, a=back).drain().delivered == 3
    assert statuses(engine) == Counter({"delivered": 6, "dead": 0})


def test_a_dead_dispatchers_lease_is_taken_over_and_its_late_record_changes_nothing(engine: Engine) -> None:
    cfg = config(EVERYTHING)
    put(engine, events(4), cfg)
    clock = Clock()
    first = Dispatcher(
        engine, cfg, settings(lease_s=30), clock=clock, channels={"a": Scripted("a")}, worker="w1"
    )
    claimed = first.claim(clock())
    results = first.deliver(claimed)  # delivered, then the dispatcher "dies" before recording
    second_ch = Scripted("a")
    second = Dispatcher(
        engine, cfg, settings(lease_s=30), clock=clock, channels={"a": second_ch}, worker="w2"
    )
    assert second.run_once().claimed == 0  # still leased
    clock.advance(31)
    assert second.run_once().delivered == 4  # delivered again: at least once
    from connectors.delivery.dispatcher import Round

    # the late record, and a damaging one (it says every send failed for good): the rows are w2's now
    refused = [(c, Outcome(Result.failed, "late and wrong")) for c, _ in results]
    first.record(refused, clock(), Round())
    first.record(results, clock(), Round())
    with engine.connect() as conn:
        rows = conn.execute(select(Outbox.status, Outbox.leased_by, Outbox.attempts)).all()
    assert rows == [("delivered", "w2", 2)] * 4
    assert statuses(engine)["dead"] == 0


def test_backoff_is_full_jitter_under_a_doubling_ceiling() -> None:
    s = settings(backoff_base_ms=500, backoff_max_s=30)
    rng = random.Random(3)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (40, 30.0)]:
        delays = [backoff(attempt, s, None, rng) for _ in range(400)]
        assert min(delays) >= 0 and max(delays) <= ceiling
        assert max(delays) > ceiling * 0.8 and min(delays) < ceiling * 0.2  # spread, not fixed
    assert all(backoff(1, s, 12.0, rng) >= 12.0 for _ in range(50))  # Retry-After is honoured
    assert backoff(1, s, 10_000, rng) == 30  # but not beyond the longest delay


def test_an_unconfigured_channel_keeps_its_events(engine: Engine) -> None:
    put(engine, events(2), config(Subscription("b", frozenset({"inquiry.*"}))))
    d = dispatcher(engine, config(EVERYTHING, channels=("a",)), Clock(), a=Scripted("a"))
    assert d.drain().claimed == 0
    assert statuses(engine)["pending"] == 2


# --- the rule engine writes its new warnings to the outbox ---------------------------------------------


def test_a_new_warning_is_an_event_in_its_own_transaction(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.rules import BY_CODE
    from schema.monitor import Warning
    from tests.factories import indicator, payment
    from tests.monitor_kit import load, run

    level = BY_CODE["USE-01"].level.value
    cfg = config(Subscription("a", frozenset({WARNING_RAISED}), regions=("410100000",)))
    monkeypatch.setattr("connectors.delivery.outbox.current_config", lambda: cfg)
    load(
        engine,
        tmp_path,
        ba_bgt_info=[indicator("B1", "900000.00")],
        pay_voucher=[
            payment("P1", "50000.01", set_mode_code="2"),
            payment("P2", "100.00", set_mode_code="2"),
        ],
    )
    run(engine, "USE-01")
    with engine.connect() as conn:
        raised = conn.execute(select(Warning.__table__)).all()  # the load's own run raised some too
        rows = conn.execute(select(Outbox.__table__)).all()
    assert len(rows) == len(raised) >= 2  # one event per new warning
    warning = next(w for w in raised if w.rule_code == "USE-01" and w.object_id == "P1")
    doc = next(d for d in (orjson.loads(r.payload) for r in rows) if d["data"]["warning_id"] == warning.id)
    assert doc["type"] == WARNING_RAISED and doc["level"] == level and doc["region"] == warning.mof_div_code
    assert doc["data"]["amount"] == "50000.01" and doc["data"]["rule_code"] == "USE-01"
    assert doc["data"]["link"] == f"/v1/warnings/{warning.id}" and "message" not in doc["data"]
    run(engine, "USE-01")  # found again: not raised again, no second event
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Outbox)).scalar_one() == len(rows)


def test_a_young_event_outlives_its_attempts(engine: Engine) -> None:
    """An outage shorter than ``dead_after_s`` only delays: attempts alone do not kill an event."""
    cfg = config(EVERYTHING)
    put(engine, events(1), cfg)
    clock = Clock()
    clock.now = datetime.now(UTC).replace(tzinfo=None)  # the event is seconds old
    down = Scripted("a", lambda _m, _n: Outcome(Result.retry, "connection refused"))
    d = Dispatcher(
        engine, cfg, settings(max_attempts=2, dead_after_s=3600), clock=clock, channels={"a": down}
    )
    for _ in range(5):
        d.run_once()
        clock.advance(120)
    assert statuses(engine) == Counter({"pending": 1, "dead": 0})
    clock.advance(3600)  # now old enough, and past its attempts
    d.run_once()
    assert statuses(engine) == Counter({"dead": 1})


def test_two_dispatchers_share_the_outbox_without_sending_twice(engine: Engine) -> None:
    """Side by side (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: the write lock), two dispatchers deliver
    every event exactly once when neither dies."""
    cfg = config(EVERYTHING)
    evs = events(600)
    put(engine, evs, cfg)
    lock = threading.Lock()
    sent: list[tuple[str, str]] = []

    def channel(worker: str) -> Channel:
        def note(m: Message, _n: int) -> Outcome:
            time.sleep(0.002)  # a receiver's round trip: the other dispatcher claims meanwhile
            with lock:
                sent.append((worker, m.id))
            return Outcome.ok()

        return Scripted("a", note)

    workers = [
        Dispatcher(engine, cfg, settings(batch=20), channels={"a": channel(w)}, worker=w)
        for w in ("w1", "w2")
    ]
    threads = [threading.Thread(target=w.drain) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    ids = [i for _, i in sent]
    assert sorted(ids) == sorted(e.id for e in evs)  # each exactly once
    assert {w for w, _ in sent} == {"w1", "w2"}  # and both took part
    assert statuses(engine) == Counter({"delivered": 600, "dead": 0})


def test_writers_need_no_channel_secrets(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A channel whose secret is missing from the environment fails where it is built (the dispatcher),
    not in the transactions that write events."""
    from connectors.delivery.config import parse_config
    from connectors.sync.config import ConfigError

    monkeypatch.delenv("OVERSIGHT_TEST_UNSET_SECRET", raising=False)
    data = {
        "channels": {
            "hook": {
                "type": "webhook",
                "url": "https://x.example/h",
                "secrets": ["${OVERSIGHT_TEST_UNSET_SECRET}"],
            }
        },
        "subscriptions": [{"channel": "hook", "events": ["inquiry.*"]}],
    }
    with pytest.raises(ConfigError, match="OVERSIGHT_TEST_UNSET_SECRET"):
        parse_config(data)
    lazy = parse_config(data, build=False)
    assert put(engine, events(2), lazy) == 2
    with pytest.raises(ConfigError, match="OVERSIGHT_TEST_UNSET_SECRET"):
        lazy.channel("hook")


def test_purge_keeps_what_is_pending_or_dead(engine: Engine) -> None:
    from connectors.delivery.dispatcher import purge_delivered

    cfg = config(EVERYTHING)
    put(engine, events(3), cfg)
    clock = Clock()
    evs = events(1)
    ch = Scripted("a", lambda m, _n: Outcome(Result.failed, "400") if m.id == evs[0].id else Outcome.ok())
    dispatcher(engine, cfg, clock, a=ch).drain()  # 3 delivered
    put(engine, evs, cfg)
    dispatcher(engine, cfg, clock, a=ch).drain()  # 1 dead
    put(engine, events(2), cfg)  # 2 pending
    with write_transaction(engine) as conn:
        assert purge_delivered(conn, T0) == (0, 0)  # delivered at T0: not older than T0
        assert purge_delivered(conn, T0 + timedelta(seconds=1)) == (3, 0)
    assert statuses(engine) == Counter({"pending": 2, "dead": 1})
