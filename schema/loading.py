"""Bookkeeping of loads: one row per run, one per table of a run, and the quarantine of rejected rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base


class LoadRun(Base):
    """One run of ``oversight load`` (or, later, of a connector sync)."""

    __tablename__ = "load_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    batch_path: Mapped[str] = mapped_column(Text, nullable=False)
    extracted_at: Mapped[datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # running → done | failed; a run left 'running' by a killed process becomes 'interrupted' at the next load
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    # the derived tables took in what the run wrote; a run that died before that makes the next run
    # rebuild them whole
    derived_done: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=true())

    __table_args__ = (Index("ix_load_run_source", "source", "id"),)


class LoadTableReport(Base):
    """What one run did to one table."""

    __tablename__ = "load_table_report"

    run_id: Mapped[int] = mapped_column(ForeignKey("load_run.id"), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # loaded | rejected
    message: Mapped[str | None] = mapped_column(Text)
    rows_read: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    inserted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    stale: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # older than what is stored
    deleted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    unknown_columns: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    elapsed_ms: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # wall time of the table


class Quarantine(Base):
    """A feed row that could not be stored, with where it was and why; the raw values are kept."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("load_run.id"), nullable=False)
    table_name: Mapped[str] = mapped_column(String(64), nullable=False)
    file_name: Mapped[str] = mapped_column(String(255), nullable=False)
    line: Mapped[int] = mapped_column(Integer, nullable=False)
    field: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    raw: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False)
    # a connector's row quarantined for a reference that did not exist yet is tried again once it does;
    # this is the run that then stored it
    resolved_run_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_quarantine_run", "run_id", "table_name", "line"),
        Index("ix_quarantine_pending", "table_name", "resolved_run_id"),
    )
