"""End to end against the machine's real brokers: events written while a broker is stopped, then
restarted, all arrive; none is lost; the duplicates that at-least-once delivery makes (here: a dispatcher
that dies after sending, before recording) are removed at the receiver by the idempotency key.

- webhook: a local receiver, stopped and started again on the same port;
- Redis Streams: a Redis server of the test's own (append-only file, fsync always), killed and restarted,
  so that stopping it cannot disturb the machine's shared one;
- RabbitMQ: the machine's broker itself, its application stopped and started (``rabbitmqctl stop_app`` /
  ``start_app``); the tests that use RabbitMQ run in one xdist group so that none runs meanwhile.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
import pytest
from sqlalchemy import Engine, func, select

from connectors.channels.signing import new_secret
from connectors.delivery.config import FeedbackSettings, parse_config
from connectors.delivery.dispatcher import Dispatcher, Round
from connectors.delivery.events import INQUIRY_RAISED, WARNING_RAISED, Event
from connectors.delivery.outbox import enqueue
from schema.db import write_transaction
from schema.feedback import DeadLetter, Outbox
from tests.channel_kit import WebhookReceiver, drain_queue, rabbit_url, read_stream  # noqa: F401 - a fixture
from tests.conftest import service_unavailable

N = 200


@dataclass
class Broker:
    """A channel's section, and how to stop, start and read the thing behind it."""

    section: dict[str, Any]
    stop: Callable[[], None]
    start: Callable[[], None]
    read: Callable[[], list[str]]  # event ids received since the last read (duplicates included)
    seen: list[str] = field(default_factory=list)

    def received(self) -> list[str]:
        self.seen.extend(self.read())
        return self.seen

    def unique(self) -> dict[str, int]:
        """What a receiver that removes duplicates by the idempotency key keeps: each id once (with the
        position it first arrived at)."""
        kept: dict[str, int] = {}
        for i, event_id in enumerate(self.received()):
            kept.setdefault(event_id, i)
        return kept


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def webhook() -> Iterator[Broker]:
    secret = new_secret()
    receiver = WebhookReceiver(secrets=[secret])
    receiver.start()
    read_upto = 0

    def read() -> list[str]:
        nonlocal read_upto
        got = [r[0] for r in receiver.received[read_upto:]]
        read_upto += len(got)
        return got

    try:
        yield Broker(
            {"type": "webhook", "url": receiver.url, "secrets": [secret], "timeout": "2s"},
            receiver.stop,
            receiver.start,
            read,
        )
    finally:
        receiver.stop()


@contextmanager
def redis_server(tmp_path: Path) -> Iterator[Broker]:
    exe = shutil.which("redis-server")
    if exe is None:
        service_unavailable("redis-server (to run a private Redis)", "not installed")
    port = free_port()
    args = [
        exe,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
        str(tmp_path),
    ]
    proc: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        proc.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("the private redis-server did not start")

    def stop() -> None:
        p = proc.pop()
        p.kill()
        p.wait(timeout=10)

    url = f"redis://127.0.0.1:{port}/0"
    stream = f"oversight:test:{uuid.uuid4().hex[:8]}"
    read_upto = 0

    def read() -> list[str]:
        nonlocal read_upto
        entries = read_stream(url, stream)
        got = [e["id"] for e in entries[read_upto:]]
        read_upto = len(entries)
        return got

    start()
    try:
        yield Broker({"type": "redis", "url": url, "stream": stream}, stop, start, read)
    finally:
        while proc:
            stop()


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


@contextmanager
def rabbitmq(url: str) -> Iterator[Broker]:
    if shutil.which("rabbitmqctl") is None:
        service_unavailable("rabbitmqctl (to stop and start the broker)", "not installed")
    queue = f"oversight.test.{uuid.uuid4().hex[:8]}"
    stopped = [False]

    def stop() -> None:
        _rabbitmqctl("stop_app")
        stopped[0] = True

    def start() -> None:
        _rabbitmqctl("start_app")
        _rabbitmqctl("await_startup")
        stopped[0] = False

    def read() -> list[str]:
        try:
            return [props.message_id for props, _body in drain_queue(url, queue)]
        except pika.exceptions.ChannelClosedByBroker:  # the dispatcher has not declared the queue yet
            return []
        except pika.exceptions.AMQPConnectionError:  # the broker is still starting: read again later
            return []

    try:
        yield Broker({"type": "rabbitmq", "url": url, "queue": queue}, stop, start, read)
    finally:
        if stopped[0]:
            start()  # never leave the machine's broker stopped


class DiesOnce(Dispatcher):
    """Dies once between sending a batch and recording it (the rows stay leased until the lease ends)."""

    died = False

    def record(self, results: Any, now: Any, report: Round) -> None:
        if not self.died:
            self.died = True
            raise RuntimeError("the dispatcher died after sending, before recording")
        super().record(results, now, report)


def events(n: int) -> list[Event]:
    out = []
    for i in range(n):
        if i % 2:
            out.append(Event(type=WARNING_RAISED, region="410100000", level="red", data={"warning_id": i}))
        else:
            out.append(Event(type=INQUIRY_RAISED, region="410102000", data={"inquiry_id": i}))
    return out


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        pending = conn.execute(select(func.count()).where(Outbox.status == "pending")).scalar_one()
        dead = conn.execute(select(func.count()).select_from(DeadLetter)).scalar_one()
    return pending, dead


def run_outage(engine: Engine, broker: Broker) -> None:
    cfg = parse_config(
        {
            "channels": {"ch": broker.section},
            "subscriptions": [{"channel": "ch", "events": ["inquiry.*", "warning.*"]}],
        }
    )
    settings = FeedbackSettings(
        backoff_base_ms=50, backoff_max_s=1, lease_s=2, poll_ms=20, max_attempts=1000, batch=40
    )
    dispatcher = DiesOnce(engine, cfg, settings, seed=5)
    stop = threading.Event()
    worker = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
    evs = events(N)
    ids = {e.id for e in evs}
    first, second = evs[: N // 2], evs[N // 2 :]
    worker.start()
    try:
        for i in range(0, len(first), 25):
            with write_transaction(engine) as conn:
                enqueue(conn, first[i : i + 25], cfg)
        wait_for(lambda: {e.id for e in first} <= set(broker.received()), 30, "the first half")
        broker.stop()
        for i in range(0, len(second), 25):  # events committed while the broker is down
            with write_transaction(engine) as conn:
                enqueue(conn, second[i : i + 25], cfg)
        time.sleep(1.5)  # the dispatcher keeps trying and failing
        pending, dead = counts(engine)
        # every event of the outage waits (and the batch the dead dispatcher sent, until its lease ends)
        assert pending >= len(second) and dead == 0
        broker.start()
        wait_for(lambda: counts(engine)[0] == 0, 60, "the outbox to empty after the restart")
    finally:
        stop.set()
        worker.join(timeout=30)
    received = broker.received()
    assert set(received) == ids  # 0 lost, nothing else
    # the dispatcher that died sent a batch twice; a receiver keeping one message per idempotency key
    # (what Broker.unique does: the first of each id) holds each event once, with its own body
    duplicates = len(received) - len(set(received))
    assert duplicates >= 1
    unique = broker.unique()
    assert len(unique) == N and set(unique) == ids
    with engine.connect() as conn:
        delivered = conn.execute(select(func.count()).where(Outbox.status == "delivered")).scalar_one()
    assert (delivered, counts(engine)) == (N, (0, 0))


@pytest.mark.slow
def test_webhook_outage(engine: Engine) -> None:
    with webhook() as broker:
        run_outage(engine, broker)


@pytest.mark.slow
def test_redis_streams_outage(engine: Engine, tmp_path: Path) -> None:
    with redis_server(tmp_path) as broker:
        run_outage(engine, broker)


@pytest.mark.slow
@pytest.mark.xdist_group("rabbitmq")
def test_rabbitmq_outage(engine: Engine, rabbit_url: str) -> None:  # noqa: F811 - the fixture
    with rabbitmq(rabbit_url) as broker:
        run_outage(engine, broker)
