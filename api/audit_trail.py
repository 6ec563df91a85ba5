"""Every request leaves an entry in the audit log before its answer leaves (issue 5, docs/audit.md).

The outermost middleware: it sees every REST call and GraphQL operation, including those the guard
refuses (401, 429) and those that fail. It holds the answer back until the entry is written; if the log
cannot take it, the caller gets 503 and no data. A streamed answer (any content type but JSON: an export's
zip) is not held, which would buffer it whole: its entry is written when its status and headers arrive,
before its first byte leaves, with no row count (the rows are not read here); if the log cannot take it,
the caller gets 503 and the answer is stopped before its body is made.

Entries of concurrent requests are written together (group commit): while one batch is being written,
the next gathers, so a busy process writes one transaction per batch rather than one per request, and no
request waits for more than the batch ahead.

What an entry holds: time, principal (``sub``, ``body``, ``org``, ``region``), the operation (route
template, or the GraphQL operation and its root fields), the parameters (query string, or GraphQL
variables and the document's hash; secrets redacted by the writer), the number of rows or objects
answered, status, latency, request id, client address, and whether personal data was revealed, with the
caller's reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.concurrency import run_in_threadpool

from security.audit import AuditEntry, AuditWriter, encode_parameters

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("oversight.audit")
COUNTED = 4 * 1024 * 1024  # answers up to this size are read to count their rows
BATCH = 256


class GroupCommit:
    """Writes the entries of concurrent requests in as few transactions as it can, each request waiting
    until its own entry is in."""

    def __init__(self, writer: AuditWriter) -> None:
        self.writer = writer
        self._pending: list[tuple[AuditEntry, asyncio.Future[int]]] = []
        self._flushing = False

    async def record(self, entry: AuditEntry) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
                try:
                    numbers = await run_in_threadpool(self.writer.record_many, [e for e, _ in batch])
                except Exception as exc:  # noqa: BLE001 - every waiter learns of it and answers 503
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), number in zip(batch, numbers, strict=True):
                    if not future.done():
                        future.set_result(number)
        finally:
            self._flushing = False


class AuditTrail:
    def __init__(self, app: ASGIApp, commit: GroupCommit) -> None:
        self.app = app
        self.commit = commit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = datetime.now(UTC)
        started = time.perf_counter()
        graphql = scope["method"] == "POST" and scope["path"] == "/graphql"
        request_body: list[bytes] = []

        async def reading() -> Message:
            message = await receive()
            if graphql and message["type"] == "http.request":
                request_body.append(message.get("body", b""))
            return message

        start: Message | None = None
        chunks: list[bytes] = []
        streaming = False

        async def holding(message: Message) -> None:
            nonlocal start, streaming
            if message["type"] == "http.response.start":
                if not _streamed(message):
                    start = message
                    return
                streaming = True
                asked = b"".join(request_body) if graphql else None
                entry = _entry(scope, arrived, started, int(message["status"]), b"", asked, message)
                try:
                    await self.commit.record(entry)
                except Exception:  # noqa: BLE001 - no entry, no data
                    log.exception("audit entry not written; the streamed answer is refused with 503")
                    await _unavailable(scope, send)
                    raise _Withheld from None
                await send(_with_request_id(scope, message))
            elif message["type"] == "http.response.body":
                if streaming:
                    await send(message)
                else:
                    chunks.append(message.get("body", b""))

        failed: BaseException | None = None
        try:
            await self.app(scope, reading, holding)
        except _Withheld:
            return
        except Exception as exc:  # noqa: BLE001 - recorded as a 500, then raised again below
            if _withheld(exc):
                return
            failed = exc
        if streaming:  # its entry is written, its body sent (or cut short by ``failed``)
            if failed is not None:
                raise failed
            return
        status = 500 if failed is not None or start is None else int(start["status"])
        body = b"".join(chunks)
        entry = _entry(
            scope, arrived, started, status, body, b"".join(request_body) if graphql else None, start
        )
        try:
            await self.commit.record(entry)
        except Exception:  # noqa: BLE001 - no entry, no data
            log.exception("audit entry not written; the request is answered 503")
            await _unavailable(scope, send)
            return
        if failed is not None:
            raise failed
        assert start is not None
        await send(_with_request_id(scope, start))
        await send({"type": "http.response.body", "body": body})


class _Withheld(Exception):
    """A streamed answer refused because its audit entry could not be written: the 503 is sent, the
    route's body is stopped before it is made."""


def _withheld(exc: BaseException) -> bool:
    """``exc`` is, or (from a task group) wraps only, :class:`_Withheld`."""
    if isinstance(exc, _Withheld):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_withheld(e) for e in exc.exceptions)
    return False


def _streamed(start: Message) -> bool:
    """An answer passed on as it comes rather than held: one with a content type that is not JSON (an
    export's zip, the docs' HTML). JSON answers are held, to be counted."""
    content_type = dict(start.get("headers", [])).get(b"content-type", b"")
    return bool(content_type) and b"json" not in content_type


def _with_request_id(scope: Scope, start: Message) -> Message:
    state = scope.get("state") or {}
    headers = list(start.get("headers", []))
    if state.get("request_id"):
        headers.append((b"x-request-id", str(state["request_id"]).encode()))
    return {**start, "headers": headers}


def _entry(
    scope: Scope,
    arrived: datetime,
    started: float,
    status: int,
    body: bytes,
    request_body: bytes | None,
    start: Message | None,
) -> AuditEntry:
    state = scope.get("state") or {}
    principal = state.get("principal")
    route = scope.get("route")
    method = scope["method"]
    operation = f"{method} {getattr(route, 'path', None) or scope['path']}"
    parameters: dict[str, Any] = {
        k: v for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"))
    }
    count: int | None = None
    content_type = dict(start.get("headers", [])).get(b"content-type", b"") if start else b""
    answer = _json(body) if b"json" in content_type and len(body) <= COUNTED else None
    if request_body is not None:
        operation, parameters = _graphql(request_body)
        count = _graphql_count(answer) if isinstance(answer, dict) else None
    elif isinstance(answer, dict) and status < 400:
        count = len(answer["rows"]) if isinstance(answer.get("rows"), list) else 1
    elif isinstance(answer, list) and status < 400:
        count = len(answer)
    elif status >= 400:
        count = 0
    reason = state.get("reveal_reason")
    return AuditEntry(
        operation=operation,
        status=status,
        time=arrived,
        sub=getattr(principal, "sub", None),
        body=str(principal.body) if principal is not None else None,
        org=getattr(principal, "org", None),
        region=getattr(principal, "region", None),
        parameters=encode_parameters(parameters),
        result_count=count,
        latency_ms=(time.perf_counter() - started) * 1000,  # type: ignore[arg-type]
        request_id=state.get("request_id"),
        client=(scope.get("client") or (None,))[0],
        pii_revealed=reason is not None and status < 400,
        reveal_reason=reason,
    )


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


def _graphql(request_body: bytes) -> tuple[str, dict[str, Any]]:
    """``graphql <type> <name>: <root fields>`` and the variables, with the document's hash."""
    from graphql import GraphQLError, OperationDefinitionNode, parse

    request = _json(request_body)
    if not isinstance(request, dict):
        return "graphql (unreadable request)", {}
    query = request.get("query")
    document = query if isinstance(query, str) else ""
    name = request.get("operationName") if isinstance(request.get("operationName"), str) else None
    label = "graphql (unparsable document)"
    try:
        parsed = parse(document, max_tokens=20_000) if document else None
        operations = (
            [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)] if parsed else []
        )
        chosen = next(
            (o for o in operations if o.name and o.name.value == name), operations[0] if operations else None
        )
        if chosen is not None:
            fields = sorted(
                {s.name.value for s in chosen.selection_set.selections if hasattr(s, "name") and s.name}
            )
            title = chosen.name.value if chosen.name else "(anonymous)"
            label = f"graphql {chosen.operation.value} {title}: {', '.join(fields)}"
    except GraphQLError:
        pass
    variables = request.get("variables") if isinstance(request.get("variables"), dict) else {}
    return label, {
        "variables": variables,
        "document_sha256": hashlib.sha256(document.encode("utf-8", "replace")).hexdigest(),
    }


def _graphql_count(answer: dict[str, Any]) -> int:
    """Objects answered: the nodes of every connection, and every other object at the root."""
    data = answer.get("data")
    if not isinstance(data, dict):
        return 0

    def nodes(value: Any) -> int:
        if isinstance(value, dict):
            edges = value.get("edges")
            own = len(edges) if isinstance(edges, list) else 0
            return own + sum(nodes(v) for v in value.values())
        if isinstance(value, list):
            return sum(nodes(v) for v in value)
        return 0

    return sum(nodes(v) or int(v is not None) for v in data.values())


async def _unavailable(scope: Scope, send: Send) -> None:
    body = orjson.dumps(
        {
            "type": "about:blank",
            "title": "Service unavailable",
            "status": 503,
            "detail": "the audit log cannot record this request, so no data is served; try again shortly",
            "instance": scope["path"],
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
