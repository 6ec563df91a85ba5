"""The dispatcher: throughput to RabbitMQ, and the latency from an event's commit to its delivery.

Targets (issue 8): dispatcher throughput to RabbitMQ ≥ 1,000 events/s; the p95 latency from a warning's
commit to its delivery is reported.

- **Throughput.** ``EVENTS`` warning events are written to the outbox of a fresh warehouse (SQLite file and
  PostgreSQL database), then one dispatcher drains it to the machine's RabbitMQ (durable queue, persistent
  messages, publisher confirms): events delivered and recorded as delivered, per second of the drain.
- **Latency.** A dispatcher runs as ``oversight dispatch`` would (its default poll interval), while a writer
  commits warning events one transaction at a time at ``RATE`` per second; a consumer on the queue notes
  when each arrives. Latency = arrival − commit, per event.

The scale option does not apply: the outbox's work does not depend on the warehouse's size.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pika
from sqlalchemy import Engine, delete, func, select

from bench.common import OUT, write_section
from bench.load import fresh_pg
from connectors.delivery.config import FeedbackSettings, parse_config
from connectors.delivery.dispatcher import Dispatcher
from connectors.delivery.events import WARNING_RAISED, Event
from connectors.delivery.outbox import enqueue
from schema.db import make_engine, write_transaction
from schema.feedback import Outbox
from schema.migrate import upgrade

AMQP = "amqp://guest:guest@127.0.0.1:5672/%2F"
EVENTS = 50_000
LATENCY_EVENTS = 1_000
RATE = 100  # events committed per second during the latency run
TARGET_PER_S = 1_000


def config(queue: str) -> Any:
    return parse_config(
        {
            "channels": {"mq": {"type": "rabbitmq", "url": AMQP, "queue": queue}},
            "subscriptions": [{"channel": "mq", "events": ["warning.raised"]}],
        }
    )


def warning_event(i: int) -> Event:
    return Event(
        type=WARNING_RAISED,
        region="410100000",
        level="orange",
        data={
            "warning_id": i,
            "rule_code": "USE-07",
            "rule_name": "同名划转",
            "object_type": "payment",
            "object_id": f"PAY{i:010d}",
            "amount": f"{(i * 7919) % 10_000_000 / 100:.2f}",
            "link": f"/v1/warnings/{i}",
        },
    )


def warehouses() -> dict[str, Engine]:
    path = OUT / "feedback.db"
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)
    engines = {
        "SQLite": make_engine(f"sqlite:///{path}"),
        "PostgreSQL": make_engine(fresh_pg("oversight_bench_feedback")),
    }
    for engine in engines.values():
        upgrade(engine)
    return engines


def purge(queue: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(AMQP))
    ch = conn.channel()
    ch.queue_delete(queue)
    conn.close()


def throughput(engine: Engine, batch: int) -> dict[str, float]:
    queue = f"bench.{uuid.uuid4().hex[:8]}"
    cfg = config(queue)
    started = time.perf_counter()
    with write_transaction(engine) as conn:
        enqueue(conn, [warning_event(i) for i in range(EVENTS)], cfg)
    enqueued = time.perf_counter() - started
    dispatcher = Dispatcher(engine, cfg, FeedbackSettings(batch=batch))
    started = time.perf_counter()
    total = dispatcher.drain()
    seconds = time.perf_counter() - started
    dispatcher.close()
    with engine.connect() as conn:
        delivered = conn.execute(select(func.count()).where(Outbox.status == "delivered")).scalar_one()
        conn.execute(delete(Outbox))
        conn.commit()
    purge(queue)
    assert total.delivered == EVENTS == delivered, (total, delivered)
    return {"seconds": seconds, "per_s": EVENTS / seconds, "enqueue_per_s": EVENTS / enqueued}


def latency(engine: Engine, poll_ms: int) -> dict[str, float]:
    queue = f"bench.{uuid.uuid4().hex[:8]}"
    cfg = config(queue)
    committed: dict[str, float] = {}
    arrived: dict[str, float] = {}
    stop = threading.Event()
    dispatcher = Dispatcher(engine, cfg, FeedbackSettings(poll_ms=poll_ms))

    def consume() -> None:
        conn = pika.BlockingConnection(pika.URLParameters(AMQP))
        ch = conn.channel()
        ch.queue_declare(queue, durable=True)  # as the channel declares it: whichever comes first
        for _method, props, _body in ch.consume(queue, auto_ack=True, inactivity_timeout=0.05):
            if props is not None:
                arrived.setdefault(props.message_id, time.time())
            if stop.is_set() and len(arrived) >= LATENCY_EVENTS:
                break
        ch.cancel()
        conn.close()

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    worker = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
    worker.start()
    for i in range(LATENCY_EVENTS):
        e = warning_event(i)
        with write_transaction(engine) as conn:
            enqueue(conn, [e], cfg)
        committed[e.id] = time.time()
        time.sleep(1 / RATE)
    deadline = time.time() + 60
    while len(arrived) < LATENCY_EVENTS and time.time() < deadline:
        time.sleep(0.05)
    stop.set()
    worker.join(timeout=10)
    consumer.join(timeout=10)
    with engine.connect() as conn:
        conn.execute(delete(Outbox))
        conn.commit()
    purge(queue)
    ms = sorted((arrived[k] - committed[k]) * 1000 for k in committed if k in arrived)
    assert len(ms) == LATENCY_EVENTS, f"{LATENCY_EVENTS - len(ms)} events not delivered"
    return {
        "p50": statistics.median(ms),
        "p95": ms[int(0.95 * len(ms)) - 1],
        "p99": ms[int(0.99 * len(ms)) - 1],
        "max": ms[-1],
    }


def main(scale: str = "province", seed: int = 1) -> None:  # noqa: ARG001 - the scale does not apply
    OUT.mkdir(parents=True, exist_ok=True)
    engines = warehouses()
    rows = []
    for label, engine in engines.items():
        for batch in (500, 2000):
            r = throughput(engine, batch)
            rows.append(
                f"| {label} | {batch:,} | {EVENTS:,} | {r['seconds']:.1f} | **{r['per_s']:,.0f}** "
                f"| {r['enqueue_per_s']:,.0f} |"
            )
            print(label, batch, r)
    lat_rows = []
    for label, engine in engines.items():
        for poll in (FeedbackSettings().poll_ms, 50):
            r = latency(engine, poll)
            cells = f"{r['p50']:.0f} | **{r['p95']:.0f}** | {r['p99']:.0f} | {r['max']:.0f}"
            lat_rows.append(f"| {label} | {poll} | {cells} |")
            print(label, poll, r)
    for engine in engines.values():
        engine.dispose()
    body = f"""## Feedback: the dispatcher (issue 8)

Throughput: {EVENTS:,} warning events in the outbox, drained by one dispatcher to RabbitMQ on this machine
(durable queue, persistent messages, publisher confirms), each recorded as delivered. Target ≥
{TARGET_PER_S:,} events/s.

| warehouse | batch | events | seconds | delivered per s | enqueued per s (one transaction) |
| --- | ---: | ---: | ---: | ---: | ---: |
{chr(10).join(rows)}

Latency from an event's commit to its arrival at a RabbitMQ consumer: {LATENCY_EVENTS:,} events committed one
transaction each at {RATE}/s while a dispatcher runs with the given poll interval (the default is
`OVERSIGHT_FEEDBACK_POLL_MS`), in milliseconds.

| warehouse | poll (ms) | p50 | p95 | p99 | max |
| --- | ---: | ---: | ---: | ---: | ---: |
{chr(10).join(lat_rows)}

Rerun: `make bench` or `python -m bench.run feedback` (needs RabbitMQ at 127.0.0.1:5672 and PostgreSQL)."""
    write_section("feedback", body)
