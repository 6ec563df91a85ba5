"""Evaluating the rules: full runs, incremental runs after a load, and the warnings ledger they write.

A run evaluates each enabled rule set-based in SQL (one query per rule, or one per group of regions that
share parameter overrides), drops what the whitelist suppresses, and writes the findings into the ledger:
a finding whose warning exists (same rule, object, facet and year) updates its evidence, a new one raises
a warning 待核实. A rule evaluated in full also marks its warnings that were not found again as cleared.

Incremental: each run records the newest load it covered; the next one evaluates a rule only over the
rows loads wrote since (``Ctx.new``), unless a table it reads without tracking it changed, or the rule
depends on the evaluation date and that date moved since the last run: then it is evaluated in full. A
rule none of whose inputs changed (and whose date, if it has one, did not move) is skipped.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Select, delete, func, insert, or_, select, text, tuple_, update

from connectors.delivery.events import WARNING_RAISED, Event
from connectors.delivery.outbox import enqueue
from connectors.ingest.convert import format_amount
from monitor.calendar import ensure_calendar
from monitor.config import MonitorSettings, RuleConfig, load_config
from monitor.rule import Ctx, Level, ParamValue, Rule
from monitor.rules import RULES
from schema.db import write_transaction
from schema.models import LoadRun, LoadTableReport, MofDiv, PayVoucher, RegionClosure
from schema.monitor import MonitorRun, Warning, WarningObject, WhitelistEntry

log = logging.getLogger(__name__)

#: tables whose new rows a rule's incremental query can restrict itself to (Ctx.new)
EVENT_TABLES = frozenset({"pay_voucher", "pay_detail", "ba_bgt_info", "bgt_adj", "pay_plan"})
CHUNK = 500
LEDGER_LOCK = 0x6F76_6D6F  # pg_advisory_xact_lock key of the warnings ledger
SHANGHAI_OFFSET = timedelta(hours=8)  # China has one time zone and no daylight saving


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(slots=True)
class Finding:
    rule: Rule
    level: Level
    object_type: str
    object_id: str
    mof_div_code: str
    fiscal_year: int
    amount_fen: int
    occurred_on: date
    facet: str = ""
    agency_code: str | None = None
    payee_key: str | None = None
    related: tuple[str, ...] = ()
    related_type: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    @property
    def dedup_key(self) -> str:
        r = self.rule
        # the rule, the object (and its facet, e.g. a month) and the fiscal year: one warning each
        parts = (r.code, self.object_type, self.mof_div_code, self.object_id, self.facet, self.fiscal_year)
        return "|".join(str(p) for p in parts)


@dataclass(slots=True)
class RuleOutcome:
    code: str
    mode: str  # full | incremental | skipped
    findings: int = 0
    raised: int = 0
    suppressed: int = 0
    cleared: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class RunReport:
    run_id: int
    mode: str
    as_of: date
    since: int | None
    upto: int
    outcomes: list[RuleOutcome] = field(default_factory=list)
    unofficial_years: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def raised(self) -> int:
        return sum(o.raised for o in self.outcomes)

    @property
    def findings(self) -> int:
        return sum(o.findings for o in self.outcomes)

    @property
    def suppressed(self) -> int:
        return sum(o.suppressed for o in self.outcomes)

    @property
    def cleared(self) -> int:
        return sum(o.cleared for o in self.outcomes)


# --- rows to findings --------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


def evidence_of(row: dict[str, Any]) -> dict[str, Any]:
    """The ``ev_*`` columns of a finding row: ``_fen`` money as yuan text, dates as ISO text."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if not name.startswith("ev_"):
            continue
        name = name[3:]
        if name.endswith("_fen"):
            out[name[:-4]] = format_amount(int(value)) if value is not None else None
        else:
            out[name] = _plain(value)
    return out


def _format(template: str, values: dict[str, Any]) -> str:
    try:
        return template.format_map(values)
    except (KeyError, IndexError, ValueError) as exc:  # a template naming what a row lacks: still say it
        log.warning("message template %r: %s", template, exc)
        return template


def to_finding(rule: Rule, cfg: RuleConfig, params: dict[str, ParamValue], row: dict[str, Any]) -> Finding:
    evidence = evidence_of(row)
    if rule.explain is not None:
        evidence |= rule.explain(evidence, params)
    amount = int(row["amount_fen"] or 0)
    words = {**{k: (", ".join(v) if isinstance(v, tuple) else v) for k, v in params.items()}, **evidence}
    words["amount"] = format_amount(amount)
    related = tuple(sorted({i for i in (row.get("related") or "").split(",") if i} - {str(row["object_id"])}))
    occurred = row["occurred_on"]
    if isinstance(occurred, str):
        occurred = date.fromisoformat(occurred[:10])
    return Finding(
        rule=rule,
        level=Level(row["level"]) if row.get("level") else cfg.effective_level,
        object_type=str(row.get("object_type") or rule.object_type.value),
        object_id=str(row["object_id"]),
        mof_div_code=row["mof_div_code"],
        fiscal_year=int(row["fiscal_year"]),
        amount_fen=amount,
        occurred_on=occurred,
        facet=str(row.get("facet") or ""),
        agency_code=row.get("agency_code"),
        payee_key=row.get("payee_key"),
        related=related,
        related_type=row.get("related_type"),
        evidence=evidence,
        message=_format(rule.message, words),
    )


# --- what to evaluate --------------------------------------------------------------------------------
def region_groups(conn: Connection, cfg: RuleConfig) -> list[tuple[tuple[str, ...] | None, dict[str, Any]]]:
    """The regions a rule covers, grouped by their effective parameter overrides: ``[(None, {})]`` when
    it covers every region with no override (one query), else one group per distinct override set."""
    if not cfg.applies_to and not cfg.by_region:
        return [(None, {})]
    pairs = conn.execute(select(RegionClosure.ancestor, RegionClosure.descendant, RegionClosure.depth)).all()
    covered: set[str]
    if cfg.applies_to:
        roots = set(cfg.applies_to)
        covered = {d for a, d, _ in pairs if a in roots}
    else:
        covered = {code for (code,) in conn.execute(select(MofDiv.mof_div_code))}
    nearest: dict[str, tuple[int, str]] = {}
    for ancestor, descendant, depth in pairs:
        if ancestor in cfg.by_region and descendant in covered:
            best = nearest.get(descendant)
            if best is None or depth < best[0]:
                nearest[descendant] = (depth, ancestor)
    groups: dict[str | None, list[str]] = {}
    for code in covered:
        groups.setdefault(nearest[code][1] if code in nearest else None, []).append(code)
    out: list[tuple[tuple[str, ...] | None, dict[str, Any]]] = []
    for anchor, codes in sorted(groups.items(), key=lambda kv: kv[0] or ""):
        out.append((tuple(sorted(codes)), cfg.by_region.get(anchor, {}) if anchor else {}))
    return out


def changed_tables(conn: Connection, since: int, upto: int) -> set[str]:
    """Tables that loads after ``since`` (up to ``upto``) wrote to."""
    written = LoadTableReport.inserted + LoadTableReport.updated + LoadTableReport.deleted
    rows = conn.execute(
        select(LoadTableReport.table_name)
        .where(LoadTableReport.run_id > since, LoadTableReport.run_id <= upto, written > 0)
        .distinct()
    )
    return {name for (name,) in rows}


def data_as_of(conn: Connection) -> date:
    """The evaluation date by default: the last whole day before the newest load's extraction (Asia/Shanghai
    time; a batch extracted during a day holds that day only in part), else the newest payment date, else
    today."""
    extracted = conn.execute(
        select(func.max(LoadRun.extracted_at)).where(LoadRun.status == "done")
    ).scalar_one()
    if isinstance(extracted, str):
        extracted = datetime.fromisoformat(extracted)
    if extracted is not None:
        return (extracted + SHANGHAI_OFFSET).date() - timedelta(days=1)
    newest = conn.execute(
        select(func.max(PayVoucher.vou_date)).where(PayVoucher.is_deleted.is_(False))
    ).scalar_one()
    if isinstance(newest, str):
        newest = date.fromisoformat(newest)
    return newest or utcnow().date()


# --- the whitelist -------------------------------------------------------------------------------------
@dataclass(slots=True)
class Whitelist:
    entries: list[WhitelistEntry]
    subtree: dict[str, set[str]]  # entry region → its subtree

    @classmethod
    def load(cls, conn: Connection, today: date) -> Whitelist:
        active = or_(WhitelistEntry.valid_to.is_(None), WhitelistEntry.valid_to >= today)
        columns = WhitelistEntry.__table__.columns
        entries = [WhitelistEntry(**dict(r._mapping)) for r in conn.execute(select(*columns).where(active))]
        roots = {e.mof_div_code for e in entries if e.mof_div_code}
        subtree: dict[str, set[str]] = {r: set() for r in roots}
        if roots:
            for a, d in conn.execute(
                select(RegionClosure.ancestor, RegionClosure.descendant).where(
                    RegionClosure.ancestor.in_(roots)
                )
            ):
                subtree[a].add(d)
        return cls(entries, subtree)

    def match(self, f: Finding) -> WhitelistEntry | None:
        objects = {f.object_id, *f.related}
        for e in self.entries:
            if e.rule_code and e.rule_code not in (f.rule.code, f.rule.key):
                continue
            if e.mof_div_code and f.mof_div_code not in self.subtree.get(e.mof_div_code, ()):
                continue
            if e.agency_code and e.agency_code != f.agency_code:
                continue
            if e.payee_key and e.payee_key != f.payee_key:
                continue
            if e.object_id and e.object_id not in objects:
                continue
            return e
        return None


# --- the ledger --------------------------------------------------------------------------------------
def _chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def write_findings(conn: Connection, run_id: int, findings: list[Finding], now: datetime) -> int:
    """Raise new warnings and refresh the evidence of the ones found again; returns how many were raised."""
    by_key: dict[str, Finding] = {}
    for f in findings:
        by_key.setdefault(f.dedup_key, f)
    existing: dict[str, tuple[int, dict[str, Any], datetime | None]] = {}
    for keys in _chunks(list(by_key)):
        for wid, key, evidence, cleared in conn.execute(
            select(Warning.id, Warning.dedup_key, Warning.evidence, Warning.cleared_at).where(
                Warning.dedup_key.in_(keys)
            )
        ):
            existing[key] = (int(wid), dict(evidence), cleared)
    fresh = [f for k, f in by_key.items() if k not in existing]
    for part in _chunks(fresh):
        conn.execute(
            insert(Warning),
            [
                {
                    "dedup_key": f.dedup_key,
                    "rule_code": f.rule.code,
                    "rule_group": f.rule.group,
                    "level": f.level.value,
                    "object_type": f.object_type,
                    "object_id": f.object_id,
                    "facet": f.facet,
                    "fiscal_year": f.fiscal_year,
                    "mof_div_code": f.mof_div_code,
                    "agency_code": f.agency_code,
                    "payee_key": f.payee_key,
                    "amount_fen": f.amount_fen,
                    "occurred_on": f.occurred_on,
                    "evidence": f.evidence,
                    "message": f.message,
                    "status": "pending",
                    "detected_at": now,
                    "updated_at": now,
                    "run_id": run_id,
                }
                for f in part
            ],
        )
        ids = dict(
            conn.execute(
                select(Warning.dedup_key, Warning.id).where(
                    Warning.dedup_key.in_([f.dedup_key for f in part])
                )
            ).all()
        )
        objects = [row for f in part for row in _object_rows(ids[f.dedup_key], f)]
        conn.execute(insert(WarningObject), objects)
        # the feedback loop's outbox, in this same transaction: a raised warning is told to its channels
        enqueue(conn, [raised_event(ids[f.dedup_key], f, now) for f in part])
    changed = [
        (existing[k][0], f)
        for k, f in by_key.items()
        if k in existing and (existing[k][1] != f.evidence or existing[k][2])
    ]
    for wid, f in changed:
        conn.execute(
            update(Warning)
            .where(Warning.id == wid)
            .values(
                evidence=f.evidence,
                message=f.message,
                amount_fen=f.amount_fen,
                level=f.level.value,
                occurred_on=f.occurred_on,
                cleared_at=None,
                updated_at=now,
            )
        )
    _refresh_objects(conn, {existing[k][0]: f for k, f in by_key.items() if k in existing})
    seen = [existing[k][0] for k in by_key if k in existing]
    for part in _chunks(seen):
        conn.execute(update(Warning).where(Warning.id.in_(part)).values(run_id=run_id))
    return len(fresh)


def raised_event(warning_id: int, f: Finding, now: datetime) -> Event:
    """The ``warning.raised`` event of a new warning, for the finance bureau that must answer it. Its
    message stays out: it may name a subsidy recipient, and channels carry no personal data."""
    return Event(
        type=WARNING_RAISED,
        region=f.mof_div_code,
        level=f.level.value,
        occurred_at=now,
        data={
            "warning_id": warning_id,
            "rule_code": f.rule.code,
            "rule_name": f.rule.name,
            "rule_group": f.rule.group,
            "object_type": f.object_type,
            "object_id": f.object_id,
            "fiscal_year": f.fiscal_year,
            "agency_code": f.agency_code,
            "amount": format_amount(f.amount_fen),
            "occurred_on": f.occurred_on.isoformat(),
            "link": f"/v1/warnings/{warning_id}",
        },
    )


def _object_rows(warning_id: int, f: Finding) -> list[dict[str, Any]]:
    rows = [
        {"warning_id": warning_id, "object_type": f.object_type, "object_id": f.object_id, "is_primary": True}
    ]
    related_type = f.related_type or f.object_type
    rows += [
        {"warning_id": warning_id, "object_type": related_type, "object_id": other, "is_primary": False}
        for other in f.related
    ]
    return rows


def _refresh_objects(conn: Connection, found: dict[int, Finding]) -> None:
    """Warnings found again whose related objects changed (a split group that grew, a plan line added)
    get the objects the finding names now."""
    stored: dict[int, set[tuple[str, str, bool]]] = defaultdict(set)
    for part in _chunks(list(found)):
        for wid, otype, oid, primary in conn.execute(
            select(
                WarningObject.warning_id,
                WarningObject.object_type,
                WarningObject.object_id,
                WarningObject.is_primary,
            ).where(WarningObject.warning_id.in_(part))
        ):
            stored[wid].add((otype, oid, bool(primary)))
    for wid, f in found.items():
        rows = _object_rows(wid, f)
        if {(r["object_type"], r["object_id"], r["is_primary"]) for r in rows} != stored[wid]:
            conn.execute(delete(WarningObject).where(WarningObject.warning_id == wid))
            conn.execute(insert(WarningObject), rows)


def clear_missing(
    conn: Connection, rule: Rule, run_id: int, now: datetime, within: Select[Any] | None = None
) -> int:
    """Warnings of ``rule`` an evaluation did not find again (a full one; or an incremental one, ``within``
    the objects it looked at again): their condition no longer holds."""
    query = update(Warning).where(
        Warning.rule_code == rule.code,
        Warning.run_id < run_id,
        Warning.cleared_at.is_(None),
        Warning.closed_at.is_(None),
    )
    if within is not None:
        looked = within.subquery("looked_at")
        columns = [c.name for c in looked.c]
        query = query.where(tuple_(*(getattr(Warning, name) for name in columns)).in_(select(*looked.c)))
    result = conn.execute(query.values(cleared_at=now, updated_at=now))
    return int(result.rowcount or 0)


# --- a run -------------------------------------------------------------------------------------------
Progress = Callable[[str, int, int], None]  # (rule code, index, total)


def last_timings(conn: Connection, mode: str) -> dict[str, int]:
    """Milliseconds each rule took in the last finished run of this mode (full or incremental)."""
    per_rule = conn.execute(
        select(MonitorRun.per_rule)
        .where(MonitorRun.status == "done", MonitorRun.mode == mode)
        .order_by(MonitorRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return {code: int(v.get("ms", 0)) for code, v in (per_rule or {}).items() if isinstance(v, dict)}


def last_run(conn: Connection) -> tuple[int | None, date | None]:
    """The newest load the last finished run covered, and its evaluation date."""
    row = conn.execute(
        select(MonitorRun.upto_load_run, MonitorRun.as_of)
        .where(MonitorRun.status == "done")
        .order_by(MonitorRun.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None, None
    as_of = date.fromisoformat(row[1]) if isinstance(row[1], str) else row[1]
    return row[0], as_of


def run_rules(
    engine: Engine,
    *,
    incremental: bool = False,
    as_of: date | None = None,
    only: Iterable[str] | None = None,
    configs: dict[str, RuleConfig] | None = None,
    progress: Progress | None = None,
) -> RunReport:
    """Evaluate the rules (all enabled, or ``only`` those codes or keys) and write the ledger.

    ``incremental``: only over what loads wrote since the last finished run (a full run when there is
    none). The evaluation date defaults to the newest payment date in the warehouse."""
    started = time.perf_counter()
    configs = configs if configs is not None else load_config(RULES)
    selected = [
        c for c in configs.values() if c.enabled and (only is None or {c.rule.code, c.rule.key} & set(only))
    ]
    if only is not None:
        names = set(only)
        known = {c.rule.code for c in configs.values()} | {c.rule.key for c in configs.values()}
        if names - known:
            raise ValueError(f"no such rule: {', '.join(sorted(names - known))}")
    now = utcnow()
    with engine.begin() as conn:
        newest_year = conn.execute(select(func.max(PayVoucher.fiscal_year))).scalar_one() or now.year
        unofficial = ensure_calendar(conn, int(newest_year))
        upto = conn.execute(select(func.max(LoadRun.id)).where(LoadRun.status == "done")).scalar_one() or 0
        since, previous_as_of = last_run(conn) if incremental else (None, None)
        evaluation_date = as_of or data_as_of(conn)
        changed = changed_tables(conn, since, upto) if since is not None else set()
        run_id: int = conn.execute(
            insert(MonitorRun)
            .values(
                mode="incremental" if since is not None else "full",
                as_of=evaluation_date,
                since_load_run=since,
                upto_load_run=upto,
                started_at=now,
                status="running",
                per_rule={},
            )
            .returning(MonitorRun.id)
        ).scalar_one()
    report = RunReport(run_id, "incremental" if since is not None else "full", evaluation_date, since, upto)
    report.unofficial_years = unofficial
    try:
        with engine.begin() as conn:
            whitelist = Whitelist.load(conn, evaluation_date)
            last = last_timings(conn, report.mode)
        slowest_first = sorted(selected, key=lambda c: -last.get(c.rule.code, 0))
        state = RunState(
            run_id, since, upto, frozenset(changed), evaluation_date, previous_as_of, whitelist, now
        )
        outcomes = _evaluate_all(engine, slowest_first, state, progress)
        report.outcomes = sorted(outcomes, key=lambda o: [c.rule.code for c in selected].index(o.code))
        with engine.begin() as conn:
            conn.execute(
                update(MonitorRun)
                .where(MonitorRun.id == run_id)
                .values(
                    status="done",
                    finished_at=utcnow(),
                    findings=report.findings,
                    raised=report.raised,
                    suppressed=report.suppressed,
                    cleared=report.cleared,
                    per_rule={
                        o.code: {
                            "mode": o.mode,
                            "findings": o.findings,
                            "raised": o.raised,
                            "suppressed": o.suppressed,
                            "cleared": o.cleared,
                            "ms": round(o.seconds * 1000),
                        }
                        for o in report.outcomes
                    },
                )
            )
    except Exception as exc:
        with engine.begin() as conn:
            conn.execute(
                update(MonitorRun)
                .where(MonitorRun.id == run_id)
                .values(status="failed", finished_at=utcnow(), error=f"{type(exc).__name__}: {exc}")
            )
        raise
    report.seconds = time.perf_counter() - started
    return report


@dataclass(frozen=True)
class RunState:
    """What every rule of one run shares."""

    run_id: int
    since: int | None  # incremental: the newest load the previous run covered
    upto: int  # the newest finished load this run covers
    changed: frozenset[str]  # tables the loads since wrote
    as_of: date
    previous_as_of: date | None
    whitelist: Whitelist
    now: datetime

    def ctx(
        self, params: dict[str, ParamValue], full: bool, regions: tuple[str, ...] | None, dialect: str
    ) -> Ctx:
        return Ctx(params, self.as_of, None if full else self.since, regions, dialect, upto=self.upto)


def _evaluate_all(
    engine: Engine, selected: list[RuleConfig], state: RunState, progress: Progress | None
) -> list[RuleOutcome]:
    """Every selected rule on a few threads: each rule reads in a connection of its own (the database does
    the work and the driver lets go of the GIL meanwhile), the ledger writes one at a time. ``selected``
    comes slowest first (by the last run), so that no long rule starts last."""
    workers = worker_count(engine)
    outcomes: dict[str, RuleOutcome] = {}
    done = 0
    if progress:
        progress("", 0, len(selected))
    if workers == 1:
        for cfg in selected:
            outcomes[cfg.rule.code] = _evaluate(engine, cfg, state)
            done += 1
            if progress:
                progress(cfg.rule.code, done, len(selected))
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="monitor") as pool:
            futures = {pool.submit(_evaluate, engine, cfg, state): cfg for cfg in selected}
            for future in as_completed(futures):
                code = futures[future].rule.code
                outcomes[code] = future.result()
                done += 1
                if progress:
                    progress(code, done, len(selected))
    return [outcomes[cfg.rule.code] for cfg in selected]


def worker_count(engine: Engine) -> int:
    configured = MonitorSettings().workers
    if configured:
        return configured
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return 1  # an in-memory database is one connection's own
    # twice the cores, at most 4: a rule waits on pages as well as computing (4 on 2 cores: the
    # incremental run of the benchmark 2.4 s instead of 2.9)
    return max(1, min(4, 2 * (os.cpu_count() or 1)))


def _evaluate(engine: Engine, cfg: RuleConfig, state: RunState) -> RuleOutcome:
    """One rule: evaluated in a read transaction, filtered by the whitelist, then written in a short write
    transaction (on SQLite a long evaluation must not hold the write lock the audit log needs; on PostgreSQL
    an advisory lock makes two runs at once write one after the other, so neither raises a duplicate)."""
    started = time.perf_counter()
    rule = cfg.rule
    inputs = set(rule.inputs)
    since, changed = state.since, state.changed
    moved = rule.time_dependent and state.as_of != state.previous_as_of  # its findings change with the date
    if since is not None and not moved and not (inputs & changed):
        return RuleOutcome(rule.code, "skipped")
    full = since is None or moved or bool((inputs - EVENT_TABLES) & changed)
    outcome = RuleOutcome(rule.code, "full" if full else "incremental")
    findings: list[Finding] = []
    with engine.connect() as conn, conn.begin():
        for regions, overrides in region_groups(conn, cfg):
            if regions == ():
                continue
            params = cfg.values(overrides)
            ctx = state.ctx(params, full, regions, engine.dialect.name)
            for row in conn.execute(rule.query(ctx)).mappings():
                findings.append(to_finding(rule, cfg, params, dict(row)))
    outcome.findings = len(findings)
    kept = [f for f in findings if state.whitelist.match(f) is None]
    outcome.suppressed = len(findings) - len(kept)
    with write_transaction(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK})
        outcome.raised = write_findings(conn, state.run_id, kept, state.now)
        if full:
            outcome.cleared = clear_missing(conn, rule, state.run_id, state.now)
        elif rule.touched is not None:
            looked_at = rule.touched(state.ctx(cfg.values(), False, None, engine.dialect.name))
            outcome.cleared = clear_missing(conn, rule, state.run_id, state.now, looked_at)
    outcome.seconds = time.perf_counter() - started
    return outcome
