"""Connector state: one bookmark per source and stream, written in the same transaction as the rows it covers.

A stream's bookmark is the newest cursor value (``UPDATE_TIME`` of a source table, an API's change stamp)
among the rows already stored; the next sync reads from it, less the stream's look-back window. The row also
keeps what ``/v1/sources`` shows: the last successful sync, its rows, how far behind the source the warehouse
is, and the last error.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base


class SyncState(Base):
    """Where one stream of one source stands."""

    __tablename__ = "sync_state"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64), nullable=False)  # the feed table it lands in
    # the bookmark, in its text form (an ISO date-time, a number, or an opaque token for a files source)
    cursor: Mapped[str | None] = mapped_column(Text)
    # the newest cursor value the source reported when last asked (for the lag)
    source_cursor: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # ok | failed | running
    last_run_id: Mapped[int | None] = mapped_column(Integer)  # load_run of the last attempt
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)  # UTC
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime)  # UTC, end of the last good sync
    rows_last: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # read by the last good sync
    rows_total: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)  # read by every sync
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime)  # UTC
