"""Opaque cursors for keyset pagination: the last row's sort key, tagged with the listing it belongs to."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from api.errors import BadParameter

MAX_LIMIT = 500
DEFAULT_LIMIT = 50


def encode_cursor(listing: str, key: list[Any]) -> str:
    raw = orjson.dumps({"l": listing, "k": key})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(listing: str, cursor: str | None, width: int) -> list[Any] | None:
    """The sort key a cursor carries, or None for the first page; a foreign or damaged cursor is a 400."""
    if not cursor:
        return None
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise BadParameter("cursor", "not a cursor issued by this service") from None
    if not isinstance(data, dict) or data.get("l") != listing or not isinstance(data.get("k"), list):
        raise BadParameter("cursor", f"not a cursor of the {listing} listing")
    key = data["k"]
    if len(key) != width:
        raise BadParameter("cursor", f"not a cursor of the {listing} listing")
    return key
