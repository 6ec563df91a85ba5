"""Reading the warnings ledger (预警台账): lists, one warning in full, statistics and the 专项督查 list.

Every function takes the caller's :class:`security.scope.Scope` and applies it in SQL, on the region
that must answer the warning (``warning.mof_div_code``): a warning outside the caller's subtree is never
read, counted or summed. Money is integer fen inside and decimal yuan strings outside; rates are integer
arithmetic.

Times: the ledger stores UTC; dates asked for or shown as a day (detected from/to, a month's end, the
working days of the overdue rule) are days in China (Asia/Shanghai, UTC+8, no daylight saving).

Overdue (逾期): a warning 待核实 or 整改中 whose last activity (the later of its detection and its last
step) lies more than ``MonitorSettings().handling_days`` working days before today, on the Chinese
working-day calendar (holidays and swapped working days, :mod:`monitor.calendar`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlencode

import chinese_calendar
from pydantic import BaseModel, Field
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from connectors.ingest.convert import BadValue, format_amount, parse_amount
from monitor.calendar import known_until
from monitor.config import MonitorSettings
from monitor.lifecycle import Status, Verdict, allowed_actions
from monitor.rule import Level
from monitor.rules import BY_CODE
from schema.models import Agency, MofDiv, PayDetail, PayVoucher, RegionClosure
from schema.monitor import Warning, WarningObject, WarningStep
from security.scope import Scope

CHINA = timedelta(hours=8)  # Asia/Shanghai: one time zone, no daylight saving
MONTH = re.compile(r"^(\d{4})-(\d{2})\Z")
PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]{1,64}\Z")
OPEN = (Status.pending.value, Status.rectifying.value)  # statuses that wait for the finance bureau


class LedgerError(ValueError):
    """A parameter the ledger cannot use; ``parameter`` names it, the message says why."""

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(f"{parameter}: {detail}")
        self.parameter = parameter
        self.detail = detail


class Missing(LookupError):
    """An absent warning or region, or one outside the caller's scope (the two are not told apart)."""


# --- the clock and the calendar ----------------------------------------------------------------------


def china_today() -> date:
    """Today in China (tests replace it)."""
    return (datetime.now(UTC).replace(tzinfo=None) + CHINA).date()


def is_workday(day: date) -> bool:
    """A working day on the Chinese calendar; beyond the years the package knows, Monday to Friday."""
    if day <= known_until():
        return bool(chinese_calendar.is_workday(day))
    return day.weekday() < 5


def overdue_before(today: date, handling_days: int) -> datetime:
    """The UTC time before which a warning's last activity makes it overdue ``today``.

    Overdue means more than ``handling_days`` working days in (activity day, today]. Counting back from
    today, let D be the (handling_days + 1)-th working day: the activity day lies before D exactly when
    that interval holds D and the handling_days working days after it."""
    count, day = 0, today
    while True:
        count += is_workday(day)
        if count > handling_days:
            break
        day -= timedelta(days=1)
    return _utc_start(day)


def _utc_start(day: date) -> datetime:
    """The UTC (naive) instant at which ``day`` begins in China."""
    return datetime.combine(day, time()) - CHINA


def month_end(year: int, month: int) -> date:
    first_next = date(year + month // 12, month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def parse_month(value: str, parameter: str = "month") -> tuple[int, int]:
    m = MONTH.match(value)
    if m is None or not 1 <= int(m.group(2)) <= 12 or not 1949 <= int(m.group(1)) <= 2100:
        raise LedgerError(parameter, f"a month as YYYY-MM (1949-2100); got {value[:20]!r}")
    return int(m.group(1)), int(m.group(2))


# --- filters -------------------------------------------------------------------------------------------


class WarningFilter(BaseModel):
    """The filters of the ledger's lists and statistics (all optional, combined with AND)."""

    rule: str | None = Field(default=None, description="rule code, e.g. USE-01")
    group: str | None = Field(default=None, description="rule group, e.g. 资金使用")
    level: str | None = Field(default=None, description="blue, yellow, orange or red")
    status: str | None = Field(default=None, description="pending, verified, rectifying or rectified")
    verdict: str | None = Field(default=None, description="violation or no_issue")
    object_type: str | None = Field(default=None, description="the primary object's type: payment, …")
    object_id: str | None = Field(default=None, description="any object the warning concerns")
    region: str | None = Field(default=None, description="9-digit region: its subtree (within the scope)")
    own_level: bool = Field(default=False, description="only the region itself, not those below it")
    agency_code: str | None = None
    payee_key: str | None = None
    fiscal_year: int | None = None
    occurred_from: date | None = Field(default=None, description="occurred_on on or after")
    occurred_to: date | None = Field(default=None, description="occurred_on on or before")
    detected_from: date | None = Field(default=None, description="detected on or after (a day in China)")
    detected_to: date | None = Field(default=None, description="detected on or before (a day in China)")
    min_amount: str | None = Field(default=None, description="yuan, at most 2 decimals")
    max_amount: str | None = Field(default=None, description="yuan, at most 2 decimals")
    include_cleared: bool = Field(default=False, description="also warnings a later run no longer finds")
    overdue: bool = Field(default=False, description="only overdue warnings")


def _choice(parameter: str, value: str | None, allowed: Sequence[str]) -> str | None:
    if value is not None and value not in allowed:
        raise LedgerError(parameter, f"one of {', '.join(allowed)}; got {value[:40]!r}")
    return value


def _text(parameter: str, value: str | None) -> str | None:
    if value is not None and not PRINTABLE.match(value):
        raise LedgerError(parameter, "1 to 64 printable characters")
    return value


def _fen(parameter: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_amount(value.strip())
    except BadValue as exc:
        raise LedgerError(parameter, str(exc)) from None


def _root(session: Session, scope: Scope, region: str | None, own_level: bool) -> str | None:
    """The region a question is limited to: one the caller may see (else :class:`Missing`)."""
    if region is None:
        if own_level and scope.region is None:
            raise LedgerError("own_level", "needs a region: the whole dataset has several top regions")
        return scope.region if own_level else None
    if not re.fullmatch(r"\d{9}", region):
        raise LedgerError("region", "a 9-digit finance region code")
    found = session.execute(
        select(MofDiv.mof_div_code).where(MofDiv.mof_div_code == region, scope.regions(MofDiv.mof_div_code))
    ).scalar()
    if found is None:
        raise Missing(f"no region {region!r}")
    return region


@dataclass(frozen=True, slots=True)
class Clock:
    """Today and the instant before which open warnings are overdue."""

    today: date
    overdue_before: datetime

    @classmethod
    def now(cls, today: date | None = None) -> Clock:
        day = today or china_today()
        return cls(day, overdue_before(day, MonitorSettings().handling_days))


def last_activity() -> ColumnElement[Any]:
    """The later of a warning's detection and its last step."""
    last_step = select(func.max(WarningStep.at)).where(WarningStep.warning_id == Warning.id).scalar_subquery()
    return case(
        (and_(last_step.is_not(None), last_step > Warning.detected_at), last_step), else_=Warning.detected_at
    )


def overdue(clock: Clock) -> ColumnElement[bool]:
    return and_(Warning.status.in_(OPEN), last_activity() < clock.overdue_before)


def conditions(session: Session, scope: Scope, f: WarningFilter, clock: Clock) -> list[ColumnElement[bool]]:
    """The WHERE of a filtered, scoped question over ``warning``."""
    w = Warning
    where: list[ColumnElement[bool]] = [scope.regions(w.mof_div_code)]
    root = _root(session, scope, f.region, f.own_level)
    if root is not None:
        if f.own_level:
            where.append(w.mof_div_code == root)
        else:
            subtree = select(RegionClosure.descendant).where(RegionClosure.ancestor == root)
            where.append(w.mof_div_code.in_(subtree))
    for column, value in (
        (w.rule_code, _text("rule", f.rule)),
        (w.rule_group, _text("group", f.group)),
        (w.level, _choice("level", f.level, [lv.value for lv in Level])),
        (w.status, _choice("status", f.status, [s.value for s in Status])),
        (w.verdict, _choice("verdict", f.verdict, [v.value for v in Verdict])),
        (w.object_type, _text("object_type", f.object_type)),
        (w.agency_code, _text("agency_code", f.agency_code)),
        (w.payee_key, _text("payee_key", f.payee_key)),
    ):
        if value is not None:
            where.append(column == value)
    if f.object_id is not None:
        linked = select(WarningObject.warning_id).where(
            WarningObject.object_id == _text("object_id", f.object_id)
        )
        where.append(w.id.in_(linked))
    if f.fiscal_year is not None:
        if not 1949 <= f.fiscal_year <= 2100:
            raise LedgerError("fiscal_year", "a fiscal year 1949-2100")
        where.append(w.fiscal_year == f.fiscal_year)
    if f.occurred_from and f.occurred_to and f.occurred_from > f.occurred_to:
        raise LedgerError("occurred_from", "is after occurred_to")
    if f.occurred_from:
        where.append(w.occurred_on >= f.occurred_from)
    if f.occurred_to:
        where.append(w.occurred_on <= f.occurred_to)
    if f.detected_from and f.detected_to and f.detected_from > f.detected_to:
        raise LedgerError("detected_from", "is after detected_to")
    if f.detected_from:
        where.append(w.detected_at >= _utc_start(f.detected_from))
    if f.detected_to:
        where.append(w.detected_at < _utc_start(f.detected_to + timedelta(days=1)))
    low, high = _fen("min_amount", f.min_amount), _fen("max_amount", f.max_amount)
    if low is not None and high is not None and low > high:
        raise LedgerError("min_amount", "is greater than max_amount")
    if low is not None:
        where.append(w.amount_fen >= low)
    if high is not None:
        where.append(w.amount_fen <= high)
    if not f.include_cleared:
        where.append(w.cleared_at.is_(None))
    if f.overdue:
        where.append(overdue(clock))
    return where


# --- rows ----------------------------------------------------------------------------------------------


class WarningRow(BaseModel):
    id: int
    rule_code: str
    rule_name: str | None = Field(description="the rule's Chinese name (null: a rule no longer defined)")
    rule_group: str = Field(
        description="指标接收, 资金分配, 拨付进度, 资金使用, 账户管理, 收款人, 受益对象, 数据质量"
    )
    level: str = Field(description="blue 蓝, yellow 黄, orange 橙, red 红")
    object_type: str = Field(description="the primary object's type")
    object_id: str
    facet: str = Field(description="a second part of the identity, e.g. a month (2025-03)")
    fiscal_year: int
    region: str = Field(description="the region whose finance bureau answers the warning")
    region_name: str | None
    agency_code: str | None
    payee_key: str | None
    amount: str = Field(description="the money the finding is about, yuan")
    occurred_on: date = Field(description="the data date of the event")
    message: str
    status: str = Field(description="pending 待核实, verified 已核实, rectifying 整改中, rectified 已整改")
    verdict: str | None = Field(description="violation 违规 or no_issue 无误, once verified")
    detected_at: datetime = Field(description="UTC")
    updated_at: datetime = Field(description="UTC: the last evidence or step")
    closed_at: datetime | None = Field(description="UTC: reached 已整改 or 无误")
    cleared_at: datetime | None = Field(description="UTC: a later run no longer found the condition")
    overdue: bool = Field(description="pending or rectifying beyond the handling days (working days)")
    link: str = Field(description="this warning: /v1/warnings/{id}")


COLUMNS = (
    Warning.id,
    Warning.rule_code,
    Warning.rule_group,
    Warning.level,
    Warning.object_type,
    Warning.object_id,
    Warning.facet,
    Warning.fiscal_year,
    Warning.mof_div_code,
    MofDiv.mof_div_name,
    Warning.agency_code,
    Warning.payee_key,
    Warning.amount_fen,
    Warning.occurred_on,
    Warning.message,
    Warning.status,
    Warning.verdict,
    Warning.detected_at,
    Warning.updated_at,
    Warning.closed_at,
    Warning.cleared_at,
)


def _rows_query(clock: Clock) -> Select[Any]:
    columns: list[Any] = [*COLUMNS, overdue(clock).label("overdue")]
    return select(*columns).outerjoin(MofDiv, MofDiv.mof_div_code == Warning.mof_div_code)


def _row(r: Any) -> WarningRow:
    rule = BY_CODE.get(r.rule_code)
    return WarningRow(
        id=r.id,
        rule_code=r.rule_code,
        rule_name=rule.name if rule else None,
        rule_group=r.rule_group,
        level=r.level,
        object_type=r.object_type,
        object_id=r.object_id,
        facet=r.facet,
        fiscal_year=r.fiscal_year,
        region=r.mof_div_code,
        region_name=r.mof_div_name,
        agency_code=r.agency_code,
        payee_key=r.payee_key,
        amount=format_amount(int(r.amount_fen)),
        occurred_on=r.occurred_on,
        message=r.message,
        status=r.status,
        verdict=r.verdict,
        detected_at=r.detected_at,
        updated_at=r.updated_at,
        closed_at=r.closed_at,
        cleared_at=r.cleared_at,
        overdue=bool(r.overdue),
        link=f"/v1/warnings/{r.id}",
    )


class Sort(StrEnum):
    id = "id"
    occurred_on = "occurred_on"
    amount = "amount"


SORT_COLUMNS = {Sort.id: Warning.id, Sort.occurred_on: Warning.occurred_on, Sort.amount: Warning.amount_fen}


def parse_sort(sort: str | None) -> tuple[Sort, bool]:
    """The sort field and whether it descends; default ``-id`` (newest raised first)."""
    sort = sort or "-id"
    try:
        return Sort(sort.removeprefix("-")), sort.startswith("-")
    except ValueError:
        raise LedgerError("sort", "id, occurred_on or amount, optionally prefixed with '-'") from None


def sort_key(row: WarningRow, field: Sort) -> list[Any]:
    """A row's place in a listing: its sort value (a date as ISO text, money as fen) and its id."""
    if field is Sort.id:
        return [row.id]
    if field is Sort.occurred_on:
        return [row.occurred_on.isoformat(), row.id]
    return [parse_amount(row.amount), row.id]


def list_warnings(
    session: Session,
    scope: Scope,
    f: WarningFilter,
    *,
    sort: str | None = None,
    after: list[Any] | None = None,
    limit: int = 50,
    clock: Clock | None = None,
) -> tuple[list[WarningRow], bool]:
    """A page of warnings after the sort key ``after`` (see :func:`sort_key`), and whether more follow."""
    clock = clock or Clock.now()
    field, _ = parse_sort(sort)
    query, keys, descending = _listing(session, scope, f, sort, clock)
    if after is not None:
        after = _after(field, after)
        mark = tuple_(*keys) if len(keys) > 1 else keys[0]
        value = tuple_(*after) if len(keys) > 1 else after[0]
        query = query.where(mark < value if descending else mark > value)
    order = [k.desc() for k in keys] if descending else keys
    rows = session.execute(query.order_by(*order).limit(limit + 1)).all()
    return [_row(r) for r in rows[:limit]], len(rows) > limit


def _listing(
    session: Session, scope: Scope, f: WarningFilter, sort: str | None, clock: Clock
) -> tuple[Select[Any], list[Any], bool]:
    """The rows of a filtered, scoped listing, the key columns of its order and whether they descend:
    what a page and an export both read."""
    field, descending = parse_sort(sort)
    query = _rows_query(clock).where(*conditions(session, scope, f, clock))
    keys: list[Any] = [Warning.id] if field is Sort.id else [SORT_COLUMNS[field], Warning.id]
    return query, keys, descending


def export_query(
    session: Session, scope: Scope, f: WarningFilter, *, sort: str | None = None, clock: Clock | None = None
) -> Select[Any]:
    """Every warning of a listing, in its order, for an export to stream (each row: :func:`warning_row`).
    Bad parameters raise here, before any row is read."""
    query, keys, descending = _listing(session, scope, f, sort, clock or Clock.now())
    return query.order_by(*(k.desc() for k in keys) if descending else keys)


def warning_row(r: Any) -> WarningRow:
    """A row of :func:`export_query` as the listing shows it."""
    return _row(r)


def _after(field: Sort, key: list[Any]) -> list[Any]:
    """A cursor's key checked against the listing's types."""
    bad = LedgerError("cursor", "not a cursor of this listing")
    if (
        len(key) != (1 if field is Sort.id else 2)
        or not isinstance(key[-1], int)
        or isinstance(key[-1], bool)
    ):
        raise bad
    if field is Sort.occurred_on:
        try:
            return [date.fromisoformat(key[0]), key[1]]
        except (TypeError, ValueError):
            raise bad from None
    if field is Sort.amount and (not isinstance(key[0], int) or isinstance(key[0], bool)):
        raise bad
    return key


def count_warnings(session: Session, scope: Scope, f: WarningFilter, clock: Clock | None = None) -> int:
    clock = clock or Clock.now()
    query = select(func.count()).select_from(Warning).where(*conditions(session, scope, f, clock))
    return int(session.execute(query).scalar_one())


# --- one warning ---------------------------------------------------------------------------------------


class LinkedObject(BaseModel):
    object_type: str
    object_id: str
    is_primary: bool
    link: str | None = Field(description="where the API shows it (null: no route shows this kind)")
    trace: str | None = Field(
        description="payments and indicators: the indicator trace (何时拨、拨给谁、怎么用) it belongs to"
    )
    region: str = Field(description="the warning's region (an agency's code is unique only within it)")
    bgt_id: str | None = Field(description="the indicator of a payment, or an indicator's own id")


class StepRow(BaseModel):
    id: int
    action: str
    from_status: str | None
    to_status: str
    verdict: str | None
    actor_sub: str
    actor_body: str
    actor_org: str | None
    at: datetime = Field(description="UTC")
    comment: str | None


class WarningDetail(WarningRow):
    evidence: dict[str, Any] = Field(
        description="the figures that raised it: money as yuan strings, dates as ISO text; no floats"
    )
    objects: list[LinkedObject]
    steps: list[StepRow] = Field(description="its lifecycle steps, oldest first")
    allowed_actions: list[str] = Field(description="the steps the state machine allows next")


def _plain(value: Any) -> Any:
    """Evidence as JSON without floats (a float figure becomes its decimal text)."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _path(value: str) -> str:
    return quote(value, safe="")


def _links(session: Session, region: str, objects: Sequence[Any]) -> list[LinkedObject]:
    payments = [o.object_id for o in objects if o.object_type == "payment"]
    details = [o.object_id for o in objects if o.object_type == "pay_detail"]
    bgt_of: dict[str, str | None] = {}
    if payments:
        bgt_of = dict(
            session.execute(
                select(PayVoucher.pay_cert_id, PayVoucher.bgt_id).where(PayVoucher.pay_cert_id.in_(payments))
            ).all()
        )
    voucher_of: dict[str, str] = {}
    if details:
        voucher_of = dict(
            session.execute(
                select(PayDetail.pay_detail_id, PayDetail.pay_cert_id).where(
                    PayDetail.pay_detail_id.in_(details)
                )
            ).all()
        )
    out = []
    for o in objects:
        kind, oid = o.object_type, o.object_id
        link: str | None = None
        bgt_id: str | None = None
        if kind == "payment":
            link, bgt_id = f"/v1/payments/{_path(oid)}", bgt_of.get(oid)
        elif kind == "indicator":
            link, bgt_id = f"/v1/indicators/{_path(oid)}/trace", oid
        elif kind == "agency":
            link = "/v1/agencies?" + urlencode({"region": region, "q": oid})
        elif kind == "region":
            link = f"/v1/regions/{_path(oid)}"
        elif kind == "pay_detail" and oid in voucher_of:
            link = f"/v1/payments/{_path(voucher_of[oid])}/details"
        trace = f"/v1/indicators/{_path(bgt_id)}/trace" if bgt_id else None
        out.append(
            LinkedObject(
                object_type=kind,
                object_id=oid,
                is_primary=bool(o.is_primary),
                link=link,
                trace=trace,
                region=region,
                bgt_id=bgt_id,
            )
        )
    return out


def get_warning(session: Session, scope: Scope, warning_id: int, clock: Clock | None = None) -> WarningDetail:
    """One warning in full; :class:`Missing` when absent or outside the scope alike."""
    return get_warnings(session, scope, [warning_id], clock).get(warning_id) or _missing(warning_id)


def _missing(warning_id: int) -> WarningDetail:
    raise Missing(f"no warning {warning_id}")


def get_warnings(
    session: Session, scope: Scope, ids: Sequence[int], clock: Clock | None = None
) -> dict[int, WarningDetail]:
    """The warnings ``ids`` the caller may see, in full (three queries whatever their number)."""
    clock = clock or Clock.now()
    wanted = [i for i in dict.fromkeys(ids) if isinstance(i, int) and 0 < i < 2**31]
    if not wanted:
        return {}
    query = _rows_query(clock).add_columns(Warning.evidence)
    rows = session.execute(query.where(Warning.id.in_(wanted), scope.regions(Warning.mof_div_code))).all()
    if not rows:
        return {}
    found = [r.id for r in rows]
    objects: dict[int, list[Any]] = {}
    for o in session.execute(
        select(WarningObject)
        .where(WarningObject.warning_id.in_(found))
        .order_by(
            WarningObject.warning_id,
            WarningObject.is_primary.desc(),
            WarningObject.object_type,
            WarningObject.object_id,
        )
    ).scalars():
        objects.setdefault(o.warning_id, []).append(o)
    steps: dict[int, list[StepRow]] = {}
    for s in session.execute(
        select(WarningStep)
        .where(WarningStep.warning_id.in_(found))
        .order_by(WarningStep.warning_id, WarningStep.id)
    ).scalars():
        steps.setdefault(s.warning_id, []).append(
            StepRow(
                id=s.id,
                action=s.action,
                from_status=s.from_status,
                to_status=s.to_status,
                verdict=s.verdict,
                actor_sub=s.actor_sub,
                actor_body=s.actor_body,
                actor_org=s.actor_org,
                at=s.at,
                comment=s.comment,
            )
        )
    out = {}
    for r in rows:
        base = _row(r)
        out[r.id] = WarningDetail(
            **base.model_dump(),
            evidence=_plain(dict(r.evidence or {})),
            objects=_links(session, r.mof_div_code, objects.get(r.id, [])),
            steps=steps.get(r.id, []),
            allowed_actions=[a.value for a in allowed_actions(r.status, r.verdict)],
        )
    return out


# --- statistics ----------------------------------------------------------------------------------------


class StatsBy(StrEnum):
    rule = "rule"
    group = "group"
    region = "region"
    agency = "agency"
    month = "month"


class Figures(BaseModel):
    count: int
    amount: str = Field(description="yuan")
    handled: int = Field(description="no longer pending (待核实)")
    handling_rate: str | None = Field(description="handled / count, 4 decimals; null when count is 0")
    closed: int = Field(description="reached 已整改 or 无误")
    overdue: int = Field(description="pending or rectifying beyond the handling days (working days)")


class StatsRow(Figures):
    key: str | None = Field(
        description="rule code, group, region code, region:agency_code, or YYYY-MM of occurred_on; "
        "null: warnings without that attribute (no agency)"
    )
    name: str | None


class Stats(BaseModel):
    by: str
    handling_days: int = Field(description="working days a warning may stay pending or rectifying")
    today: date = Field(description="the day overdue is counted to (China)")
    rows: list[StatsRow]
    total: Figures


def handling_rate(handled: int, count: int) -> str | None:
    """handled / count with 4 decimals, rounded half up, in integer arithmetic."""
    if count == 0:
        return None
    q = (handled * 20000 + count) // (2 * count)
    return f"{q // 10000}.{q % 10000:04d}"


def _month_of(session: Session) -> ColumnElement[str]:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(Warning.occurred_on, "YYYY-MM")
    return func.strftime("%Y-%m", Warning.occurred_on)


def _figures(count: int, fen: int, handled: int, closed: int, late: int) -> dict[str, Any]:
    return {
        "count": count,
        "amount": format_amount(fen),
        "handled": handled,
        "handling_rate": handling_rate(handled, count),
        "closed": closed,
        "overdue": late,
    }


def warning_stats(
    session: Session, scope: Scope, f: WarningFilter, by: str, clock: Clock | None = None
) -> Stats:
    """The filtered warnings grouped ``by`` rule, group, region, agency or month, with their totals."""
    clock = clock or Clock.now()
    try:
        dim = StatsBy(by)
    except ValueError:
        raise LedgerError("by", f"one of {', '.join(b.value for b in StatsBy)}; got {by[:40]!r}") from None
    w = Warning
    by_dim: dict[StatsBy, list[Any]] = {
        StatsBy.rule: [w.rule_code],
        StatsBy.group: [w.rule_group],
        StatsBy.region: [w.mof_div_code],
        StatsBy.agency: [w.mof_div_code, w.agency_code],
        StatsBy.month: [_month_of(session)],
    }
    keys = by_dim[dim]
    labelled = [k.label(f"k{i}") for i, k in enumerate(keys)]

    def flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    query = (
        select(
            *labelled,
            func.count().label("n"),
            func.coalesce(func.sum(w.amount_fen), literal(0, Integer)).label("fen"),
            flag(w.status != Status.pending.value).label("handled"),
            flag(w.closed_at.is_not(None)).label("closed"),
            flag(overdue(clock)).label("late"),
        )
        .where(*conditions(session, scope, f, clock))
        .group_by(*keys)
    )
    found = session.execute(query).all()
    names = _names(session, dim, found)
    rows = []
    for r in found:
        key = r.k0
        if dim is StatsBy.agency:
            key = f"{r.k0}:{r.k1}" if r.k1 is not None else None
        figures = _figures(
            int(r.n), int(r.fen or 0), int(r.handled or 0), int(r.closed or 0), int(r.late or 0)
        )
        rows.append(StatsRow(key=key, name=names.get(key) if key else None, **figures))
    rows.sort(key=lambda x: (x.key is None, x.key or ""))
    total = Figures(
        **_figures(
            sum(x.count for x in rows),
            sum(parse_amount(x.amount) for x in rows),
            sum(x.handled for x in rows),
            sum(x.closed for x in rows),
            sum(x.overdue for x in rows),
        )
    )
    return Stats(
        by=dim.value, handling_days=MonitorSettings().handling_days, today=clock.today, rows=rows, total=total
    )


def _names(session: Session, dim: StatsBy, rows: Sequence[Any]) -> dict[str, str | None]:
    if dim is StatsBy.rule:
        return {r.k0: (BY_CODE[r.k0].name if r.k0 in BY_CODE else None) for r in rows}
    if dim is StatsBy.group:
        return {r.k0: r.k0 for r in rows}
    if dim is StatsBy.region:
        return region_names(session, [r.k0 for r in rows])
    if dim is StatsBy.agency:
        pairs = [(r.k0, r.k1) for r in rows if r.k1 is not None]
        if not pairs:
            return {}
        found = session.execute(
            select(Agency.mof_div_code, Agency.agency_code, Agency.agency_name).where(
                tuple_(Agency.mof_div_code, Agency.agency_code).in_(pairs), Agency.is_deleted.is_(False)
            )
        ).all()
        return {f"{a}:{c}": n for a, c, n in found}
    return {}


def region_names(session: Session, codes: Sequence[str]) -> dict[str, str | None]:
    if not codes:
        return {}
    found = session.execute(
        select(MofDiv.mof_div_code, MofDiv.mof_div_name).where(MofDiv.mof_div_code.in_(list(codes)))
    ).all()
    return {c: n for c, n in found}


# --- escalations (专项督查) ----------------------------------------------------------------------------


class OpenMonth(BaseModel):
    month: str = Field(description="YYYY-MM")
    open: int = Field(description="warnings open at the month's end")


class Escalation(BaseModel):
    region: str
    region_name: str | None
    months: list[OpenMonth]
    oldest: WarningRow = Field(description="the oldest warning (by occurred_on) open at the last month's end")


class Escalations(BaseModel):
    month: str = Field(description="the last month considered (YYYY-MM)")
    months: list[str] = Field(description="the consecutive months whose ends were checked, oldest first")
    escalation_months: int
    rows: list[Escalation]


def _open_at(end: date) -> ColumnElement[bool]:
    """Open at the end of ``end`` (a day in China): occurred by then, and neither closed nor cleared by
    then (a warning a later run no longer found was open until it went away)."""
    bound = _utc_start(end + timedelta(days=1))
    return and_(
        Warning.occurred_on <= end,
        or_(Warning.closed_at.is_(None), Warning.closed_at >= bound),
        or_(Warning.cleared_at.is_(None), Warning.cleared_at >= bound),
    )


def default_month(session: Session, scope: Scope, root: str | None, clock: Clock) -> tuple[int, int]:
    """The month of the newest ``occurred_on`` in scope (the data's month: the ledger may lag the
    calendar by far); the current month when the scope has no warning."""
    query = select(func.max(Warning.occurred_on)).where(scope.regions(Warning.mof_div_code))
    if root is not None:
        query = query.where(
            Warning.mof_div_code.in_(select(RegionClosure.descendant).where(RegionClosure.ancestor == root))
        )
    newest = session.execute(query).scalar()
    if isinstance(newest, str):
        newest = date.fromisoformat(newest[:10])
    day = newest or clock.today
    return day.year, day.month


def escalations(
    session: Session,
    scope: Scope,
    month: str | None = None,
    region: str | None = None,
    clock: Clock | None = None,
) -> Escalations:
    """专项督查: the regions with at least one open warning at the end of each of the
    ``escalation_months`` consecutive months up to and including ``month``."""
    clock = clock or Clock.now()
    n = MonitorSettings().escalation_months
    root = _root(session, scope, region, False)
    year, mon = parse_month(month) if month is not None else default_month(session, scope, root, clock)
    months: list[tuple[int, int]] = []
    y, m = year, mon
    for _ in range(n):
        months.insert(0, (y, m))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    ends = [month_end(y, m) for y, m in months]
    where = [scope.regions(Warning.mof_div_code)]
    if root is not None:
        where.append(
            Warning.mof_div_code.in_(select(RegionClosure.descendant).where(RegionClosure.ancestor == root))
        )
    counts = [func.sum(case((_open_at(end), 1), else_=0)) for end in ends]
    query = (
        select(Warning.mof_div_code, *(c.label(f"m{i}") for i, c in enumerate(counts)))
        .where(*where, Warning.occurred_on <= ends[-1])
        .group_by(Warning.mof_div_code)
        .having(and_(*(c > 0 for c in counts)))
        .order_by(Warning.mof_div_code)
    )
    found = session.execute(query).all()
    labels = [f"{y:04d}-{m:02d}" for y, m in months]
    if not found:
        return Escalations(month=labels[-1], months=labels, escalation_months=n, rows=[])
    regions = [r[0] for r in found]
    ranked = (
        select(
            Warning.id,
            func.row_number()
            .over(partition_by=Warning.mof_div_code, order_by=(Warning.occurred_on, Warning.id))
            .label("rank"),
        )
        .where(*where, Warning.mof_div_code.in_(regions), _open_at(ends[-1]))
        .subquery()
    )
    oldest_ids = list(session.execute(select(ranked.c.id).where(ranked.c.rank == 1)).scalars())
    oldest = {
        r.region: r
        for r in (
            _row(x) for x in session.execute(_rows_query(clock).where(Warning.id.in_(oldest_ids))).all()
        )
    }
    names = region_names(session, regions)
    rows = [
        Escalation(
            region=r[0],
            region_name=names.get(r[0]),
            months=[OpenMonth(month=label, open=int(r[i + 1])) for i, label in enumerate(labels)],
            oldest=oldest[r[0]],
        )
        for r in found
    ]
    return Escalations(month=labels[-1], months=labels, escalation_months=n, rows=rows)
