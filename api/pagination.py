"""Opaque cursors for keyset pagination: the last row's sort key, tagged with the listing it belongs to."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, PrivateAttr
from sqlalchemy import Row, Select, func, select, tuple_
from sqlalchemy.orm import Session

from api.errors import BadParameter

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
T = TypeVar("T")
L = TypeVar("L", bound="Listed")


class Listed(BaseModel):
    """A row of a listing. ``cursor`` continues the listing right after it: GraphQL edges carry it; the
    JSON of REST pages carries only the page's ``next_cursor``."""

    _cursor: str | None = PrivateAttr(default=None)

    @property
    def cursor(self) -> str | None:
        return self._cursor

    def at(self, cursor: str) -> None:
        self._cursor = cursor


def encode_cursor(listing: str, key: list[Any]) -> str:
    raw = orjson.dumps({"l": listing, "k": key})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(listing: str, cursor: str | None, width: int, text: bool = False) -> list[Any] | None:
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
    if len(key) != width or not all(_plain(v) and (not text or isinstance(v, str)) for v in key):
        raise BadParameter("cursor", f"not a cursor of the {listing} listing")
    return key


def _plain(value: Any) -> bool:
    """A cursor holds sort keys only: text, or whole numbers a database column can hold."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, str) and len(value) <= 200 and "\x00" not in value


def keyset_page(
    session: Session,
    query: Select[*tuple[Any, ...]],
    listing: str,
    key: list[Any],
    cursor: str | None,
    limit: int,
    make_row: Callable[[Row[*tuple[Any, ...]]], T],
    row_key: Callable[[T], list[Any]],
) -> tuple[list[T], str | None]:
    """One page of ``query`` in the order of the ``key`` columns, after the row a cursor points at."""
    after = decode_cursor(listing, cursor, len(key), text=True)
    if after is not None:
        query = query.where(tuple_(*key) > tuple_(*after) if len(key) > 1 else key[0] > after[0])
    rows = session.execute(query.order_by(*key).limit(limit + 1)).all()
    page = [make_row(r) for r in rows[:limit]]
    for row in page:
        if isinstance(row, Listed):
            row.at(encode_cursor(listing, row_key(row)))
    more = len(rows) > limit
    return page, encode_cursor(listing, row_key(page[-1])) if more else None


def count_rows(session: Session, query: Select[Any]) -> int:
    """How many rows a listing's query holds (GraphQL's ``totalCount``)."""
    return int(
        session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    )


def page_of(
    rows: list[L], listing: str, key: Callable[[L], list[Any]], cursor: str | None, limit: int
) -> tuple[list[L], str | None]:
    """A page of rows already read and in ``key`` order (a region's children): the same cursors as a
    listing paged in SQL."""
    after = decode_cursor(listing, cursor, 1 if not rows else len(key(rows[0])), text=True)
    if after is not None:
        rows = [r for r in rows if key(r) > after]
    page = rows[:limit]
    for row in page:
        row.at(encode_cursor(listing, key(row)))
    return page, page[-1].cursor if len(rows) > limit else None
