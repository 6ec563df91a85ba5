"""The lifecycle of a warning (预警处置): 待核实 → 已核实 (违规 | 无误) → 整改中 → 已整改.

Only the finance bureau (财政部门) of the warning's own region answers a warning: it verifies it (a verdict
of 违规 violation or 无误 no issue; 无误 closes it), starts the rectification of a violation, and
completes it (which closes it). Every step carries a comment and is kept as a :class:`WarningStep` with
its actor; the step and the warning's new status are written in one transaction, and the ``UPDATE``
names the status it expects, so of two concurrent steps on one warning only one can succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, Engine, insert, select, update

from monitor.runner import utcnow
from schema.db import write_transaction
from schema.monitor import Warning, WarningStep

MAX_COMMENT = 2000


class Status(StrEnum):
    pending = "pending"  # 待核实
    verified = "verified"  # 已核实
    rectifying = "rectifying"  # 整改中
    rectified = "rectified"  # 已整改

    @property
    def chinese(self) -> str:
        return {"pending": "待核实", "verified": "已核实", "rectifying": "整改中", "rectified": "已整改"}[
            self
        ]


class Verdict(StrEnum):
    violation = "violation"  # 违规
    no_issue = "no_issue"  # 无误


class Action(StrEnum):
    verify = "verify"  # 核实
    start_rectification = "start_rectification"  # 开始整改
    complete_rectification = "complete_rectification"  # 完成整改


@dataclass(frozen=True, slots=True)
class Actor:
    """Who takes a step: the token's subject, body, organisation and region."""

    sub: str
    body: str
    region: str | None
    org: str | None = None


class StepError(ValueError):
    """A step that cannot be taken; the message says why and is safe to show."""


class InvalidStep(StepError):
    """The request itself is incomplete or malformed (a comment or verdict missing, too long)."""


class IllegalStep(StepError):
    """The action is not allowed from the warning's current status."""


class NotPermitted(StepError):
    """The actor may not answer this warning (not finance, or not the warning's own region)."""


class ConcurrentStep(StepError):
    """Another step changed the warning between reading and writing it."""


class WarningMissing(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Step:
    """A step taken: the warning's status before and after, and the step's id."""

    step_id: int
    warning_id: int
    action: Action
    from_status: Status
    to_status: Status
    verdict: Verdict | None
    at: datetime


def allowed_actions(status: str, verdict: str | None) -> list[Action]:
    """The actions the state machine allows from ``status`` (and, once verified, its verdict)."""
    if status == Status.pending:
        return [Action.verify]
    if status == Status.verified and verdict == Verdict.violation:
        return [Action.start_rectification]
    if status == Status.rectifying:
        return [Action.complete_rectification]
    return []  # verified as no_issue, or rectified: closed


def check_actor(actor: Actor, region: str) -> None:
    """Only the finance bureau of the warning's own region answers it (not one above or below it)."""
    if actor.body != "finance":
        raise NotPermitted(f"only the finance body answers warnings; the caller is {actor.body}")
    if actor.region != region:
        raise NotPermitted(
            f"warning of region {region} is answered by that region's finance bureau only; "
            f"the caller's region is {actor.region or 'none'}"
        )


def _comment(comment: str | None) -> str:
    if comment is None or not comment.strip():
        raise InvalidStep("comment: required on every step (what was checked or done)")
    if len(comment) > MAX_COMMENT:
        raise InvalidStep(f"comment: at most {MAX_COMMENT} characters, got {len(comment)}")
    return comment


def plan(
    status: str, verdict: str | None, action: str, given: str | None
) -> tuple[Status, Verdict | None, bool]:
    """Where ``action`` leads from ``status``: the new status, the verdict and whether it closes the
    warning; :class:`IllegalStep` names the current status and what is allowed from it."""
    try:
        act = Action(action)
    except ValueError:
        raise InvalidStep(f"action: one of {', '.join(a.value for a in Action)}; got {action!r}") from None
    allowed = allowed_actions(status, verdict)
    if act not in allowed:
        shown = f"{status} ({Status(status).chinese})" if status in Status.__members__ else status
        if verdict:
            shown += f" with verdict {verdict}"
        options = ", ".join(a.value for a in allowed) or "none (the warning is closed)"
        raise IllegalStep(f"cannot {act.value} a warning that is {shown}; allowed: {options}")
    if act is Action.verify:
        if given is None:
            raise InvalidStep("verdict: required to verify (violation or no_issue)")
        try:
            v = Verdict(given)
        except ValueError:
            raise InvalidStep(f"verdict: violation or no_issue; got {given!r}") from None
        return Status.verified, v, v is Verdict.no_issue
    if given is not None and given != verdict:
        raise InvalidStep(f"verdict: only given to verify; the warning's verdict stays {verdict}")
    if act is Action.start_rectification:
        return Status.rectifying, Verdict.violation, False
    return Status.rectified, Verdict.violation, True


def _current(conn: Connection, warning_id: int) -> tuple[str, str | None, str] | None:
    row = conn.execute(
        select(Warning.status, Warning.verdict, Warning.mof_div_code).where(Warning.id == warning_id)
    ).first()
    return (row[0], row[1], row[2]) if row is not None else None


def apply(
    conn: Connection,
    warning_id: int,
    action: str,
    *,
    actor: Actor,
    comment: str | None,
    verdict: str | None = None,
    now: datetime | None = None,
) -> Step:
    """Take one step on a warning inside the caller's transaction ``conn``."""
    current = _current(conn, warning_id)
    if current is None:
        raise WarningMissing(f"no warning {warning_id}")
    status, old_verdict, region = current
    check_actor(actor, region)
    to_status, new_verdict, closes = plan(status, old_verdict, action, verdict)
    text = _comment(comment)
    at = now or utcnow()
    values: dict[str, object] = {"status": to_status.value, "verdict": new_verdict, "updated_at": at}
    if closes:
        values["closed_at"] = at
    expected = Warning.verdict.is_(None) if old_verdict is None else Warning.verdict == old_verdict
    changed = conn.execute(
        update(Warning).where(Warning.id == warning_id, Warning.status == status, expected).values(**values)
    )
    if changed.rowcount != 1:
        raise ConcurrentStep(
            f"warning {warning_id} changed while this step was taken (it was {status}); read it again"
        )
    step_id = conn.execute(
        insert(WarningStep)
        .values(
            warning_id=warning_id,
            action=action,
            from_status=status,
            to_status=to_status.value,
            verdict=new_verdict,
            actor_sub=actor.sub,
            actor_body=actor.body,
            actor_org=actor.org,
            at=at,
            comment=text,
        )
        .returning(WarningStep.id)
    ).scalar_one()
    return Step(int(step_id), warning_id, Action(action), Status(status), to_status, new_verdict, at)


def transition(
    engine: Engine,
    warning_id: int,
    action: str,
    *,
    actor: Actor,
    comment: str | None,
    verdict: str | None = None,
    now: datetime | None = None,
) -> Step:
    """One step in a transaction of its own (on SQLite, holding the write lock from its start)."""
    with write_transaction(engine) as conn:
        return apply(conn, warning_id, action, actor=actor, comment=comment, verdict=verdict, now=now)
