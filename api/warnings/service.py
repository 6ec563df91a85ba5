"""The warning rules (预警规则) and the warnings ledger (预警台账) for REST and GraphQL alike: the ledger's
reads (:mod:`monitor.ledger`) with the API's cursors and errors, the rule catalogue as configured, and the
one write the API makes, a lifecycle step (:mod:`monitor.lifecycle`) through the writable engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.errors import BadParameter, Conflict, Forbidden, NotFound, ProblemError
from api.errors import InvalidRequest as InvalidStep
from api.pagination import Listed, decode_cursor, encode_cursor
from monitor import ledger, lifecycle
from monitor.config import ConfigError, RuleConfig, load_config
from monitor.ledger import Clock, Escalations, Stats, WarningDetail, WarningFilter, WarningRow
from monitor.rule import ParamValue
from monitor.rules import RULES
from schema.db import write_transaction
from schema.monitor import Warning
from security.principal import Principal
from security.scope import Scope

R = TypeVar("R")


def _checked(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """A ledger read with its errors as the API's: a bad parameter is a 400, a missing or foreign
    object a 404."""
    try:
        return fn(*args, **kwargs)
    except ledger.LedgerError as exc:
        raise BadParameter(exc.parameter, exc.detail) from None
    except ledger.Missing as exc:
        raise NotFound(str(exc)) from None


# --- the ledger ------------------------------------------------------------------------------------------


class WarningItem(WarningRow, Listed):
    """A warning in a listing (GraphQL edges carry its cursor)."""


class WarningPage(BaseModel):
    rows: list[WarningItem]
    next_cursor: str | None


def list_warnings(
    session: Session,
    scope: Scope,
    f: WarningFilter,
    *,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    clock: Clock | None = None,
) -> WarningPage:
    field, _ = _checked(ledger.parse_sort, sort)
    listing = f"warnings:{sort or '-id'}"
    after = decode_cursor(listing, cursor, 1 if field is ledger.Sort.id else 2)
    rows, more = _checked(
        ledger.list_warnings, session, scope, f, sort=sort, after=after, limit=limit, clock=clock
    )
    items = []
    for row in rows:
        item = WarningItem(**row.model_dump())
        item.at(encode_cursor(listing, ledger.sort_key(row, field)))
        items.append(item)
    return WarningPage(rows=items, next_cursor=items[-1].cursor if more and items else None)


def count_warnings(session: Session, scope: Scope, f: WarningFilter) -> int:
    return _checked(ledger.count_warnings, session, scope, f)


def get_warning(session: Session, scope: Scope, warning_id: int) -> WarningDetail:
    return _checked(ledger.get_warning, session, scope, warning_id)


def warnings_by_id(session: Session, scope: Scope, ids: Sequence[int]) -> dict[int, WarningDetail]:
    return ledger.get_warnings(session, scope, ids)


def warning_stats(session: Session, scope: Scope, f: WarningFilter, by: str) -> Stats:
    return _checked(ledger.warning_stats, session, scope, f, by)


def warning_escalations(
    session: Session, scope: Scope, month: str | None = None, region: str | None = None
) -> Escalations:
    return _checked(ledger.escalations, session, scope, month, region)


# --- a lifecycle step ---------------------------------------------------------------------------------


class TransitionRequest(BaseModel):
    """One step of a warning's lifecycle (待核实 → 已核实 (违规 | 无误) → 整改中 → 已整改)."""

    action: str = Field(max_length=40, description="verify, start_rectification or complete_rectification")
    verdict: str | None = Field(
        default=None, max_length=40, description="verify only: violation (违规) or no_issue (无误)"
    )
    comment: str = Field(
        max_length=4000, description="required: what was checked or done (≤ 2000 characters)"
    )


@contextmanager
def step_problems() -> Iterator[None]:
    """The lifecycle's refusals as the API's problems: not permitted a 403 naming why, a malformed step a
    422, an illegal or concurrent one a 409, a missing warning a 404 (for every path that takes steps:
    REST, GraphQL, a channel's callback)."""
    try:
        yield
    except lifecycle.NotPermitted as exc:
        raise Forbidden(str(exc)) from None
    except lifecycle.InvalidStep as exc:
        raise InvalidStep(str(exc)) from None
    except (lifecycle.IllegalStep, lifecycle.ConcurrentStep) as exc:
        raise Conflict(str(exc)) from None
    except lifecycle.WarningMissing as exc:
        raise NotFound(str(exc)) from None


def transition(
    writer: Engine,
    scope: Scope,
    principal: Principal,
    warning_id: int,
    *,
    action: str,
    verdict: str | None,
    comment: str | None,
) -> WarningDetail:
    """Take a step as ``principal``: a warning outside its scope is a 404 like a missing one; one in
    scope that it may not answer is a 403 naming why; an illegal step or a concurrent one a 409."""
    actor = lifecycle.Actor(
        sub=principal.sub, body=principal.body.value, region=principal.region, org=principal.org
    )
    with step_problems(), write_transaction(writer) as conn:
        visible = conn.execute(
            select(Warning.id).where(Warning.id == warning_id, scope.regions(Warning.mof_div_code))
        ).scalar()
        if visible is None:
            raise NotFound(f"no warning {warning_id}")
        lifecycle.apply(conn, warning_id, action, actor=actor, comment=comment, verdict=verdict)
    with Session(writer) as session, session.begin():
        return get_warning(session, scope, warning_id)


# --- the rule catalogue ---------------------------------------------------------------------------------

Value = int | str | list[str]


def _value(v: ParamValue) -> Value:
    return list(v) if isinstance(v, tuple) else v


class RuleParam(BaseModel):
    name: str
    description: str
    default: Value
    value: Value = Field(description="as configured for the whole province (the default when not)")


class RegionOverride(BaseModel):
    region: str = Field(description="the region whose subtree the values apply to (the nearest wins)")
    params: dict[str, Value]


class RuleInfo(BaseModel):
    code: str
    key: str
    group: str
    name: str = Field(description="Chinese name")
    title: str = Field(description="English name")
    level: str = Field(description="as configured: blue 蓝, yellow 黄, orange 橙, red 红")
    default_level: str
    object_type: str
    fires_when: str = Field(description="the condition, with the parameters' names in braces")
    basis: str = Field(description="legal basis (法律依据)")
    params: list[RuleParam]
    overrides: list[RegionOverride] = Field(description="per-region parameter values")
    enabled: bool
    applies_to: list[str] = Field(description="region subtrees it is evaluated in; empty: every region")
    time_dependent: bool = Field(description="depends on the evaluation date (evaluated in full each run)")


class RuleList(BaseModel):
    rows: list[RuleInfo]


def _info(cfg: RuleConfig) -> RuleInfo:
    r = cfg.rule
    values = cfg.values()
    return RuleInfo(
        code=r.code,
        key=r.key,
        group=r.group,
        name=r.name,
        title=r.title,
        level=cfg.effective_level.value,
        default_level=r.level.value,
        object_type=r.object_type.value,
        fires_when=r.fires_when,
        basis=r.basis,
        params=[
            RuleParam(
                name=p.name,
                description=p.description,
                default=_value(p.default),
                value=_value(values[p.name]),
            )
            for p in r.params
        ],
        overrides=[
            RegionOverride(region=code, params={k: _value(v) for k, v in params.items()})
            for code, params in sorted(cfg.by_region.items())
        ],
        enabled=cfg.enabled,
        applies_to=list(cfg.applies_to),
        time_dependent=r.time_dependent,
    )


def _configs() -> dict[str, RuleConfig]:
    try:
        return load_config(RULES)
    except ConfigError as exc:
        raise ProblemError(f"the monitoring configuration cannot be used: {exc}") from None


def list_rules() -> RuleList:
    """The catalogue in code order, as configured (``OVERSIGHT_MONITOR_CONFIG``)."""
    configs = _configs()
    return RuleList(rows=[_info(configs[r.code]) for r in RULES if r.code in configs])


def get_rule(code: str) -> RuleInfo:
    configs = _configs()
    if code not in configs:
        raise NotFound(f"no rule {code!r}")
    return _info(configs[code])
