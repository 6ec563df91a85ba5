"""Dynamic monitoring (预算执行动态监控): warnings, the objects they concern, their lifecycle steps, the
whitelist, the runs of the rule engine and the working-day calendar its rules count with.

A warning is unique by its ``dedup_key`` (rule, object, facet such as a month, fiscal year): a rerun of the
rules updates the evidence of a warning it finds again and never raises a second one.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base


class Warning(Base):
    """预警: one finding of one rule about one object, and where its handling stands."""

    __tablename__ = "warning"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    rule_code: Mapped[str] = mapped_column(String(32), nullable=False)
    rule_group: Mapped[str] = mapped_column(String(32), nullable=False)  # 指标接收, 资金使用, …
    level: Mapped[str] = mapped_column(String(8), nullable=False)  # blue | yellow | orange | red
    object_type: Mapped[str] = mapped_column(String(16), nullable=False)  # payment, indicator, agency, …
    object_id: Mapped[str] = mapped_column(String(64), nullable=False)
    facet: Mapped[str] = mapped_column(String(32), nullable=False, default="")  # e.g. a month: 2025-03
    fiscal_year: Mapped[int] = mapped_column(Integer, nullable=False)
    mof_div_code: Mapped[str] = mapped_column(String(9), nullable=False)  # the region that must answer
    agency_code: Mapped[str | None] = mapped_column(String(64))
    payee_key: Mapped[str | None] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)  # the money the finding is about
    occurred_on: Mapped[date] = mapped_column(Date, nullable=False)  # when the event happened (data date)
    evidence: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # see monitor.lifecycle.Status
    verdict: Mapped[str | None] = mapped_column(String(16))  # violation (违规) | no_issue (无误)
    detected_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)  # UTC, naive
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)  # last evidence or step
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)  # reached 已整改 or 无误
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime)  # a later run no longer finds it
    run_id: Mapped[int] = mapped_column(Integer, nullable=False)  # the monitor run that last found it

    __table_args__ = (
        Index("ix_warning_region", "mof_div_code", "fiscal_year", "status"),
        Index("ix_warning_rule", "rule_code", "status"),
        Index("ix_warning_occurred", "occurred_on"),
    )


class WarningObject(Base):
    """An object a warning concerns: its primary object and the others involved (a split's payments, an
    upper transfer's continuations, both lines of a duplicate beneficiary)."""

    __tablename__ = "warning_object"

    warning_id: Mapped[int] = mapped_column(ForeignKey("warning.id"), primary_key=True)
    object_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, nullable=False)

    __table_args__ = (Index("ix_warning_object_object", "object_type", "object_id"),)


class WarningStep(Base):
    """One step of a warning's lifecycle, with who took it, when and why."""

    __tablename__ = "warning_step"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warning.id"), nullable=False, index=True)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    verdict: Mapped[str | None] = mapped_column(String(16))
    actor_sub: Mapped[str] = mapped_column(String(255), nullable=False)
    actor_body: Mapped[str] = mapped_column(String(32), nullable=False)
    actor_org: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)


class WhitelistEntry(Base):
    """白名单: a known-legitimate pattern a rule must not warn about. Every field set must match (an empty
    field matches anything); ``rule_code`` empty applies to every rule. Entries are never deleted, only
    ended (``valid_to``), so what was suppressed when stays provable."""

    __tablename__ = "whitelist"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_code: Mapped[str | None] = mapped_column(String(32))
    mof_div_code: Mapped[str | None] = mapped_column(String(9))  # the region (and its subtree)
    agency_code: Mapped[str | None] = mapped_column(String(64))
    payee_key: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    added_by: Mapped[str] = mapped_column(String(255), nullable=False)
    added_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    valid_to: Mapped[date | None] = mapped_column(Date)


class MonitorRun(Base):
    """One evaluation of the rules: full, or incremental over what loads wrote since the last run."""

    __tablename__ = "monitor_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mode: Mapped[str] = mapped_column(String(16), nullable=False)  # full | incremental
    as_of: Mapped[date] = mapped_column(Date, nullable=False)  # the evaluation date
    since_load_run: Mapped[int | None] = mapped_column(Integer)  # incremental: loads after this one
    upto_load_run: Mapped[int] = mapped_column(Integer, nullable=False)  # the newest load it covers
    started_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # running | done | failed
    findings: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    raised: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    suppressed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cleared: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    per_rule: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class WorkCalendar(Base):
    """工作日历: every day with whether it is a working day on the Chinese calendar (public holidays and
    swapped working days), and the number of working days up to and including it, so that a lag in
    working days is one subtraction in SQL."""

    __tablename__ = "work_calendar"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean, nullable=False)
    workday_no: Mapped[int] = mapped_column(Integer, nullable=False)
    official: Mapped[bool] = mapped_column(Boolean, nullable=False)  # False: weekends only (year unknown)


MONITOR_TABLES = ("warning", "warning_object", "warning_step", "whitelist", "monitor_run", "work_calendar")
