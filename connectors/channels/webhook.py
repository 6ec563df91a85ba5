"""A signed webhook: each event is POSTed as JSON to one configured URL, signed per Standard Webhooks.

::

    [channels.czj-hook]
    type = "webhook"
    url = "https://oa.czj.example.gov.cn/oversight/events"
    secrets = ["${CZJ_HOOK_SECRET}", "${CZJ_HOOK_SECRET_OLD:-}"]   # the old one only while rotating
    timeout = "10s"
    headers = { Authorization = "Bearer ${CZJ_HOOK_TOKEN}" }       # optional static headers

Only the configured URL is ever called: redirects are not followed (a redirect could send the signed event,
and any static Authorization header, anywhere). The receiver removes duplicates by ``webhook-id`` (also sent
as ``idempotency-key``), since a retry after a lost answer sends the same event again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.channels import settings
from connectors.channels.base import DELIVERED, Channel, ChannelConfigError, Message, Outcome, Result
from connectors.channels.signing import check_secret, sign_headers

KEYS = frozenset({"url", "secrets", "timeout", "headers"})
MAX_SECRETS = 2
RETRY_STATUSES = frozenset({408, 425, 429})
ENDPOINT_BUSY = frozenset({429, 503})  # the whole endpoint asks to wait: the rest of the batch waits too
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
RESERVED = frozenset(
    {
        "content-type",
        "content-length",
        "transfer-encoding",
        "host",
        "connection",
        "idempotency-key",
        "x-oversight-event",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


def _secrets(cfg: dict[str, Any]) -> tuple[str, ...]:
    """One secret, or two while rotating; blanks are dropped so ``${OLD:-}`` may be empty."""
    raw = cfg.get("secrets")
    if raw is None:
        raise ChannelConfigError("secrets: required (one whsec_ secret, or two while rotating)")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise ChannelConfigError("secrets: a list of whsec_ secrets")
    found = tuple(dict.fromkeys(s.strip() for s in raw if s.strip()))
    if not 1 <= len(found) <= MAX_SECRETS:
        raise ChannelConfigError(f"secrets: one or {MAX_SECRETS} non-empty secrets; got {len(found)}")
    for i, secret in enumerate(found):
        check_secret(secret, f"secrets[{i}]")
    return found


def _headers(cfg: dict[str, Any]) -> dict[str, str]:
    """Extra static headers (an Authorization, say); their values are never shown."""
    raw = cfg.get("headers", {})
    if not isinstance(raw, dict):
        raise ChannelConfigError("headers: a table of header names and string values")
    found: dict[str, str] = {}
    for name, value in raw.items():
        if not _TOKEN.fullmatch(name):
            raise ChannelConfigError(f"headers: {name[:40]!r} is not a header name")
        if name.lower() in RESERVED:
            raise ChannelConfigError(f"headers.{name}: set by the channel itself")
        if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
            raise ChannelConfigError(f"headers.{name}: a single-line string")
        found[name] = value
    return found


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked by a ``Retry-After`` header: a number of seconds or an HTTP date (None if neither)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _reason(response: httpx.Response) -> str:
    """The status line only: a body might echo our request's headers back, Authorization included."""
    phrase = response.reason_phrase.strip()
    return f"HTTP {response.status_code}" + (f" {phrase[:60]}" if phrase else "")


def classify(response: httpx.Response) -> Outcome:
    """What a status means for the event (see :class:`Result`)."""
    status = response.status_code
    if 200 <= status < 300:
        return DELIVERED
    if status == 410:
        return Outcome(Result.gone, f"{_reason(response)}: the receiver says the endpoint is gone")
    if status in RETRY_STATUSES or status >= 500:
        return Outcome(Result.retry, _reason(response), retry_after(response.headers.get("retry-after")))
    if 300 <= status < 400:
        return Outcome(
            Result.failed,
            f"{_reason(response)}: redirects are not followed: only the configured URL is called",
        )
    return Outcome(Result.failed, _reason(response))


class WebhookChannel(Channel):
    """POSTs each event to one URL, signed; one HTTP client is kept between batches (keep-alive)."""

    kind = "webhook"

    def __init__(
        self,
        name: str,
        url: str,
        secrets: Sequence[str],
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
        public: str | None = None,
    ) -> None:
        super().__init__(name)
        self.url = url
        self.secrets = tuple(secrets)
        self.timeout = timeout
        self.headers = dict(headers or {})
        self._public = public or settings.public_url(urlsplit(url))
        self._client: httpx.Client | None = None

    @classmethod
    def from_config(cls, name: str, cfg: dict[str, Any]) -> WebhookChannel:
        settings.check_keys(cfg, KEYS, cls.kind)
        parts = settings.url(cfg, "url", ("http", "https"))
        return cls(
            name,
            parts.geturl(),
            _secrets(cfg),
            settings.seconds(cfg, "timeout", "10s"),
            _headers(cfg),
            settings.public_url(parts),
        )

    def describe(self) -> str:
        return f"webhook {self._public}"

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.timeout,
                follow_redirects=False,
                headers={"user-agent": "fiscal-oversight-webhook/1"},
            )
        return self._client

    def _post(self, message: Message) -> httpx.Response:
        headers = {
            **self.headers,
            **sign_headers(self.secrets, message.id, message.body),
            "content-type": "application/json",
            "idempotency-key": message.id,
            "x-oversight-event": message.type,
        }
        return self._http().post(self.url, content=message.body, headers=headers)

    def deliver(self, messages: Sequence[Message]) -> list[Outcome]:
        """One POST per message, in order. An unreachable endpoint, a 410 or a 429/503 settles the rest of
        the batch without calling it again: they would meet the same answer (or the same timeout)."""
        outcomes: list[Outcome] = []
        for i, message in enumerate(messages):
            try:
                response = self._post(message)
            except httpx.TransportError as exc:
                error = f"{type(exc).__name__}: {exc}".replace(self.url, self._public)[:300]
                return outcomes + [Outcome(Result.retry, error)] * (len(messages) - i)
            except UnicodeDecodeError:
                outcomes.append(Outcome(Result.failed, "body: not UTF-8 JSON, cannot be signed"))
                continue
            outcome = classify(response)
            outcomes.append(outcome)
            if response.status_code == 410 or response.status_code in ENDPOINT_BUSY:
                rest = Outcome(outcome.result, f"not sent: {outcome.error}", outcome.retry_after)
                return outcomes + [rest] * (len(messages) - i - 1)
        return outcomes

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
