"""Parsing one feed value into its stored form, per the types of ``feeds.md``.

Each parser takes the stripped, non-empty text of a field and returns the stored value or raises
:class:`BadValue` with a reason a person can act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from schema.base import FeedField, Kind

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # China has no daylight saving time since 1991
_REGION = re.compile(r"\d{9}")
_FLAGS = {"1": True, "0": False, "y": True, "n": False, "是": True, "否": False, "true": True, "false": False}
MAX_CODE = 64


class BadValue(ValueError):
    """A field value that does not fit its type."""


def parse_code(text: str) -> str:
    if len(text) > MAX_CODE:
        raise BadValue(f"code longer than {MAX_CODE} characters")
    return text


def parse_region(text: str) -> str:
    if not _REGION.fullmatch(text):
        raise BadValue(f"{text!r} is not a 9-digit finance region code")
    return text


def parse_text(text: str) -> str:
    return text


def parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadValue(f"{text!r} is not a whole number") from None


def parse_date(text: str) -> date:
    try:
        if len(text) == 10 and text[4] in "-/" and text[7] == text[4]:
            return date(int(text[:4]), int(text[5:7]), int(text[8:]))
        if len(text) == 8 and text.isdigit():
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        pass
    raise BadValue(f"{text!r} is not a date (YYYY-MM-DD, YYYYMMDD or YYYY/MM/DD)")


def parse_datetime(text: str) -> datetime:
    """ISO 8601; a value without an offset is Asia/Shanghai time. Returned as naive UTC."""
    try:
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=SHANGHAI)
        return value.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # out of range moving to UTC (year 1, year 9999) is bad input too
        raise BadValue(f"{text!r} is not an ISO 8601 date-time") from None


# The warehouse keeps dates as ``YYYY-MM-DD`` and date-times as naive UTC ``YYYY-MM-DD HH:MM:SS.ffffff``:
# SQLAlchemy's own text form on SQLite, and input PostgreSQL casts. Feeds repeat the same dates endlessly,
# so the stored forms are cached.
@lru_cache(maxsize=1 << 16)
def stored_date(text: str) -> str:
    return parse_date(text).isoformat()


@lru_cache(maxsize=1 << 16)
def stored_datetime(text: str) -> str:
    # isoformat pads the year to four digits; strftime("%Y") would write year 999 as "999"
    return parse_datetime(text).isoformat(sep=" ", timespec="microseconds")


def parse_amount(text: str) -> int:
    """Yuan with at most two decimals → integer fen, without ever passing through a float."""
    body = text[1:] if text[:1] == "-" else text
    whole, dot, frac = body.partition(".")
    # str.isdigit alone would take other scripts' digits; isascii keeps it to 0-9
    if not (
        whole.isascii()
        and whole.isdigit()
        and len(whole) <= 16
        and (not dot or (frac.isascii() and frac.isdigit() and len(frac) <= 2))
    ):
        raise BadValue(f"{text!r} is not an amount in yuan with at most 2 decimals")
    fen = int(whole) * 100 + (int(frac) * (10 if len(frac) == 1 else 1) if frac else 0)
    return -fen if body is not text else fen


def parse_flag(text: str) -> bool:
    try:
        return _FLAGS[text.lower()]
    except KeyError:
        raise BadValue(f"{text!r} is not a flag (1/0, Y/N, 是/否, true/false)") from None


PARSERS: dict[Kind, Callable[[str], Any]] = {
    Kind.CODE: parse_code,
    Kind.REGION: parse_region,
    Kind.TEXT: parse_text,
    Kind.INT: parse_int,
    Kind.DATE: stored_date,
    Kind.DATETIME: stored_datetime,
    Kind.AMOUNT: parse_amount,
    Kind.FLAG: parse_flag,
}


def allowed_values(ff: FeedField, code_sets: dict[str, dict[str, str]]) -> frozenset[str] | None:
    if ff.code_set:
        return frozenset(code_sets[ff.code_set])
    if ff.choices:
        return frozenset(ff.choices)
    return None


def value_parser(ff: FeedField, code_sets: dict[str, dict[str, str]]) -> Callable[[str], Any]:
    """The parser for one field, with its code-set, choice and range checks folded in.

    Values of small domains (regions, years, months, code-set members, flags) are cached."""
    base = PARSERS[ff.kind]
    allowed = allowed_values(ff, code_sets)
    parser = base
    if allowed is not None:
        listed = ", ".join(sorted(allowed))

        def in_set(text: str) -> Any:
            value = base(text)
            if str(value) not in allowed:
                raise BadValue(f"{text!r} is not one of {listed}")
            return value

        parser = in_set
    elif ff.min_value is not None or ff.max_value is not None:
        lo, hi = ff.min_value, ff.max_value

        def in_range(text: str) -> Any:
            value = base(text)
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise BadValue(f"{value} is outside {lo}–{hi}")
            return value

        parser = in_range
    if ff.kind in (Kind.REGION, Kind.INT, Kind.FLAG) or allowed is not None:
        return lru_cache(maxsize=1 << 14)(parser)
    return parser


def format_amount(fen: int) -> str:
    """Integer fen → the decimal string of yuan with exactly two decimals (``-800.00``)."""
    sign = "-" if fen < 0 else ""
    whole, frac = divmod(abs(fen), 100)
    return f"{sign}{whole}.{frac:02d}"
