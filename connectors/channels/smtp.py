"""E-mail over SMTP: each event becomes one message to a fixed list of recipients, for bodies whose only
inbox is a mailbox.

::

    [channels.mail]
    type = "smtp"
    host = "smtp.czj.example.gov.cn"
    port = 587                       # 587: STARTTLS, 465: TLS from the start, else plain (security = …)
    username = "oversight"
    password = "${SMTP_PASSWORD}"
    sender = "预算联网监督 <oversight@czj.example.gov.cn>"
    recipients = ["jdc@czj.example.gov.cn"]
    subject_prefix = "[预算联网监督]"

A message carries a short plain-text summary and the event's JSON document as an attachment
(``event-<id>.json``), with ``Message-ID: <id@fiscal-oversight>`` so that a mail client can tell a
redelivered event (delivery is at least once) from a new one. One SMTP session serves a batch.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Sequence
from datetime import UTC
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

import orjson

from connectors.channels import settings
from connectors.channels.base import DELIVERED, Channel, ChannelConfigError, Message, Outcome, Result

KEYS = frozenset(
    {
        "host",
        "port",
        "security",
        "username",
        "password",
        "sender",
        "recipients",
        "timeout",
        "subject_prefix",
    }
)
SECURITY = ("none", "starttls", "ssl")
DEFAULT_SECURITY = {587: "starttls", 465: "ssl"}
DOMAIN = "fiscal-oversight"
_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
MAX_LINE = 200
LOST = (smtplib.SMTPServerDisconnected, smtplib.SMTPException, OSError)  # the session is unusable


def _address(value: Any, where: str) -> tuple[str, str]:
    """(the header form, the bare address for the envelope) of ``Name <a@b>`` or ``a@b``."""
    if value is None:
        raise ChannelConfigError(f"{where}: required (an e-mail address)")
    if not isinstance(value, str) or not value.strip() or _CONTROL.search(value):
        raise ChannelConfigError(f"{where}: an e-mail address")
    name, addr = parseaddr(value.strip())
    if not _ADDRESS.fullmatch(addr):
        raise ChannelConfigError(f"{where}: {value.strip()[:80]!r} is not an e-mail address")
    return formataddr((name, addr)), addr


def _recipients(cfg: dict[str, Any]) -> list[tuple[str, str]]:
    raw = cfg.get("recipients")
    if raw is None:
        raise ChannelConfigError("recipients: required (a list of e-mail addresses)")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise ChannelConfigError("recipients: a non-empty list of e-mail addresses")
    return [_address(r, f"recipients[{i}]") for i, r in enumerate(raw)]


def _security(cfg: dict[str, Any], port: int) -> str:
    value = cfg.get("security", DEFAULT_SECURITY.get(port, "none"))
    if value not in SECURITY:
        raise ChannelConfigError(f"security: one of {', '.join(SECURITY)}")
    return str(value)


def _credentials(cfg: dict[str, Any], security: str) -> tuple[str, str] | None:
    """Both or neither; and never over a plain-text connection, where anyone on the path reads them."""
    user, password = cfg.get("username"), cfg.get("password")
    if user is None and password is None:
        return None
    if user is None or password is None:
        raise ChannelConfigError(f"{'password' if password is None else 'username'}: set with the other one")
    if not isinstance(user, str) or not user or not isinstance(password, str) or not password:
        raise ChannelConfigError("username: username and password are non-empty strings")
    if security == "none":
        raise ChannelConfigError(
            'username: credentials are sent only over TLS: security = "starttls" or "ssl"'
        )
    return user, password


def _line(value: Any) -> str:
    """One header-safe, bounded line (event data must not be able to add headers)."""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return _CONTROL.sub(" ", text).strip()[:MAX_LINE]


def _document(message: Message) -> dict[str, Any]:
    try:
        found = orjson.loads(message.body)
    except orjson.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def subject(prefix: str, message: Message, doc: dict[str, Any]) -> str:
    """Prefix, type and region, then what tells events apart in an inbox: an inquiry's subject, a
    warning's rule and level."""
    found = doc.get("data")
    data: dict[str, Any] = found if isinstance(found, dict) else {}
    parts = [prefix, message.type, message.region]
    if message.type.startswith("inquiry.") and data.get("subject"):
        parts.append(_line(data["subject"]))
    elif message.type.startswith("warning."):
        parts += [_line(v) for v in (data.get("rule_code"), doc.get("level")) if v]
    return _line(" ".join(p for p in parts if p))


def summary(message: Message, doc: dict[str, Any]) -> str:
    lines = [
        f"事件 Event: {message.type}",
        f"地区 Region: {message.region}",
        f"编号 Id: {message.id}",
    ]
    if doc.get("level"):
        lines.append(f"级别 Level: {_line(doc['level'])}")
    if doc.get("occurred_at"):
        lines.append(f"时间 Occurred: {_line(doc['occurred_at'])}")
    data = doc.get("data")
    if isinstance(data, dict) and data:
        lines += ["", *(f"{_line(k)}: {_line(v)}" for k, v in data.items())]
    lines += ["", f"The event's JSON document is attached (event-{message.id}.json)."]
    return "\n".join(lines) + "\n"


def _code_outcome(code: int, text: bytes | str, what: str) -> Outcome:
    """5xx: refused for good; anything else (4xx: greylisting, a full mailbox) may pass later."""
    shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    error = f"{what}: {code} {_line(shown)}"
    return Outcome(Result.failed if 500 <= code < 600 else Result.retry, error)


def _refusals(refused: dict[str, tuple[int, bytes]], total: int) -> Outcome:
    """Recipients the server refused. A temporary refusal of any one retries the message (those who
    got it get it again, with the same Message-ID); permanent refusals of some only are noted."""
    text = "; ".join(
        f"{addr}: {code} {_line(msg.decode('utf-8', 'replace'))}" for addr, (code, msg) in refused.items()
    )
    temporary = any(not 500 <= code < 600 for code, _ in refused.values())
    if temporary:
        return Outcome(Result.retry, f"recipients refused for now: {text}"[:500])
    if len(refused) >= total:
        return Outcome(Result.failed, f"every recipient refused: {text}"[:500])
    return Outcome(Result.delivered, f"some recipients refused: {text}"[:500])


class SmtpChannel(Channel):
    """Sends each event as one e-mail; one SMTP session per batch."""

    kind = "smtp"

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        security: str,
        sender: tuple[str, str],
        recipients: Sequence[tuple[str, str]],
        credentials: tuple[str, str] | None = None,
        timeout: float = 30.0,
        subject_prefix: str = "[预算联网监督]",
    ) -> None:
        super().__init__(name)
        self.host, self.port, self.security = host, port, security
        self.sender = sender
        self.recipients = list(recipients)
        self._credentials = credentials
        self.timeout = timeout
        self.subject_prefix = subject_prefix

    @classmethod
    def from_config(cls, name: str, cfg: dict[str, Any]) -> SmtpChannel:
        settings.check_keys(cfg, KEYS, cls.kind)
        host = settings.text(cfg, "host")
        port = settings.whole(cfg, "port", 25, 1, 65535)
        assert port is not None
        security = _security(cfg, port)
        prefix = cfg.get("subject_prefix", "[预算联网监督]")
        if not isinstance(prefix, str) or _CONTROL.search(prefix):
            raise ChannelConfigError("subject_prefix: a single-line string")
        return cls(
            name,
            host,
            port,
            security,
            _address(cfg.get("sender"), "sender"),
            _recipients(cfg),
            _credentials(cfg, security),
            settings.seconds(cfg, "timeout", "30s"),
            prefix.strip(),
        )

    def describe(self) -> str:
        to = ", ".join(addr for _, addr in self.recipients)
        return f"smtp {self.host}:{self.port} ({self.security}) to {to}"

    def email(self, message: Message) -> EmailMessage:
        """The e-mail of one event."""
        doc = _document(message)
        created = message.created_at
        created = created.replace(tzinfo=UTC) if created.tzinfo is None else created.astimezone(UTC)
        mail = EmailMessage()
        mail["From"] = self.sender[0]
        mail["To"] = ", ".join(header for header, _ in self.recipients)
        mail["Subject"] = subject(self.subject_prefix, message, doc)
        mail["Date"] = format_datetime(created)
        mail["Message-ID"] = f"<{_line(message.id)}@{DOMAIN}>"
        mail["X-Oversight-Event-Id"] = _line(message.id)
        mail["X-Oversight-Event"] = _line(message.type)
        mail["X-Oversight-Region"] = _line(message.region)
        mail.set_content(summary(message, doc))
        mail.add_attachment(
            message.body, maintype="application", subtype="json", filename=f"event-{_line(message.id)}.json"
        )
        return mail

    def _session(self) -> smtplib.SMTP:
        """Connected, encrypted as configured (never falling back to plain text) and logged in."""
        if self.security == "ssl":
            session: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            session = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            session.ehlo()
            if self.security == "starttls":
                session.starttls(context=ssl.create_default_context())
                session.ehlo()
            if self._credentials is not None:
                session.login(*self._credentials)
        except BaseException:
            session.close()
            raise
        return session

    def deliver(self, messages: Sequence[Message]) -> list[Outcome]:
        if not messages:
            return []
        try:
            session = self._session()
        except smtplib.SMTPAuthenticationError as exc:
            error = f"the server refused the login ({exc.smtp_code}): check username and password"
            return [Outcome(Result.retry, error)] * len(messages)
        except LOST as exc:
            error = f"no SMTP session with {self.host}:{self.port}: {type(exc).__name__}: {_line(str(exc))}"
            return [Outcome(Result.retry, error)] * len(messages)
        try:
            return self._send_all(session, messages)
        finally:
            _quit(session)

    def _send_all(self, session: smtplib.SMTP, messages: Sequence[Message]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        envelope_to = [addr for _, addr in self.recipients]
        for i, message in enumerate(messages):
            try:
                refused = session.send_message(self.email(message), self.sender[1], envelope_to)
                outcomes.append(_refusals(refused, len(envelope_to)) if refused else DELIVERED)
            except smtplib.SMTPRecipientsRefused as exc:
                outcomes.append(_refusals(exc.recipients, len(envelope_to)))
            except smtplib.SMTPSenderRefused as exc:
                outcomes.append(_code_outcome(exc.smtp_code, exc.smtp_error, "sender refused"))
            except smtplib.SMTPDataError as exc:
                outcomes.append(_code_outcome(exc.smtp_code, exc.smtp_error, "message refused"))
            except LOST as exc:
                error = f"session lost: {type(exc).__name__}: {_line(str(exc))}"
                return outcomes + [Outcome(Result.retry, error)] * (len(messages) - i)
        return outcomes


def _quit(session: smtplib.SMTP) -> None:
    try:
        session.quit()
    except LOST:
        session.close()
