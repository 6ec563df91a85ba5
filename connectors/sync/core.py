"""Sources and streams: what a connector reads, and how a stream's change stamp (its cursor) behaves.

A source is a set of streams. A stream reads the records of one source table or endpoint, maps them onto one
feed table (:class:`~connectors.sync.mapping.RecordMapping`) and declares its cursor: the source field that
grows with every change (``UPDATE_TIME``), whether the source hands records over sorted by it, and a look-back
window re-read on every sync for rows committed late with an older stamp.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from connectors.ingest.convert import SHANGHAI
from connectors.sync.mapping import RecordMapping

CursorKind = Literal["datetime", "int", "text"]


class SourceError(Exception):
    """The source cannot be read: down, too slow, refusing us, or answering something that is not data."""


class SyncBusy(Exception):
    """Another process is syncing the same source."""


@dataclass
class Stream:
    """One table or endpoint of a source, landing in one feed table."""

    name: str
    table: str  # the feed table
    mapping: RecordMapping
    cursor: str | None = None  # the source field that grows with each change; None: read everything
    cursor_kind: CursorKind = "datetime"
    sorted: bool = True  # the source hands records over in cursor order (then the bookmark moves per chunk)
    lookback: timedelta | int = 0  # re-read this much before the bookmark (late-committed rows)
    options: dict[str, Any] = field(default_factory=dict)  # the source type's own settings for the stream

    @property
    def key(self) -> tuple[str, ...]:
        return self.mapping.ft.key

    def cursor_value(self, raw: Any) -> Any:
        """A cursor value as read from the source, in a form that orders correctly."""
        if raw is None or raw == "":
            return None
        if self.cursor_kind == "datetime":
            fmt = self.options.get("cursor_format")
            if isinstance(raw, datetime):
                value = raw
            elif fmt and isinstance(raw, str):
                try:
                    value = datetime.strptime(raw.strip(), fmt)
                except ValueError:
                    raise SourceError(
                        f"{self.name}: cursor {self.cursor} value {raw!r} is not {fmt}"
                    ) from None
            else:
                try:
                    value = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
                except ValueError:
                    raise SourceError(
                        f"{self.name}: cursor {self.cursor} value {raw!r} is not a date-time"
                    ) from None
            # a naive stamp is the source's local time, Asia/Shanghai as everywhere in the feed
            return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
        if self.cursor_kind == "int":
            try:
                return int(Decimal(str(raw)))
            except ArithmeticError:
                raise SourceError(
                    f"{self.name}: cursor {self.cursor} value {raw!r} is not a number"
                ) from None
        return str(raw)

    def since(self, bookmark: Any) -> Any:
        """Where a sync starts reading: the bookmark less the look-back window."""
        if bookmark is None or not self.lookback:
            return bookmark
        if self.cursor_kind == "datetime":
            assert isinstance(self.lookback, timedelta)
            return bookmark - self.lookback
        if self.cursor_kind == "int":
            assert isinstance(self.lookback, int)
            return bookmark - self.lookback
        return bookmark

    def dump(self, value: Any) -> str | None:
        """A cursor value in the text form kept in ``sync_state``."""
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value)

    def load(self, text: str | None) -> Any:
        """A bookmark from its text form (:meth:`dump`), whatever form the source writes its stamps in."""
        if text is None:
            return None
        try:
            if self.cursor_kind == "datetime":
                value = datetime.fromisoformat(text)
                return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
            return int(text) if self.cursor_kind == "int" else text
        except ValueError:
            raise SourceError(
                f"{self.name}: the bookmark {text!r} is not a {self.cursor_kind} cursor"
            ) from None

    def lag_seconds(self, bookmark: Any, newest: Any) -> int | None:
        """How far the stored rows are behind the source's newest change, in seconds (date-time cursors)."""
        if newest is None:
            return None
        if bookmark is None:
            return (
                None if self.cursor_kind != "datetime" else int((datetime.now(UTC) - newest).total_seconds())
            )
        if self.cursor_kind != "datetime":
            return None
        return max(0, int((newest - bookmark).total_seconds()))


class Source:
    """A system the service pulls from."""

    kind: str = ""

    def __init__(self, name: str, streams: list[Stream]) -> None:
        self.name = name
        self.streams = streams

    def open(self) -> None:
        """Connect (or check that the source can be reached); raises :class:`SourceError`."""

    def close(self) -> None:
        """Give back connections."""

    def describe(self) -> str:
        """Where the source is, without secrets, for messages."""
        return self.kind


class RecordSource(Source, ABC):
    """A source read record by record (a database, an HTTP API), landed through the feed's chunk pipeline."""

    @abstractmethod
    def newest(self, stream: Stream) -> Any:
        """The newest cursor value the source holds for the stream (raw), or None if it cannot say."""

    @abstractmethod
    def pages(self, stream: Stream, since: Any) -> Iterator[list[dict[str, Any]]]:
        """The stream's records whose cursor is at or after ``since`` (everything when None), in pages.

        Sorted streams yield them in cursor order. Raises :class:`SourceError` when the source fails."""
