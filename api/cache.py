"""A per-process cache of read responses, keyed by the data's version.

The warehouse changes only when a load (or, later, a sync) finishes, and every answer is a function of the
request and the data, so an answer can be reused until the next load is done. The version is the time the
last load finished (done or failed), read on every request (one small query, like ``/healthz``'s own); a
new version empties the cache. Each API process keeps its own cache: the service stays stateless, and no
process ever answers from data older than the last finished load.

The key holds the path, the query string and the caller's scope (:func:`scope_key`), never more than that:
two callers with different jurisdictions never share an answer.

Exports (``format=csv`` or ``xlsx``) pass by untouched: they are streamed, often large, and each is a new
file with its own manifest. Any other answer is copied only while it could still be kept (JSON, at most
``MAX_BODY`` bytes), so nothing streamed through is ever gathered whole.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import anyio
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine, func, select

from schema.loading import LoadRun

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# answers that show the clock (sources' lag, time progress, overdue warnings), the audit log, or the
# warnings ledger and rule configuration, which change without a load (lifecycle steps, monitor runs)
UNCACHED = (
    "/v1/sources",
    "/v1/summary",
    "/v1/audit",
    "/v1/warnings",
    "/v1/rules",
    "/v1/inquiries",
    "/v1/reports",
)
MAX_BODY = 512 * 1024  # larger answers are not kept


class CacheSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERSIGHT_", extra="ignore")

    response_cache_entries: int = Field(
        default=2048,
        ge=0,
        description="Read answers each API process keeps until the next load finishes (0 turns it off).",
    )


def scope_key(scope: Scope) -> str:
    """What of the caller an answer depends on: its body (which operations it may call), its jurisdiction
    and whether it is shown personal data. The guard put the verified principal in the request's state."""
    state = scope.get("state") or {}
    principal = state.get("principal")
    if principal is None:
        return "public"
    revealed = "pii" if state.get("reveal_reason") is not None else "masked"
    return f"{principal.body}|{principal.region or '*'}|{revealed}"


def data_version(engine: Engine) -> Any:
    """When the last load finished: any run that finished, failed ones included (they keep the chunks
    they stored)."""
    with engine.connect() as conn:
        return conn.execute(select(func.max(LoadRun.finished_at))).scalar()


class ResponseCache:
    """An LRU of (status, headers, body) per key, emptied whenever the data version moves."""

    def __init__(self, app: ASGIApp, engine: Engine, entries: int) -> None:
        self.app = app
        self.entries = entries
        self.engine = engine
        self._store: OrderedDict[tuple[Any, ...], tuple[int, list[Any], bytes]] = OrderedDict()
        self._version_seen: Any = None
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            self.entries == 0
            or scope["type"] != "http"
            or scope["method"] != "GET"
            or not path.startswith("/v1/")
            or path.startswith(UNCACHED)
            or _export(scope.get("query_string", b""))
        ):
            await self.app(scope, receive, send)
            return
        # off the event loop: waiting for a pooled connection there would stall every request in flight
        version = await anyio.to_thread.run_sync(data_version, self.engine)
        key = (path, scope.get("query_string", b""), scope_key(scope))
        with self._lock:
            if version != self._version_seen:
                self._store.clear()
                self._version_seen = version
            hit = self._store.get(key)
            if hit is not None:
                self._store.move_to_end(key)
        if hit is not None:
            status, headers, body = hit
            headers = [*headers, (b"x-cache", b"hit")]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        started: Message = {}
        chunks: list[bytes] = []
        keeping = True  # the answer could still be kept: JSON, within MAX_BODY so far
        size = 0

        async def capture(message: Message) -> None:
            nonlocal keeping, size
            if message["type"] == "http.response.start":
                started.update(message)
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                keeping = message.get("status") == 200 and b"json" in content_type
            elif message["type"] == "http.response.body" and keeping:
                body = message.get("body", b"")
                size += len(body)
                if size > MAX_BODY:
                    keeping = False
                    chunks.clear()
                else:
                    chunks.append(body)
            await send(message)

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        if keeping and started.get("status") == 200 and len(body) <= MAX_BODY:
            with self._lock:
                if version == self._version_seen:
                    self._store[key] = (200, list(started.get("headers", [])), body)
                    while len(self._store) > self.entries:
                        self._store.popitem(last=False)


def _export(query_string: bytes) -> bool:
    """The request asks for an export (``format=csv`` or ``xlsx``)."""
    if b"format" not in query_string:
        return False
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return any(k == "format" and v != "json" for k, v in pairs)
