"""A per-process cache of read responses, keyed by the data's version.

The warehouse changes only when a load (or, later, a sync) finishes, and every answer is a function of the
request and the data, so an answer can be reused until the next load is done. The version is the time the
last load finished (done or failed), read on every request (one small query, like ``/healthz``'s own); a
new version empties the cache. Each API process keeps its own cache: the service stays stateless, and no
process ever answers from data older than the last finished load.

The key holds the path, the query string and the caller's scope (:func:`scope_key`), never more than that:
two callers with different jurisdictions never share an answer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

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
UNCACHED = ("/v1/sources", "/v1/summary", "/v1/audit", "/v1/warnings", "/v1/rules", "/v1/inquiries")
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

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        if started.get("status") == 200 and len(body) <= MAX_BODY:
            with self._lock:
                if version == self._version_seen:
                    self._store[key] = (200, list(started.get("headers", [])), body)
                    while len(self._store) > self.entries:
                        self._store.popitem(last=False)
