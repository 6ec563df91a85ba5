"""Standard Webhooks signatures (https://www.standardwebhooks.com): how a webhook proves where it came from.

A message is signed as ``HMAC-SHA256(secret, "{webhook-id}.{webhook-timestamp}.{body}")`` and sent with three
headers: ``webhook-id`` (the event's id, also the idempotency key), ``webhook-timestamp`` (Unix seconds: a
receiver refuses a stale one, so a captured request cannot be replayed later) and ``webhook-signature``
(``v1,<base64>``, one per secret, space-separated). While a secret is rotated both the new and the old one
sign, so a receiver that knows either keeps verifying; once every receiver has the new secret the old one
is dropped.

The HMAC itself comes from the ``standardwebhooks`` package. Its ``verify`` reads the real clock with a
fixed tolerance and raises assorted exceptions on malformed headers, so the checks are done here, each
refusal naming what is wrong in a message safe to show to the sender (never a secret nor the expected
signature).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets as _random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from connectors.channels.base import ChannelConfigError

PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
NEW_SECRET_BYTES = 32
TOLERANCE_S = 300
MAX_SIGNATURES = 16  # more than any rotation needs; bounds the work an attacker can ask for
ID, TIMESTAMP, SIGNATURE = "webhook-id", "webhook-timestamp", "webhook-signature"
_SECONDS = re.compile(r"\d{1,12}")


class SignatureError(ValueError):
    """A request's signature headers do not verify; the message names what is wrong and is safe to show."""


def _secret_bytes(secret: str) -> bytes | None:
    """The key a ``whsec_`` secret encodes, or None when it is not one (padding is optional, as the
    library accepts)."""
    if not secret.startswith(PREFIX):
        return None
    text = secret[len(PREFIX) :]
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def check_secret(secret: str, where: str) -> None:
    """Refuse what is not a usable secret, without echoing it (it may be a real one, mistyped)."""
    key = _secret_bytes(secret) if isinstance(secret, str) else None
    if key is None or len(key) < MIN_SECRET_BYTES:
        raise ChannelConfigError(
            f"{where}: a secret is {PREFIX} followed by the base64 of at least {MIN_SECRET_BYTES} random "
            f"bytes (signing.new_secret() makes one of {NEW_SECRET_BYTES})"
        )


def new_secret() -> str:
    """A fresh secret to hand to a receiver (32 random bytes)."""
    return PREFIX + base64.b64encode(_random.token_bytes(NEW_SECRET_BYTES)).decode("ascii")


def _utc(at: datetime) -> datetime:
    """An aware UTC time; a naive one is taken as UTC, as every timestamp of the project is."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _webhooks(secrets: Sequence[str]) -> list[Webhook]:
    usable = [s for s in secrets if s]
    if not usable:
        raise ValueError("no secret to sign or verify with")
    return [Webhook(s) for s in usable]


def sign_headers(
    secrets: Sequence[str], msg_id: str, body: bytes, at: datetime | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers of ``body``, signed by every secret (the new one and, while it is
    rotated, the old one)."""
    when = _utc(at) if at is not None else datetime.now(UTC)
    data = body.decode("utf-8")
    signatures = [hook.sign(msg_id, when, data) for hook in _webhooks(secrets)]
    return {ID: msg_id, TIMESTAMP: str(int(when.timestamp())), SIGNATURE: " ".join(signatures)}


def _required(headers: Mapping[str, str]) -> tuple[str, str, str]:
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, signature = (lowered.get(name, "").strip() for name in (ID, TIMESTAMP, SIGNATURE))
    if not (msg_id and stamp and signature):
        raise SignatureError(f"{ID}, {TIMESTAMP} and {SIGNATURE} headers are required")
    return msg_id, stamp, signature


def _check_timestamp(stamp: str, tolerance_s: int, now: datetime | None) -> datetime:
    """The signed time, refused when it is not Unix seconds or further than the tolerance from now (both
    ways: a stale request may be a replay, a future one would stay replayable for long)."""
    if not _SECONDS.fullmatch(stamp):
        raise SignatureError(f"{TIMESTAMP}: not a Unix time in whole seconds")
    signed = int(stamp)
    current = (_utc(now) if now is not None else datetime.now(UTC)).timestamp()
    if signed < current - tolerance_s:
        raise SignatureError(f"{TIMESTAMP}: older than {tolerance_s} s")
    if signed > current + tolerance_s:
        raise SignatureError(f"{TIMESTAMP}: more than {tolerance_s} s in the future")
    return datetime.fromtimestamp(signed, UTC)


def _v1_signatures(header: str) -> list[bytes]:
    """The decoded ``v1`` signatures of the header; other versions are skipped, as the standard asks, but
    a header without any ``v1`` one is refused."""
    parts = header.split()
    if len(parts) > MAX_SIGNATURES:
        raise SignatureError(f"{SIGNATURE}: more than {MAX_SIGNATURES} signatures")
    found: list[bytes] = []
    versions: set[str] = set()
    for part in parts:
        version, comma, value = part.partition(",")
        if not comma or not version or not value:
            raise SignatureError(f"{SIGNATURE}: malformed: each signature is version,base64 (v1,…)")
        versions.add(version)
        if version != "v1":
            continue
        try:
            found.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            raise SignatureError(f"{SIGNATURE}: malformed: a v1 signature is not base64") from None
    if not found:
        shown = ", ".join(sorted(v[:8] for v in versions))
        raise SignatureError(f"{SIGNATURE}: no v1 signature (unknown version {shown})")
    return found


def verify(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: int = TOLERANCE_S,
    now: datetime | None = None,
) -> str:
    """The request's ``webhook-id`` when one of its signatures matches one of ``secrets`` and its
    timestamp is within ``tolerance_s`` of ``now`` (default: the clock); :class:`SignatureError` otherwise.
    Header names are case-insensitive."""
    msg_id, stamp, header = _required(headers)
    signed_at = _check_timestamp(stamp, tolerance_s, now)
    given = _v1_signatures(header)
    try:
        data = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError("body: not UTF-8 text") from None
    for hook in _webhooks(secrets):
        expected = base64.b64decode(hook.sign(msg_id, signed_at, data).partition(",")[2])
        # compare_digest: the time taken does not tell how many leading bytes of a forgery were right
        if any(hmac.compare_digest(expected, sig) for sig in given):
            return msg_id
    raise SignatureError(f"{SIGNATURE}: no signature matches")
