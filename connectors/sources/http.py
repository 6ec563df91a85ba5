"""``http``: a JSON REST API (a special-fund platform's, say), read page by page over HTTP(S), read only.

Each stream reads one endpoint (``path``, under the source's ``base_url``) from its bookmark less the
look-back window: the lower bound goes out as a query parameter (``updated_since``, ISO 8601 with its offset
unless ``since_format`` says otherwise; omitted on a full sync). The records are the list found at a dotted
path of the JSON body (``data``; ``""`` for a body that is itself the list). Pages are followed one of three
ways:

- ``page``: ``page=1, 2, …`` with ``size=page_size``, until a page holds fewer than ``page_size`` records
  (``page_size`` must therefore not exceed the largest page the API hands out). Offsets shift when a record
  changes during the sync (it moves to the end, the next one slips onto the page already read): prefer
  ``cursor`` where the API offers it, or re-read with a look-back window;
- ``cursor``: the token at a dotted path of the body (``next``) goes back as ``cursor=…`` until there is none;
- ``none``: one request answers everything.

Requests that fail for a passing reason (a connection refused or reset, a timeout, HTTP 429, 500, 502, 503,
504) are retried with exponential backoff and full jitter, honouring ``Retry-After``; other refusals (400,
401, 403, 404, …) fail at once. Every attempt counts against a request budget per sync (``max_requests``),
so a misbehaving API cannot keep a sync busy for ever. A body that is not JSON, or not of the expected shape,
fails the stream with a message saying which page of which endpoint and why. Messages name the endpoint
without credentials or query parameters (where API keys tend to live).

::

    [sources.zxzj]
    type = "http"
    base_url = "https://zxzj.example.gov.cn/api"
    headers = { Authorization = "Bearer ${ZXZJ_TOKEN}" }
    page_size = 500

    [[sources.zxzj.streams]]
    name = "spe_fund"
    table = "spe_fund"
    path = "/funds"
    cursor = "UPDATE_TIME"
    newest_path = "/funds/newest"
    codes = { is_deleted = { "1" = "1", "2" = "0" } }
"""

from __future__ import annotations

import json
import random
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from connectors.ingest.convert import SHANGHAI
from connectors.sync.core import RecordSource, SourceError, Stream

PAGE_SIZE = 500
RETRIES = 5
MAX_REQUESTS = 10_000
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_STATUS = frozenset({429, 503})
PAGINATIONS = ("page", "cursor", "none")
EXCERPT = 200

STREAM_DEFAULTS: dict[str, Any] = {
    "records": "data",
    "pagination": "page",
    "page_param": "page",
    "size_param": "size",
    "first_page": 1,
    "cursor_param": "cursor",
    "next": "next",
    "since_param": "updated_since",
    "since_format": None,
    "newest_path": None,
    "newest_field": "newest",
    "params": {},
}

Scalar = str | int | float | bool
Params = dict[str, Any]


class HttpSource(RecordSource):
    kind = "http"
    source_keys = frozenset(
        {
            "base_url",
            "headers",
            "params",
            "page_size",
            "retries",
            "backoff",
            "max_backoff",
            "max_requests",
            "verify",
        }
    )
    stream_keys = frozenset({*STREAM_DEFAULTS, "path", "cursor_format"})

    def __init__(
        self,
        name: str,
        base_url: str,
        streams: list[Stream],
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        page_size: int = PAGE_SIZE,
        retries: int = RETRIES,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        max_requests: int = MAX_REQUESTS,
        verify: bool | str = True,
        timeout_s: float = 30.0,
    ) -> None:
        super().__init__(name, streams)
        self.base_url = base_url
        self.headers = dict(headers or {})
        self.params = dict(params or {})
        self.page_size = page_size
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_requests = max_requests
        self.verify = verify
        self.timeout_s = timeout_s
        self.requests = 0  # attempts made in this sync (since open), against max_requests
        self._client: httpx.Client | None = None
        self._sleep: Callable[[float], None] = time.sleep  # injectable: tests record the waits
        self._random: Callable[[float, float], float] = random.uniform

    @classmethod
    def from_config(cls, name: str, cfg: dict[str, Any], streams: list[Stream], where: str) -> HttpSource:
        from connectors.sync.config import ConfigError, duration

        base_url = cfg.get("base_url")
        if not isinstance(base_url, str) or not base_url.strip():
            raise ConfigError(f"{where}.base_url: an http source needs the API's base URL (https://…)")
        try:
            url = httpx.URL(base_url.strip())
        except (httpx.InvalidURL, TypeError, ValueError):
            raise ConfigError(f"{where}.base_url: not a URL") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigError(f"{where}.base_url: not an http:// or https:// URL")
        if not streams:
            raise ConfigError(f"{where}: no streams (add [[{where}.streams]])")
        headers = cfg.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str | int) for v in headers.values()):
            raise ConfigError(f"{where}.headers: must be a table of header = value (a secret: use ${{VAR}})")
        headers = {str(k): str(v) for k, v in headers.items()}
        params = _params(cfg.get("params", {}), f"{where}.params", ConfigError)

        def count(key: str, default: int, least: int) -> int:
            value = cfg.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"{where}.{key}: a whole number of at least {least}, not {value!r}")
            return value

        page_size = count("page_size", PAGE_SIZE, 1)
        retries = count("retries", RETRIES, 0)
        max_requests = count("max_requests", MAX_REQUESTS, 1)
        backoff = duration(cfg.get("backoff", "0.5s"), f"{where}.backoff").total_seconds()
        max_backoff = duration(cfg.get("max_backoff", "30s"), f"{where}.max_backoff").total_seconds()
        timeout = duration(cfg.get("timeout", 30), f"{where}.timeout").total_seconds()
        if timeout <= 0:
            raise ConfigError(f"{where}.timeout: must be more than zero")
        verify = cfg.get("verify", True)
        if not isinstance(verify, bool | str) or verify == "":
            raise ConfigError(f"{where}.verify: true, false, or the path of a CA bundle file")
        for stream in streams:
            _check_stream(stream, f"{where}.streams.{stream.name}", ConfigError)
        return cls(
            name,
            base_url.strip(),
            streams,
            headers=headers,
            params=params,
            page_size=page_size,
            retries=retries,
            backoff_s=backoff,
            max_backoff_s=max(max_backoff, backoff),
            max_requests=max_requests,
            verify=verify,
            timeout_s=timeout,
        )

    def describe(self) -> str:
        return f"http {_public(self.base_url)}"

    # -- connection ---------------------------------------------------------------------------------------

    def open(self) -> None:
        self.close()
        self.requests = 0
        verify: bool | ssl.SSLContext = self.verify if isinstance(self.verify, bool) else True
        try:
            if isinstance(self.verify, str):
                verify = ssl.create_default_context(cafile=self.verify)
            self._client = httpx.Client(
                base_url=self.base_url,
                headers=self.headers,
                timeout=self.timeout_s,
                verify=verify,
                follow_redirects=True,  # httpx drops Authorization on a redirect to another origin
            )
        except (OSError, ssl.SSLError, httpx.HTTPError, ValueError, TypeError) as exc:
            raise SourceError(f"cannot set up {self.describe()}: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self.open()
        assert self._client is not None
        return self._client

    # -- reading -------------------------------------------------------------------------------------------

    def newest(self, stream: Stream) -> Any:
        opts = _options(stream)
        path = opts["newest_path"]
        if not path:
            return None
        body = self._get_json(
            path, self._params(stream), f"the newest cursor of {stream.name} at {_path(path)}"
        )
        return _dig(body, opts["newest_field"], f"{self.describe()}: {_path(path)}", allow_missing=False)

    def pages(self, stream: Stream, since: Any) -> Iterator[list[dict[str, Any]]]:
        opts = _options(stream)
        path: str = opts["path"]
        params = self._params(stream)
        if since is not None and opts["since_param"]:
            params[opts["since_param"]] = _since_text(since, opts["since_format"])
        mode = opts["pagination"]
        if mode != "none":
            params[opts["size_param"]] = self.page_size
        page_no = opts["first_page"]
        token: Any = None
        seen_tokens: set[str] = set()
        previous: dict[str, Any] | None = None  # the first record of the previous page
        n = 0
        while True:
            n += 1
            what = f"page {n} of {_path(path)}"
            request_params = dict(params)
            if mode == "page":
                request_params[opts["page_param"]] = page_no
            elif mode == "cursor" and token is not None:
                request_params[opts["cursor_param"]] = token
            body = self._get_json(path, request_params, what)
            records = self._records(body, opts["records"], what)
            if records:
                yield records
            if mode == "none":
                return
            if mode == "page":
                if len(records) > self.page_size:
                    raise SourceError(
                        f"{self.describe()}: {what}: {len(records)} records on a page of {self.page_size}: "
                        f"does the API take the page size as {opts['size_param']!r}?"
                    )
                if records and records[0] == previous:
                    raise SourceError(
                        f"{self.describe()}: {what}: the same records as the page before: "
                        f"does the API take the page number as {opts['page_param']!r}?"
                    )
                if len(records) < self.page_size:
                    return
                previous = records[0]
                page_no += 1
                continue
            token = _dig(body, opts["next"], f"{self.describe()}: {what}", allow_missing=True)
            if token is None or token == "":
                return
            if not isinstance(token, str | int):
                raise SourceError(
                    f"{self.describe()}: {what}: the next-page token {opts['next']!r} is {_kind(token)}, "
                    "not a string or number"
                )
            if str(token) in seen_tokens:
                raise SourceError(
                    f"{self.describe()}: {what}: the API handed out the next-page token {token!r} again"
                )
            seen_tokens.add(str(token))

    # -- requests ------------------------------------------------------------------------------------------

    def _params(self, stream: Stream) -> Params:
        return {**self.params, **(stream.options.get("params") or {})}

    def _get_json(self, path: str, params: Params, what: str) -> Any:
        response = self._get(path, params, what)
        content_type = response.headers.get("content-type", "no content type")
        try:
            charset = response.charset_encoding
            text_or_bytes: str | bytes = response.content.decode(charset) if charset else response.content
            return json.loads(text_or_bytes, parse_float=Decimal)  # amounts exact, never through a float
        except (ValueError, LookupError, RecursionError):  # not JSON, not its charset, nested too deep
            raise SourceError(
                f"{self.describe()}: {what}: the body is not JSON ({content_type}): {_excerpt(response)}"
            ) from None

    def _get(self, path: str, params: Params, what: str) -> httpx.Response:
        """One GET with the retry policy; a 2xx response or a :class:`SourceError`."""
        url = f"{_public(self.base_url).rstrip('/')}/{_path(path).lstrip('/')}"
        client = self.client
        reason = ""
        attempts = 0
        for attempt in range(self.retries + 1):
            if self.requests >= self.max_requests:
                raise SourceError(
                    f"{self.describe()}: {what}: the request budget of {self.max_requests} requests per sync "
                    f"(max_requests) is spent" + (f"; the last attempt: {reason}" if reason else "")
                )
            self.requests += 1
            attempts += 1
            wait: float | None = None
            try:
                response = client.get(path, params=params)
            except httpx.TimeoutException as exc:
                reason = f"timed out after {self.timeout_s:g}s ({type(exc).__name__})"
            except httpx.TransportError as exc:  # refused, reset, DNS, TLS, a broken response
                reason = f"{type(exc).__name__}: {_first_line(exc)}"
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # a bad URL, a redirect loop: no retry mends
                raise SourceError(
                    f"{self.describe()}: {what}: GET {url}: {type(exc).__name__}: {_first_line(exc)}"
                ) from None
            else:
                if response.is_success:
                    return response
                status = response.status_code
                reason = f"HTTP {status} {response.reason_phrase}".rstrip()
                if status not in RETRY_STATUS:
                    raise SourceError(
                        f"{self.describe()}: {what}: GET {url} answered {reason}: {_excerpt(response)}"
                    )
                if status in RETRY_AFTER_STATUS:
                    wait = _retry_after(response.headers.get("retry-after"))
            if attempt == self.retries:
                break
            if wait is not None:
                delay = min(self.max_backoff_s, wait)
            else:
                delay = self._random(0, min(self.max_backoff_s, self.backoff_s * 2**attempt))
            self._sleep(delay)
        raise SourceError(f"{self.describe()}: {what}: GET {url} failed {attempts} times; last: {reason}")

    def _records(self, body: Any, path: str, what: str) -> list[dict[str, Any]]:
        records = _dig(body, path, f"{self.describe()}: {what}", allow_missing=False)
        if not isinstance(records, list):
            at = f"at {path!r}" if path else "as the body"
            raise SourceError(
                f"{self.describe()}: {what}: expected a list of records {at}, found {_kind(records)}"
            )
        for i, record in enumerate(records, 1):
            if not isinstance(record, dict):
                raise SourceError(f"{self.describe()}: {what}: record {i} is {_kind(record)}, not an object")
        return records


# -- configuration -------------------------------------------------------------------------------------------


def _options(stream: Stream) -> dict[str, Any]:
    return {**STREAM_DEFAULTS, **stream.options}


def _params(value: Any, where: str, error: type[Exception]) -> Params:
    if not isinstance(value, dict):
        raise error(f"{where}: must be a table of parameter = value")
    for key, v in value.items():
        items = v if isinstance(v, list) else [v]
        if not all(isinstance(i, Scalar) for i in items):
            raise error(f"{where}.{key}: a string, number or boolean (or a list of them)")
    return dict(value)


def _check_stream(stream: Stream, where: str, error: type[Exception]) -> None:
    opts = stream.options
    path = opts.get("path")
    if not isinstance(path, str) or not path.strip():
        raise error(f'{where}.path: an http stream needs the endpoint\'s path under base_url ("/funds")')
    for key in ("path", "newest_path"):  # an absolute URL would take the headers (the token) elsewhere
        value = opts.get(key)
        if isinstance(value, str) and ("://" in value or value.startswith("//")):
            raise error(f"{where}.{key}: a path relative to base_url, not a URL ({value!r})")
    for key in ("records", "since_param"):  # may be empty: the body itself; no lower bound sent
        if key in opts and not isinstance(opts[key], str):
            raise error(f"{where}.{key}: must be a string")
    for key in (
        "page_param",
        "size_param",
        "cursor_param",
        "next",
        "newest_field",
        "since_format",
        "newest_path",
    ):
        if key in opts and (not isinstance(opts[key], str) or not opts[key].strip()):
            raise error(f"{where}.{key}: must be a non-empty string")
    pagination = opts.get("pagination", "page")
    if pagination not in PAGINATIONS:
        raise error(f"{where}.pagination: {pagination!r} is not one of {', '.join(PAGINATIONS)}")
    first = opts.get("first_page", 1)
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        raise error(f"{where}.first_page: a whole number (0 or 1, usually)")
    if "since_format" in opts:
        try:
            datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).strftime(opts["since_format"])
        except ValueError as exc:
            raise error(f"{where}.since_format: {exc}") from None
    if "params" in opts:
        _params(opts["params"], f"{where}.params", error)


# -- helpers -------------------------------------------------------------------------------------------------


def _public(url: str) -> str:
    """A URL without user info, query or fragment: safe for messages."""
    try:
        parsed = httpx.URL(url)
        return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<invalid URL>"


def _path(path: str) -> str:
    """An endpoint path without its query (where a key may be)."""
    return path.split("?", 1)[0].split("#", 1)[0]


def _dig(body: Any, dotted: str, what: str, *, allow_missing: bool) -> Any:
    """The value at a dotted path of a JSON body (``""``: the body itself)."""
    value = body
    done: list[str] = []
    for part in dotted.split(".") if dotted else []:
        if not isinstance(value, dict):
            at = ".".join(done) or "the body"
            raise SourceError(
                f"{what}: expected an object at {at!r} to find {dotted!r}, found {_kind(value)}"
            )
        if part not in value:
            if allow_missing:
                return None
            keys = ", ".join(list(map(str, value))[:10]) or "none"
            raise SourceError(f"{what}: the body has no {dotted!r} (its keys: {keys})")
        value = value[part]
        done.append(part)
    return value


def _since_text(since: Any, fmt: str | None) -> str:
    if isinstance(since, datetime):
        if fmt:  # a format the API reads is in its local time, like every stamp of the feed
            local = since.astimezone(SHANGHAI) if since.tzinfo else since
            return local.strftime(fmt)
        return since.isoformat()
    return str(since)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (a number, or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)) / timedelta(seconds=1))


def _excerpt(response: httpx.Response) -> str:
    try:
        text = response.content[: EXCERPT * 4].decode(response.charset_encoding or "utf-8", "replace")
    except LookupError:
        text = response.content[: EXCERPT * 4].decode("utf-8", "replace")
    text = " ".join(text.split())
    if not text:
        return "(empty body)"
    return repr(text[:EXCERPT] + ("…" if len(text) > EXCERPT else ""))


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def _kind(value: Any) -> str:
    """What a JSON value is, for messages: "an object", "a list", …"""
    kinds = {dict: "an object", list: "a list", str: "a string", type(None): "null", bool: "a boolean"}
    return kinds.get(type(value), "a number")
