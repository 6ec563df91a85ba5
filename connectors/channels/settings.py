"""Reading a channel's ``[channels.NAME]`` table: the checks every channel type shares.

Each helper raises :class:`ChannelConfigError` as ``"setting: what is wrong"``; the configuration loader
prefixes ``channels.NAME``, so an operator reads exactly which line of the file to fix. Values that may be
secrets are never echoed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import SplitResult, urlsplit

from connectors.channels.base import ChannelConfigError
from connectors.sync.config import ConfigError, duration


def check_keys(cfg: dict[str, Any], known: Iterable[str], kind: str) -> None:
    """Refuse settings the channel type does not take: a typo must not silently fall back to a default."""
    allowed = sorted(known)
    unknown = sorted(set(cfg) - set(allowed))
    if unknown:
        raise ChannelConfigError(
            f"{', '.join(unknown)}: unknown setting{'s' if len(unknown) > 1 else ''} "
            f"(a {kind} channel takes {', '.join(allowed)})"
        )


def text(cfg: dict[str, Any], key: str, default: str | None = None) -> str:
    """A non-empty string setting; required when there is no default."""
    value = cfg.get(key, default)
    if value is None:
        raise ChannelConfigError(f"{key}: required")
    if not isinstance(value, str) or not value.strip():
        raise ChannelConfigError(f"{key}: a non-empty string")
    return value.strip()


def seconds(cfg: dict[str, Any], key: str, default: str) -> float:
    """A positive duration setting ("10s", "2m", 30) in seconds."""
    try:
        value = duration(cfg.get(key, default), key).total_seconds()
    except ConfigError as exc:
        raise ChannelConfigError(str(exc)) from None
    if value <= 0:
        raise ChannelConfigError(f"{key}: a positive duration")
    return value


def flag(cfg: dict[str, Any], key: str, default: bool) -> bool:
    value = cfg.get(key, default)
    if not isinstance(value, bool):
        raise ChannelConfigError(f"{key}: true or false")
    return value


def whole(cfg: dict[str, Any], key: str, default: int | None, low: int, high: int) -> int | None:
    """An integer setting from ``low`` to ``high`` (None when absent without a default)."""
    value = cfg.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ChannelConfigError(f"{key}: a whole number from {low} to {high}")
    return value


def url(cfg: dict[str, Any], key: str, schemes: Iterable[str]) -> SplitResult:
    """A URL setting with one of ``schemes`` and a host. The value is not echoed: it may hold a password."""
    raw = text(cfg, key)
    allowed = tuple(schemes)
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ChannelConfigError(f"{key}: not a valid URL") from None
    if parts.scheme.lower() not in allowed:
        shown = parts.scheme if parts.scheme.isalnum() and len(parts.scheme) < 16 else "?"
        raise ChannelConfigError(f"{key}: the scheme must be {' or '.join(allowed)}, not {shown!r}")
    if not parts.hostname:
        raise ChannelConfigError(f"{key}: the URL names no host")
    return parts


def public_url(parts: SplitResult, keep_path: bool = True) -> str:
    """The URL without its user, password, query and fragment: what logs and ``describe()`` may show."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    path = parts.path if keep_path else ""
    return f"{parts.scheme.lower()}://{host}{port}{path}"
