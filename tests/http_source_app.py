"""A small JSON API of a special-fund platform, served for real over HTTP, for the ``http`` connector's tests.

Records live in memory (:class:`Store`), as dicts with the upper-case keys of a 一体化 system
(``SPE_FUND_CODE``, ``MOF_DIV_CODE``, ``IS_DELETED`` 1/2, ``UPDATE_TIME`` as ``YYYY-MM-DD HH:MM:SS`` local
time), and are handed out sorted by ``UPDATE_TIME`` then key:

- ``GET /api/{table}?updated_since=&page=&size=``: page pagination,
  ``{"data": [...], "page": p, "total": n}``;
- ``GET /api/cursor/{table}?updated_since=&cursor=&size=``: keyset pagination, ``{"data": [...], "next": t}``
  (``next`` is null on the last page);
- ``GET /api/v2/{table}?…``: the same, nested: ``{"result": {"rows": [...], "paging": {"next": t}}}``;
- ``GET /api/all/{table}?updated_since=``: the body is the bare list of every record;
- ``GET /api/{table}/newest``: ``{"newest": "<the largest UPDATE_TIME>"}`` (null for an empty table).

``updated_since`` is ISO 8601 (with an offset, or naive local time); records stamped at or after it qualify.
The test steers failures through ``app.state.faults`` (:class:`Faults`) and sees every request in
``app.state.log``. :func:`serve` runs the app under uvicorn in a background thread on a free local port::

    app = make_app()
    app.state.store.put("spe_fund", [{"SPE_FUND_CODE": "F1", ...}])
    app.state.faults.fail, app.state.faults.status = 2, 503
    with serve(app) as base_url:
        ...  # f"{base_url}/api/spe_fund"
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from connectors.ingest.convert import SHANGHAI
from schema.feed import feed_tables

Record = dict[str, Any]
KeyFn = Callable[[Record], tuple[str, ...]]
STAMP = "%Y-%m-%d %H:%M:%S"
DEFAULT_SIZE = 100


# -- the data ------------------------------------------------------------------------------------------------


class Store:
    """Records by table, upserted by key. A table's key is given to :meth:`put` (field names or a
    function); a table named like a feed table defaults to that table's key, upper-cased (``spe_fund`` →
    ``SPE_FUND_CODE``)."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[tuple[str, ...], Record]] = {}
        self._keys: dict[str, KeyFn] = {}
        self._lock = threading.Lock()

    def put(
        self, table: str, records: Iterable[Record], key: str | Sequence[str] | KeyFn | None = None
    ) -> None:
        """Insert or replace records (a soft delete is a record with ``IS_DELETED`` 1)."""
        with self._lock:
            fn = self._key_fn(table, key)
            rows = self._rows.setdefault(table, {})
            for record in records:
                rows[fn(record)] = dict(record)

    def delete(self, table: str, records: Iterable[Record]) -> None:
        """Remove records outright (a hard delete, which an incremental sync cannot see)."""
        with self._lock:
            fn = self._key_fn(table, None)
            for record in records:
                self._rows.get(table, {}).pop(fn(record), None)

    def clear(self, table: str | None = None) -> None:
        with self._lock:
            if table is None:
                self._rows.clear()
            else:
                self._rows.pop(table, None)

    def records(self, table: str) -> list[Record]:
        """Every record of the table, in the order the API hands them out."""
        with self._lock:
            rows = self._rows.get(table, {})
            return [
                dict(rows[k]) for k in sorted(rows, key=lambda k: (str(rows[k].get("UPDATE_TIME") or ""), k))
            ]

    def key_of(self, table: str, record: Record) -> tuple[str, ...]:
        with self._lock:
            return self._key_fn(table, None)(record)

    def _key_fn(self, table: str, key: str | Sequence[str] | KeyFn | None) -> KeyFn:
        if key is None:
            if table in self._keys:
                return self._keys[table]
            ft = feed_tables().get(table.lower())
            if ft is None:
                raise ValueError(f"table {table!r}: say which fields are its key (put(..., key=...))")
            key = [k.upper() for k in ft.key]
        if callable(key):
            fn: KeyFn = key
        else:
            names = [key] if isinstance(key, str) else list(key)

            def fn(record: Record) -> tuple[str, ...]:
                return tuple(str(record[n]) for n in names)

        self._keys[table] = fn
        return fn


@dataclass
class Faults:
    """What goes wrong, set by the test. Counters (``fail``, ``garbage``, ``wrong_shape``, ``slow``) apply to
    the next N requests after ``skip`` more have been answered normally; the auth check applies always."""

    token: str | None = None  # require ``Authorization: Bearer <token>``; 401 otherwise
    skip: int = 0  # answer this many requests normally before the faults below kick in
    fail: int = 0  # answer the next N requests with ``status``
    status: int = 500
    retry_after: str | None = None  # the Retry-After header of those failures
    garbage: int = 0  # answer the next N requests 200 with an HTML page
    wrong_shape: int = 0  # answer the next N requests 200 with ``shape`` (JSON, not the usual envelope)
    shape: Any = field(default_factory=lambda: {"rows": "not a list"})
    slow: int = 0  # make the next N requests wait ``delay`` seconds before answering (normally)
    delay: float = 1.0
    max_size: int = 1_000  # the largest page the API hands out (a larger size is cut down to it)

    def reset(self) -> None:
        for name, value in Faults().__dict__.items():
            setattr(self, name, value)


@dataclass
class Seen:
    """One request as the API saw it."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]
    status: int = 0


# -- the API -------------------------------------------------------------------------------------------------


def _parse_since(value: str | None) -> datetime | None:
    """The lower bound as naive local time; ValueError when it cannot be read."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed.astimezone(SHANGHAI).replace(tzinfo=None) if parsed.tzinfo else parsed


def _stamp(record: Record) -> datetime | None:
    raw = record.get("UPDATE_TIME")
    return datetime.fromisoformat(str(raw)) if raw else None


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def _selected(request: Request) -> list[Record] | JSONResponse:
    """The table's records at or after ``updated_since``, in order."""
    store: Store = request.app.state.store
    try:
        since = _parse_since(request.query_params.get("updated_since"))
    except ValueError:
        return _bad(
            f"updated_since {request.query_params.get('updated_since')!r} is not an ISO 8601 date-time"
        )
    rows = store.records(request.path_params["table"])
    if since is not None:
        rows = [r for r in rows if (stamp := _stamp(r)) is not None and stamp >= since]
    return rows


def _size(request: Request) -> int | JSONResponse:
    try:
        size = int(request.query_params.get("size", DEFAULT_SIZE))
    except ValueError:
        return _bad("size must be a number")
    if size < 1:
        return _bad("size must be at least 1")
    return min(size, request.app.state.faults.max_size)


def _token(table: str, store: Store, record: Record) -> str:
    position = [str(record.get("UPDATE_TIME") or ""), list(store.key_of(table, record))]
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def _after(token: str) -> tuple[str, tuple[str, ...]]:
    stamp, key = json.loads(base64.urlsafe_b64decode(token.encode()))
    return str(stamp), tuple(key)


async def page_list(request: Request) -> Response:
    rows = _selected(request)
    size = _size(request)
    if isinstance(rows, Response):
        return rows
    if isinstance(size, Response):
        return size
    try:
        page = int(request.query_params.get("page", 1))
    except ValueError:
        return _bad("page must be a number")
    if page < 1:
        return _bad("pages are numbered from 1")
    start = (page - 1) * size
    return JSONResponse({"data": rows[start : start + size], "page": page, "total": len(rows)})


def _keyset(request: Request) -> tuple[list[Record], str | None] | Response:
    rows = _selected(request)
    size = _size(request)
    if isinstance(rows, Response):
        return rows
    if isinstance(size, Response):
        return size
    table, store = request.path_params["table"], request.app.state.store
    token = request.query_params.get("cursor")
    if token:
        try:
            after = _after(token)
        except (ValueError, TypeError):
            return _bad("not a cursor this API handed out")
        rows = [r for r in rows if (str(r.get("UPDATE_TIME") or ""), store.key_of(table, r)) > after]
    page = rows[:size]
    return page, (_token(table, store, page[-1]) if len(rows) > size else None)


async def cursor_list(request: Request) -> Response:
    result = _keyset(request)
    if isinstance(result, Response):
        return result
    page, next_token = result
    return JSONResponse({"data": page, "next": next_token})


async def nested_list(request: Request) -> Response:
    result = _keyset(request)
    if isinstance(result, Response):
        return result
    page, next_token = result
    return JSONResponse({"result": {"rows": page, "paging": {"next": next_token}}, "code": 0})


async def bare_list(request: Request) -> Response:
    rows = _selected(request)
    return rows if isinstance(rows, Response) else JSONResponse(rows)


async def newest(request: Request) -> Response:
    rows = request.app.state.store.records(request.path_params["table"])
    stamps = [str(r["UPDATE_TIME"]) for r in rows if r.get("UPDATE_TIME")]
    return JSONResponse({"newest": max(stamps) if stamps else None})


def faulty(endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """Log the request, check the token, and play the faults the test set."""

    async def wrapped(request: Request) -> Response:
        state = request.app.state
        faults: Faults = state.faults
        seen = Seen(request.url.path, dict(request.query_params), dict(request.headers))
        state.log.append(seen)
        response = await _play(request, faults, endpoint)
        seen.status = response.status_code
        return response

    return wrapped


async def _play(request: Request, faults: Faults, endpoint: Callable[[Request], Any]) -> Response:
    if faults.token is not None and request.headers.get("authorization") != f"Bearer {faults.token}":
        return JSONResponse(
            {"error": "unauthorised"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    if faults.skip > 0:
        faults.skip -= 1
        return await endpoint(request)  # type: ignore[no-any-return]
    if faults.slow > 0:
        faults.slow -= 1
        await asyncio.sleep(faults.delay)
    if faults.fail > 0:
        faults.fail -= 1
        headers = {"Retry-After": faults.retry_after} if faults.retry_after is not None else None
        return JSONResponse(
            {"error": f"injected {faults.status}"}, status_code=faults.status, headers=headers
        )
    if faults.garbage > 0:
        faults.garbage -= 1
        html = "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
        return PlainTextResponse(html, media_type="text/html")
    if faults.wrong_shape > 0:
        faults.wrong_shape -= 1
        return JSONResponse(faults.shape)
    return await endpoint(request)  # type: ignore[no-any-return]


def make_app(store: Store | None = None) -> Starlette:
    app = Starlette(
        routes=[
            Route("/api/cursor/{table}", faulty(cursor_list)),
            Route("/api/v2/{table}", faulty(nested_list)),
            Route("/api/all/{table}", faulty(bare_list)),
            Route("/api/{table}/newest", faulty(newest)),
            Route("/api/{table}", faulty(page_list)),
        ]
    )
    app.state.store = store or Store()
    app.state.faults = Faults()
    app.state.log = []
    return app


# -- serving -------------------------------------------------------------------------------------------------


@contextmanager
def serve(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Run ``app`` under uvicorn in a background thread on a free port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn:{port}", daemon=True
    )
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not server.started:
            raise RuntimeError("the test API server did not start")
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
