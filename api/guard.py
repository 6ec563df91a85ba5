"""The guard in front of every request: who is calling, whether they are within their budget, and whether
they may see personal data. Routing comes after it, so no route (GraphQL included) can escape it.

- A bearer token is verified (:mod:`security.tokens`); without one, only the public operations of
  :mod:`security.permissions` answer (401 otherwise, problem+json, ``WWW-Authenticate``).
- The caller's budget (:mod:`security.ratelimit`) is charged one request, by principal (by address
  without a token); over budget answers 429 with ``Retry-After``. Every answer carries ``RateLimit-*``.
- A caller with personal-data clearance who sends ``X-Reveal-Reason`` sees personal data unmasked, within
  a quota per day; the reason goes to the audit log.

What it learns is left in the request's state for the routes (:func:`api.deps.get_scope`), GraphQL and the
audit log: ``principal``, ``reveal_reason``, ``request_id``.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

import orjson
from starlette.concurrency import run_in_threadpool

from security.permissions import is_public
from security.principal import Principal
from security.ratelimit import Decision, RateLimits

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

VERIFIED_FOR = 60  # seconds a verified token is trusted without checking its signature again
VERIFIED_ENTRIES = 10_000
REASON = re.compile(r"^[^\x00-\x1f\x7f]{4,200}\Z")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}\Z")


class Verifier(Protocol):
    def verify(self, token: str) -> Principal: ...


class Refused(Exception):
    """The guard answers instead of the route."""

    def __init__(
        self, status: int, title: str, detail: str, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.headers = status, title, detail, list(headers or [])


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class Guard:
    def __init__(self, app: ASGIApp, verifier: Verifier, limits: RateLimits) -> None:
        self.app = app
        self.verifier = verifier
        self.limits = limits
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        given_id = _header(scope, b"x-request-id")
        state["request_id"] = given_id if given_id and REQUEST_ID.match(given_id) else uuid.uuid4().hex
        decision: Decision | None = None
        try:
            principal = await self._principal(scope)
            state["principal"] = principal
            if self.limits.enabled:
                client = (scope.get("client") or ("unknown", 0))[0]
                key = f"sub:{principal.sub}" if principal else f"ip:{client}"
                decision = self.limits.charge(key, principal.body if principal else None)
                state["rate_key"] = key
                if not decision.allowed:
                    raise Refused(
                        429,
                        "Too many requests",
                        f"over the limit of {decision.limit} requests per window for this caller; "
                        f"retry in {decision.reset_in} s",
                        decision.headers(),
                    )
            state["reveal_reason"] = self._reveal(scope, principal)
        except Refused as refused:
            state["refused"] = refused.status
            await _problem(scope, send, refused)
            return
        rate_headers = decision.headers() if decision is not None else []

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and rate_headers:
                message["headers"] = list(message.get("headers", [])) + rate_headers
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _principal(self, scope: Scope) -> Principal | None:
        from security.tokens import TokenError

        authorization = _header(scope, b"authorization")
        if authorization is None:
            if is_public(scope["method"], scope["path"]):
                return None
            raise Refused(
                401,
                "Unauthorized",
                "a bearer token is required (Authorization: Bearer …)",
                [(b"www-authenticate", b'Bearer realm="fiscal-oversight"')],
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused(
                401,
                "Unauthorized",
                "the Authorization header must be 'Bearer <token>'",
                [(b"www-authenticate", b'Bearer realm="fiscal-oversight", error="invalid_request"')],
            )
        token = token.strip()
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        try:
            principal = await run_in_threadpool(self.verifier.verify, token)
        except TokenError as exc:
            raise Refused(
                401,
                "Unauthorized",
                f"invalid token: {exc}",
                [(b"www-authenticate", b'Bearer realm="fiscal-oversight", error="invalid_token"')],
            ) from None
        self._remember(token, principal)
        return principal

    def _remember(self, token: str, principal: Principal) -> None:
        """Keep a verified token for up to ``VERIFIED_FOR`` seconds, never past its own ``exp``: a client
        sends the same token with every request, and checking its signature each time cost more than
        answering from the cache (bench/RESULTS.md, security)."""
        try:
            payload = token.split(".")[1]
            exp = float(orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"])
        except (IndexError, KeyError, TypeError, ValueError, orjson.JSONDecodeError):
            return
        if len(self._verified) >= VERIFIED_ENTRIES:
            self._verified.popitem(last=False)
        self._verified[token] = (principal, min(exp, time.time() + VERIFIED_FOR))

    def _reveal(self, scope: Scope, principal: Principal | None) -> str | None:
        """The reason personal data may be shown unmasked on this request, or None (masked)."""
        reason = _header(scope, b"x-reveal-reason")
        if reason is None or principal is None or not principal.pii:
            return None  # no clearance, no reveal: the answer is masked as for anyone
        reason = reason.strip()
        if not REASON.match(reason):
            raise Refused(400, "Bad parameter", "X-Reveal-Reason: 4 to 200 printable characters, saying why")
        if self.limits.enabled:
            quota = self.limits.reveal(f"sub:{principal.sub}")
            if not quota.allowed:
                raise Refused(
                    429,
                    "Too many requests",
                    f"personal-data reveals are limited to {quota.limit} per window; retry in "
                    f"{quota.reset_in} s (or ask without X-Reveal-Reason for masked data)",
                    quota.headers(),
                )
        return reason


async def _problem(scope: Scope, send: Send, refused: Refused) -> None:
    body = orjson.dumps(
        {
            "type": "about:blank",
            "title": refused.title,
            "status": refused.status,
            "detail": refused.detail,
            "instance": scope["path"],
        }
    )
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": refused.status, "headers": headers + refused.headers}
    )
    await send({"type": "http.response.body", "body": body})
