"""Redis Streams: each event is appended (XADD) to one stream that consumer groups read.

::

    [channels.stream]
    type = "redis"
    url = "redis://:${REDIS_PASSWORD}@127.0.0.1:6379/0"   # rediss:// for TLS
    stream = "oversight:events"
    maxlen = 100000       # optional: trim to about this many entries (MAXLEN ~), oldest first

An entry's fields are ``id`` (the event's id: consumers remove duplicates by it), ``type``, ``region``,
``created_at`` (ISO, UTC) and ``body`` (the JSON document). A batch goes in one pipelined round trip;
an XADD answered by Redis counts as delivered (Redis acknowledges a write once it holds it; how durable
that is depends on the server's AOF/replication settings, not on this channel).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.typing import EncodableT, FieldT

from connectors.channels import settings
from connectors.channels.base import DELIVERED, Channel, ChannelConfigError, Message, Outcome, Result

KEYS = frozenset({"url", "stream", "maxlen"})
CONNECT_TIMEOUT_S = 5.0
SOCKET_TIMEOUT_S = 10.0
MAX_LEN = 10**10
# One quick retry: a pooled connection the server closed while idle is reopened without failing the batch;
# a server that is down answers the batch ``retry`` at once instead of after a long backoff.
RETRY = Retry(ExponentialBackoff(cap=0.5, base=0.05), 1)
CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


def iso(at: datetime) -> str:
    """UTC ISO text with a Z, as the event documents write it."""
    at = at if at.tzinfo is None else at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="milliseconds") + "Z"


def fields(message: Message) -> dict[FieldT, EncodableT]:
    return {
        "id": message.id,
        "type": message.type,
        "region": message.region,
        "created_at": iso(message.created_at),
        "body": message.body,
    }


class RedisStreamChannel(Channel):
    """Appends each batch to the stream in one pipeline; the client's connection pool is kept between
    batches."""

    kind = "redis"

    def __init__(self, name: str, url: str, stream: str, maxlen: int | None, public: str) -> None:
        super().__init__(name)
        self.url = url
        self.stream = stream
        self.maxlen = maxlen
        self._public = public
        self._client: redis.Redis | None = None

    @classmethod
    def from_config(cls, name: str, cfg: dict[str, Any]) -> RedisStreamChannel:
        settings.check_keys(cfg, KEYS, cls.kind)
        parts = settings.url(cfg, "url", ("redis", "rediss"))
        try:
            redis.connection.parse_url(parts.geturl())
        except ValueError as exc:
            raise ChannelConfigError(f"url: {str(exc).split(':')[0][:80]}") from None
        stream = settings.text(cfg, "stream", "oversight:events")
        maxlen = settings.whole(cfg, "maxlen", None, 1, MAX_LEN)
        db = parts.path if parts.path not in ("", "/") else "/0"
        if not db[1:].isdigit():
            raise ChannelConfigError("url: the path is a database number (/0)")
        return cls(name, parts.geturl(), stream, maxlen, settings.public_url(parts, False) + db)

    def describe(self) -> str:
        trimmed = f" maxlen ~{self.maxlen}" if self.maxlen else ""
        return f"redis {self._public} stream {self.stream!r}{trimmed}"

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(
                self.url,
                socket_connect_timeout=CONNECT_TIMEOUT_S,
                socket_timeout=SOCKET_TIMEOUT_S,
                retry=RETRY,
                health_check_interval=30,
            )
        return self._client

    def deliver(self, messages: Sequence[Message]) -> list[Outcome]:
        if not messages:
            return []
        pipe = self._redis().pipeline(transaction=False)
        for message in messages:
            if self.maxlen:
                pipe.xadd(self.stream, fields(message), maxlen=self.maxlen, approximate=True)
            else:
                pipe.xadd(self.stream, fields(message))
        try:
            answers = pipe.execute(raise_on_error=False)
        except CONNECTION_ERRORS as exc:
            self.close()
            return [Outcome(Result.retry, f"{type(exc).__name__}: {exc}"[:300])] * len(messages)
        return [_outcome(answer) for answer in answers]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _outcome(answer: Any) -> Outcome:
    """XADD answers the new entry's id, or an error of that one command (out of memory, wrong type…)."""
    if isinstance(answer, Exception):
        return Outcome(Result.retry, f"{type(answer).__name__}: {answer}"[:300])
    return DELIVERED
