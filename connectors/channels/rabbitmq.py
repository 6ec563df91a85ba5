"""RabbitMQ: each event is published, persistent, to a durable queue, and counts as delivered only once the
broker confirms it (publisher confirms).

::

    [channels.mq]
    type = "rabbitmq"
    url = "amqp://${MQ_USER}:${MQ_PASSWORD}@mq.example.gov.cn:5672/%2F"
    queue = "oversight.events"      # declared durable (declare = true, the default)
    exchange = ""                   # "" is the default exchange; another is declared a durable topic
    routing_key = "oversight.events"  # default: the queue's name
    timeout = "30s"                 # to connect, and for the broker to confirm a batch

Speed: pika's ``BlockingChannel`` in confirm mode waits for each message's confirmation before the next
one is sent (one round trip per event, ~1,600 a second on a local broker, fewer on a network). So the
channel drives pika's asynchronous ``SelectConnection`` itself, through its public API: it publishes the
whole batch, then runs the connection's I/O loop, in the caller's thread, until every message is confirmed
(acks may cover several messages at once), returned as unroutable, refused, or until the time is up. The
loop runs only inside :meth:`RabbitMQChannel.deliver`; between batches nothing reads the socket, so a link
idle for long is reopened rather than trusted.

A message is ``retry`` when the broker refused it (``basic.nack``), returned it as unroutable (published
``mandatory``: a missing queue must not swallow events), or when the connection or channel was lost or the
time ran out before its confirmation; the link is then dropped and reopened on the next batch.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import parse_qs

import pika
import pika.channel
import pika.exceptions
import pika.frame
import pika.spec

from connectors.channels import settings
from connectors.channels.base import DELIVERED, Channel, ChannelConfigError, Message, Outcome, Result

KEYS = frozenset({"url", "queue", "exchange", "routing_key", "declare", "timeout"})
IDLE_S = 30.0  # a link unused this long is reopened: its broker may have dropped it without a word
CLOSE_S = 2.0
MAX_NAME = 255  # AMQP short strings


@dataclass(frozen=True, slots=True)
class Target:
    queue: str
    exchange: str
    routing_key: str
    declare: bool


def _reason(exc: BaseException | None) -> str:
    """An exception as a short line, down to its root cause (pika nests a refused connection three levels
    deep); pika's carry reply codes and texts, never the password."""
    if exc is None:
        return "unknown reason"
    for _ in range(5):
        inner = getattr(exc, "exceptions", None) or [a for a in exc.args if isinstance(a, BaseException)]
        if not inner:
            break
        exc = inner[-1]
    text = str(exc) or repr(exc)
    name = type(exc).__name__
    return (text if text.startswith(name) else f"{name}: {text}")[:300]


def properties(message: Message) -> pika.BasicProperties:
    """Persistent, typed, stamped, and carrying the event's id as message id and idempotency key."""
    created = message.created_at
    created = created.replace(tzinfo=UTC) if created.tzinfo is None else created
    return pika.BasicProperties(
        message_id=message.id,
        delivery_mode=pika.DeliveryMode.Persistent,
        content_type="application/json",
        type=message.type,
        timestamp=int(created.timestamp()),
        app_id="fiscal-oversight",
        headers={"region": message.region, "idempotency-key": message.id},
    )


class _Link:
    """One connection and one channel in confirm mode, declared and ready to publish. Not thread-safe:
    :class:`RabbitMQChannel` serialises its use."""

    def __init__(self, params: pika.URLParameters, target: Target, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self.error: str | None = None  # set once the link is broken: why
        self.ready = False
        self.used = time.monotonic()
        self._channel: pika.channel.Channel | None = None
        self._steps: list[Callable[[Callable[[Any], None]], None]] = []
        self._tag = 0  # the last delivery tag: the broker numbers a channel's publications from 1
        self._pending: dict[int, int] = {}  # delivery tag → index in the batch, oldest first
        self._outcomes: list[Outcome | None] = []
        self._returned: dict[int, str] = {}  # index → why the broker returned it
        self._by_id: dict[str, deque[int]] = defaultdict(deque)
        self._done: Callable[[], bool] = lambda: False
        self._connection = pika.SelectConnection(
            params,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
        )
        self._ioloop = self._connection.ioloop

    # -- driving the I/O loop -------------------------------------------------------------------------

    def _spin(self, done: Callable[[], bool], seconds: float) -> None:
        """Run the I/O loop in this thread until ``done()`` or ``seconds`` pass; callbacks stop the loop
        (through :meth:`_nudge`) when there may be something to look at."""
        deadline = time.monotonic() + seconds
        self._done = done
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            timer = self._ioloop.call_later(left, self._ioloop.stop)
            try:
                self._ioloop.start()
            finally:
                self._ioloop.remove_timeout(timer)

    def _run(self, done: Callable[[], bool], seconds: float) -> None:
        """Like :meth:`_spin`, but a broken link ends the wait too."""
        self._spin(lambda: self.error is not None or done(), seconds)

    def _nudge(self) -> None:
        if self._done():
            self._ioloop.stop()

    def poll(self) -> None:
        """Handle what arrived while nobody was listening (a broker that closed the link, heartbeats)."""
        timer = self._ioloop.call_later(0, self._ioloop.stop)
        try:
            self._ioloop.start()
        finally:
            self._ioloop.remove_timeout(timer)

    # -- opening --------------------------------------------------------------------------------------

    def open(self) -> None:
        """Connect, open the channel, turn confirms on, declare; ``error`` says why it could not."""
        self._run(lambda: self.ready, self.timeout)
        if not self.ready and self.error is None:
            self.error = f"could not connect and declare within {self.timeout:g} s"

    def _on_open(self, connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, _connection: pika.SelectConnection, exc: BaseException | str) -> None:
        self.error = f"cannot connect: {exc if isinstance(exc, str) else _reason(exc)}"
        self._nudge()

    def _on_closed(self, _connection: pika.SelectConnection, exc: BaseException) -> None:
        if self.error is None:
            self.error = f"connection lost: {_reason(exc)}"
        self._nudge()

    def _on_channel_open(self, channel: pika.channel.Channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        self._steps = self._declarations(channel)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=self._next_step)

    def _declarations(self, channel: pika.channel.Channel) -> list[Callable[[Callable[[Any], None]], None]]:
        t = self.target
        if not t.declare:
            return []
        steps: list[Callable[[Callable[[Any], None]], None]] = [
            lambda done: channel.queue_declare(t.queue, durable=True, callback=done)
        ]
        if t.exchange:
            if not t.exchange.startswith("amq."):  # the broker's own exchanges exist and may not be declared
                steps.append(
                    lambda done: channel.exchange_declare(
                        t.exchange, exchange_type="topic", durable=True, callback=done
                    )
                )
            steps.append(lambda done: channel.queue_bind(t.queue, t.exchange, t.routing_key, callback=done))
        return steps

    def _next_step(self, _frame: Any = None) -> None:
        if self._steps:
            self._steps.pop(0)(self._next_step)
            return
        self.ready = True
        self._nudge()

    def _on_channel_closed(self, _channel: pika.channel.Channel, exc: BaseException) -> None:
        if self.error is None:
            self.error = f"channel closed: {_reason(exc)}"
        if self._connection.is_open:
            self._connection.close()
        self._nudge()

    # -- publishing -----------------------------------------------------------------------------------

    def publish(self, messages: Sequence[Message]) -> list[Outcome]:
        """Publish the batch, then wait for the broker's word on every message."""
        self.used = time.monotonic()
        self._outcomes = [None] * len(messages)
        self._pending, self._returned, self._by_id = {}, {}, defaultdict(deque)
        t = self.target
        assert self._channel is not None
        for i, message in enumerate(messages):
            try:
                self._channel.basic_publish(
                    t.exchange, t.routing_key, message.body, properties(message), mandatory=True
                )
            except (pika.exceptions.AMQPError, OSError) as exc:
                self.error = f"publish failed: {_reason(exc)}"
                break
            self._tag += 1
            self._pending[self._tag] = i
            self._by_id[message.id].append(i)
        self._run(lambda: not self._pending, self.timeout)
        if self._pending and self.error is None:
            self.error = f"no confirmation from the broker within {self.timeout:g} s"
        lost = Outcome(Result.retry, f"not confirmed: {self.error}")
        return [o if o is not None else lost for o in self._outcomes]

    def _on_return(
        self,
        _channel: pika.channel.Channel,
        method: pika.spec.Basic.Return,
        props: pika.BasicProperties,
        _body: bytes,
    ) -> None:
        """An unroutable message comes back before its ack: remember which one it was."""
        candidates = self._by_id.get(props.message_id or "")
        while candidates:
            index = candidates.popleft()
            if index not in self._returned:
                self._returned[index] = (
                    f"unroutable: the broker returned it ({method.reply_code} {method.reply_text}): no queue "
                    f"is bound to exchange {method.exchange!r} with routing key {method.routing_key!r}"
                )
                return

    def _on_confirm(self, frame: pika.frame.Method) -> None:
        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        for index in self._settled(method.delivery_tag, method.multiple):
            if not acked:
                self._outcomes[index] = Outcome(Result.retry, "refused by the broker (basic.nack)")
            elif index in self._returned:
                self._outcomes[index] = Outcome(Result.retry, self._returned[index])
            else:
                self._outcomes[index] = DELIVERED
        self._nudge()

    def _settled(self, tag: int, multiple: bool) -> list[int]:
        if not multiple:
            index = self._pending.pop(tag, None)
            return [] if index is None else [index]
        done: list[int] = []
        while self._pending:
            first = next(iter(self._pending))
            if first > tag:
                break
            done.append(self._pending.pop(first))
        return done

    # -- closing --------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection politely when it is open, then release the loop's sockets."""
        try:
            if self._connection.is_open:
                self._connection.close()
            self.error = self.error or "closed"
            self._spin(lambda: bool(self._connection.is_closed), CLOSE_S)
        except (pika.exceptions.AMQPError, OSError):
            pass
        finally:
            self._ioloop.close()


def _target(cfg: dict[str, Any]) -> Target:
    queue = settings.text(cfg, "queue", "oversight.events")
    exchange = cfg.get("exchange", "")
    if not isinstance(exchange, str):
        raise ChannelConfigError('exchange: a string ("" for the default exchange)')
    routing_key = settings.text(cfg, "routing_key", queue)
    for key, value in (("queue", queue), ("exchange", exchange), ("routing_key", routing_key)):
        if len(value.encode()) > MAX_NAME:
            raise ChannelConfigError(f"{key}: at most {MAX_NAME} bytes")
    return Target(queue, exchange.strip(), routing_key, settings.flag(cfg, "declare", True))


def _parameters(raw: str, query: str, timeout: float) -> pika.URLParameters:
    """The URL's parameters, with timeouts unless the URL sets its own: a dead broker must not hang."""
    try:
        params = pika.URLParameters(raw)
    except (ValueError, TypeError, KeyError) as exc:
        raise ChannelConfigError(f"url: {type(exc).__name__} in its parameters") from None
    given = parse_qs(query)
    defaults = {"socket_timeout": timeout, "stack_timeout": timeout, "blocked_connection_timeout": timeout}
    for name, value in defaults.items():
        if name not in given:
            setattr(params, name, value)
    if "connection_attempts" not in given:
        params.connection_attempts = 1
    return params


class RabbitMQChannel(Channel):
    """Publishes each batch with publisher confirms over one connection kept between batches."""

    kind = "rabbitmq"

    def __init__(
        self, name: str, params: pika.URLParameters, target: Target, timeout: float, public: str
    ) -> None:
        super().__init__(name)
        self.params = params
        self.target = target
        self.timeout = timeout
        self._public = public
        self._link: _Link | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, name: str, cfg: dict[str, Any]) -> RabbitMQChannel:
        settings.check_keys(cfg, KEYS, cls.kind)
        parts = settings.url(cfg, "url", ("amqp", "amqps"))
        timeout = settings.seconds(cfg, "timeout", "30s")
        params = _parameters(parts.geturl(), parts.query, timeout)
        user = f"{parts.username}@" if parts.username else ""
        public = settings.public_url(parts).replace("://", f"://{user}", 1)
        return cls(name, params, _target(cfg), timeout, public)

    def describe(self) -> str:
        t = self.target
        where = f"exchange {t.exchange!r} key {t.routing_key!r}" if t.exchange else f"queue {t.queue!r}"
        return f"rabbitmq {self._public} {where}"

    def _ready_link(self) -> _Link:
        """The open link, reopened when it broke or sat idle too long."""
        link = self._link
        if link is not None and time.monotonic() - link.used > IDLE_S:
            self._drop()
            link = None
        if link is not None:
            link.poll()
            if link.error is not None:
                self._drop()
                link = None
        if link is None:
            link = self._link = _Link(self.params, self.target, self.timeout)
            link.open()
        return link

    def deliver(self, messages: Sequence[Message]) -> list[Outcome]:
        if not messages:
            return []
        with self._lock:
            try:
                link = self._ready_link()
                if link.error is not None:
                    error = link.error
                    self._drop()
                    return [Outcome(Result.retry, error)] * len(messages)
                outcomes = link.publish(messages)
                if link.error is not None:
                    self._drop()
                return outcomes
            except (pika.exceptions.AMQPError, OSError) as exc:
                self._drop()
                return [Outcome(Result.retry, f"not confirmed: {_reason(exc)}")] * len(messages)

    def _drop(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.close()

    def close(self) -> None:
        with self._lock:
            self._drop()
