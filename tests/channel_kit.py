"""Real receivers for the channels' tests and the feedback loop's end-to-end tests.

* :class:`WebhookReceiver`: an HTTP server on a fixed local port that verifies Standard Webhooks signatures
  and removes duplicates by ``webhook-id``, as a real receiver must; it can be stopped (the port then
  refuses connections) and started again on the same port.
* RabbitMQ (``rabbit_url``, ``rabbit_queue`` fixtures; :func:`drain_queue`) and Redis (``redis_url``,
  ``redis_stream`` fixtures; :func:`read_stream`) on the machine's servers, with unique, deleted names.
* :class:`SmtpReceiver`: an aiosmtpd server collecting messages, able to refuse recipients.
* :class:`TcpRelay`: a TCP forwarder to a real server that can be cut and restored, to lose a connection
  the way a network does.

Import the fixtures into a test module: ``from tests.channel_kit import rabbit_url, rabbit_queue``.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pika
import pika.exceptions
import pytest
import redis
from aiosmtpd.controller import Controller

from connectors.channels.signing import SignatureError, verify
from tests.conftest import service_unavailable

RABBIT_URL = os.environ.get("OVERSIGHT_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
REDIS_URL = os.environ.get("OVERSIGHT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LOCAL = "127.0.0.1"


def free_port() -> int:
    """A port nobody listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((LOCAL, 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(check: Any, timeout: float = 10.0, every: float = 0.02) -> bool:
    """Poll ``check()`` until true or ``timeout`` seconds pass; whether it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return bool(check())


# -- webhooks ------------------------------------------------------------------------------------------


class _HookServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # a restart binds the same port again at once

    def __init__(self, port: int, receiver: WebhookReceiver) -> None:
        self.receiver = receiver
        super().__init__((LOCAL, port), _HookHandler)


class _HookHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server: stop() must cut open connections
    server: _HookServer

    def setup(self) -> None:
        super().setup()
        self.server.receiver._track(self.connection, True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.receiver._track(self.connection, False)

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, text = self.server.receiver._answer(self.path, headers, body)
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        payload = text.encode()
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST  # noqa: N815 - a redirect followed with GET would be seen too

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Quiet: the tests read what was received, not a log."""


class WebhookReceiver:
    """A signed-webhook receiver at ``url``. Thread-safe; settable answers: ``status`` (204),
    ``retry_after`` (a Retry-After value), ``location`` (for a 3xx) and ``delay_s`` before answering."""

    def __init__(self, secrets: Sequence[str], path: str = "/hook", tolerance_s: int = 300) -> None:
        self.secrets = list(secrets)
        self.path = path
        self.tolerance_s = tolerance_s
        self.port = free_port()
        self.status = 204
        self.retry_after: str | None = None
        self.location: str | None = None
        self.delay_s = 0.0
        self.received: list[tuple[str | None, dict[str, str], bytes]] = []  # every request, verified or not
        self.unique: dict[str, bytes] = {}  # accepted events by webhook-id: duplicates removed
        self.duplicates = 0
        self.rejected: list[str] = []  # why requests failed verification
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._server: _HookServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCAL}:{self.port}{self.path}"

    def start(self) -> WebhookReceiver:
        if self._server is None:
            self._server = _HookServer(self.port, self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="webhook-receiver"
            )
            self._thread.daemon = True
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut kept-alive connections: the port refuses connections afterwards."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            open_now = list(self._connections)
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, opened: bool) -> None:
        with self._lock:
            if opened:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], str]:
        if self.delay_s:
            time.sleep(self.delay_s)
        try:
            msg_id: str | None = verify(self.secrets, headers, body, tolerance_s=self.tolerance_s)
            error = None
        except SignatureError as exc:
            msg_id, error = None, str(exc)
        with self._lock:
            self.paths.append(path)
            self.received.append((msg_id or headers.get("webhook-id"), headers, body))
            if error is not None:
                self.rejected.append(error)
                return 401, {"content-type": "text/plain"}, error
            status = self.status
            if 200 <= status < 300 and msg_id is not None:
                if msg_id in self.unique:
                    self.duplicates += 1
                else:
                    self.unique[msg_id] = body
            extra = {}
            if self.retry_after is not None:
                extra["retry-after"] = self.retry_after
            if self.location is not None:
                extra["location"] = self.location
            return status, extra, ""

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Whether ``count`` distinct events arrived within ``timeout`` seconds."""
        return wait_until(lambda: len(self.unique) >= count, timeout)


# -- a cuttable network path ---------------------------------------------------------------------------


class TcpRelay:
    """Forwards a local port to ``target``; :meth:`stop` cuts every connection and refuses new ones,
    :meth:`start` restores the path on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> TcpRelay:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOCAL, self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            cut, self._sockets = list(self._sockets), set()
        for s in cut:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


# -- RabbitMQ ------------------------------------------------------------------------------------------


def _blocking(url: str) -> pika.BlockingConnection:
    params = pika.URLParameters(url)
    params.socket_timeout = 3
    params.stack_timeout = 5
    params.connection_attempts = 1
    return pika.BlockingConnection(params)


def rabbit_available(url: str = RABBIT_URL) -> str | None:
    """None when RabbitMQ answers at ``url``, else why not."""
    try:
        _blocking(url).close()
    except Exception as exc:  # noqa: BLE001 - any failure means the service is missing
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def rabbit_url() -> str:
    why = rabbit_available(RABBIT_URL)
    if why is not None:
        service_unavailable("RabbitMQ", why)
    return RABBIT_URL


@pytest.fixture
def rabbit_queue(rabbit_url: str) -> Iterator[str]:
    """A queue name of this test alone, deleted afterwards."""
    name = f"test.oversight.{uuid.uuid4().hex}"
    yield name
    delete_queue(rabbit_url, name)


def drain_queue(url: str, queue: str) -> list[tuple[pika.BasicProperties, bytes]]:
    """Every message in ``queue`` now, in order, acknowledged (so removed)."""
    conn = _blocking(url)
    try:
        channel = conn.channel()
        found: list[tuple[pika.BasicProperties, bytes]] = []
        while True:
            method, props, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                return found
            found.append((props, body))
            channel.basic_ack(method.delivery_tag)
    finally:
        conn.close()


def queue_depth(url: str, queue: str) -> int:
    """Messages ready in ``queue`` (a passive declare: fails if it does not exist)."""
    conn = _blocking(url)
    try:
        count: int = conn.channel().queue_declare(queue, passive=True).method.message_count
        return count
    finally:
        conn.close()


def queue_is_durable(url: str, queue: str) -> bool:
    """Whether the existing ``queue`` is durable: it must exist (passive declare), and a declare as durable
    must be accepted as equivalent (RabbitMQ refuses it with 406 for a transient queue)."""
    queue_depth(url, queue)
    conn = _blocking(url)
    try:
        conn.channel().queue_declare(queue, durable=True)
        return True
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 406:
            return False
        raise
    finally:
        if conn.is_open:
            conn.close()


def purge_queue(url: str, queue: str) -> int:
    conn = _blocking(url)
    try:
        purged: int = conn.channel().queue_purge(queue).method.message_count
        return purged
    finally:
        conn.close()


def delete_queue(url: str, queue: str) -> None:
    """Delete ``queue`` if it exists."""
    with contextlib.suppress(pika.exceptions.AMQPError, OSError):
        conn = _blocking(url)
        try:
            conn.channel().queue_delete(queue)
        finally:
            if conn.is_open:
                conn.close()


def delete_exchange(url: str, exchange: str) -> None:
    with contextlib.suppress(pika.exceptions.AMQPError, OSError):
        conn = _blocking(url)
        try:
            conn.channel().exchange_delete(exchange)
        finally:
            if conn.is_open:
                conn.close()


# -- Redis ---------------------------------------------------------------------------------------------


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = _redis(REDIS_URL)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        service_unavailable("Redis", exc)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_stream(redis_url: str) -> Iterator[str]:
    """A stream name of this test alone, deleted afterwards."""
    name = f"test:oversight:{uuid.uuid4().hex}"
    yield name
    client = _redis(redis_url)
    try:
        client.delete(name)
    finally:
        client.close()


def read_stream(url: str, stream: str) -> list[dict[str, str]]:
    """Every entry of ``stream``, oldest first, as text fields plus ``_entry`` (the entry's id)."""
    client = _redis(url)
    try:
        entries: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(stream)  # type: ignore[assignment]
    finally:
        client.close()
    return [
        {"_entry": entry.decode(), **{k.decode(): v.decode() for k, v in fields.items()}}
        for entry, fields in entries
    ]


# -- SMTP ----------------------------------------------------------------------------------------------


class _SmtpHandler:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self.receiver.refuse.get(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.receiver.data_reply is not None:
            return self.receiver.data_reply
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.receiver.lock:
            self.receiver.messages.append(message)
            self.receiver.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """An SMTP server on a free local port collecting what it accepts. ``refuse`` maps a recipient to the
    reply its RCPT gets (``"550 5.1.1 no such user"``, ``"450 4.2.0 greylisted"``); ``data_reply``, when
    set, answers every message's DATA instead of accepting it (``"554 5.6.0 content rejected"``)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.refuse: dict[str, str] = {}
        self.data_reply: str | None = None
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> SmtpReceiver:
        if self._controller is None:
            self._controller = Controller(_SmtpHandler(self), hostname=LOCAL, port=self.port)
            self._controller.start()
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> SmtpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
