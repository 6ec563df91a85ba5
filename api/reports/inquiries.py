"""Section 4: the inquiries (询问函) of the region in the period, from their steps (``inquiry_step``): raised,
answered, accepted and returned in the period, overdue at its end, and how many working days answers took.

Days are days in China (UTC+8). An answer's time is counted in working days on the Chinese calendar from the
start of its round (the raise, or the return that opened the round) to the answer, the way deadlines are
counted: a day's own answer took 0 days, the next working day's 1. Overdue at the period's end means waiting
for the finance bureau (open or returned) with the round's deadline passed at the end of the period's last
day; for a period that reaches today it is exactly the API's ``overdue`` flag. A round's deadline is the one
the inquiry holds for its current round; an earlier round's is counted again from the configuration.

Who sees which inquiry is the API's rule (:func:`api.inquiries.service.visible`): an oversight body its own
body's, a finance bureau every one to its subtree; without a principal (the CLI, run with the database's
own credentials) every inquiry in the region.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.inquiries import lifecycle
from api.inquiries.service import visible
from api.inquiries.workdays import is_workday
from api.reports.model import InquiryFigures, InquirySection
from api.reports.numbers import nearest_rank
from api.reports.period import Period
from connectors.delivery import config as delivery_config
from connectors.sync.config import ConfigError
from monitor.ledger import CHINA
from schema.feedback import Inquiry, InquiryStep
from schema.models import MofDiv, RegionClosure
from security.principal import Principal
from security.scope import Scope


@dataclass(slots=True)
class _Tally:
    raised: int = 0
    answered: int = 0
    accepted: int = 0
    returned: int = 0
    overdue: int = 0
    days: list[int] = field(default_factory=list)


def _day(at: datetime) -> date:
    """The day in China of a stored (naive UTC) instant."""
    return (at + CHINA).date()


def _utc_start(day: date) -> datetime:
    return datetime.combine(day, time()) - CHINA


def working_days(start: date, end: date) -> int:
    """Working days in (start, end]: what an answer on ``end`` to a round opened on ``start`` took."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_workday(day)
    return count


def inquiries_section(
    session: Session,
    scope: Scope,
    principal: Principal | None,
    root: str,
    period: Period,
    today: date,
) -> InquirySection:
    seen = visible(scope, principal) if principal is not None else scope.regions(Inquiry.mof_div_code)
    start, end = _utc_start(period.first), _utc_start(period.last + timedelta(days=1))
    inquiries = {
        r.id: r
        for r in session.execute(
            select(Inquiry.id, Inquiry.mof_div_code, Inquiry.round, Inquiry.deadline, Inquiry.status).where(
                seen, Scope(region=root).regions(Inquiry.mof_div_code), Inquiry.raised_at < end
            )
        )
    }
    steps: dict[int, list[Any]] = defaultdict(list)
    if inquiries:
        for s in session.execute(
            select(InquiryStep.inquiry_id, InquiryStep.action, InquiryStep.round, InquiryStep.at)
            .where(InquiryStep.inquiry_id.in_(list(inquiries)))
            .order_by(InquiryStep.inquiry_id, InquiryStep.id)
        ):
            steps[s.inquiry_id].append(s)
    branch, names, children = _branches(session, root)
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    try:  # only earlier rounds' deadlines need it: a broken feedback file must not break the report
        config = delivery_config.current_config()
    except ConfigError:
        config = delivery_config.FeedbackConfig()
    for inquiry_id, inquiry in inquiries.items():
        tally = tallies[branch.get(inquiry.mof_div_code, root)]
        mine = steps[inquiry_id]
        opened: dict[int, date] = {}  # round → the day it began
        for s in mine:
            if s.action in (lifecycle.Action.raise_.value, lifecycle.Action.return_.value):
                opened[s.round] = _day(s.at)
            if not start <= s.at < end:
                continue
            if s.action == lifecycle.Action.raise_.value:
                tally.raised += 1
            elif s.action == lifecycle.Action.answer.value:
                tally.answered += 1
                if s.round in opened:
                    tally.days.append(working_days(opened[s.round], _day(s.at)))
            elif s.action == lifecycle.Action.accept.value:
                tally.accepted += 1
            elif s.action == lifecycle.Action.return_.value:
                tally.returned += 1
        tally.overdue += _overdue_at_end(session, inquiry, mine, period.last, today, config)
    rows = [_figures(root, names.get(root), True, tallies[root])]
    rows += [_figures(c, names.get(c), False, tallies[c]) for c in children]
    total = _Tally()
    for t in tallies.values():
        total.raised += t.raised
        total.answered += t.answered
        total.accepted += t.accepted
        total.returned += t.returned
        total.overdue += t.overdue
        total.days += t.days
    return InquirySection(regions=rows, total=_figures(None, "合计", False, total))


def _overdue_at_end(
    session: Session, inquiry: Any, steps: list[Any], last: date, today: date, config: Any
) -> bool:
    """Whether the inquiry waited past its round's deadline at the end of ``last`` (or today, if earlier)."""
    if last >= today:  # the period reaches today: the API's overdue flag
        return inquiry.status in lifecycle.OPEN and inquiry.deadline < today
    end = _utc_start(last + timedelta(days=1))
    before = [s for s in steps if s.at < end]
    if not before or before[-1].action not in (lifecycle.Action.raise_.value, lifecycle.Action.return_.value):
        return False
    round_ = before[-1].round
    if round_ == inquiry.round:
        deadline = inquiry.deadline
    else:
        deadline = lifecycle.deadline(session.connection(), inquiry.mof_div_code, _day(before[-1].at), config)
    return bool(deadline <= last)


def _branches(session: Session, root: str) -> tuple[dict[str, str], dict[str, str | None], list[str]]:
    """Region → its row (the root's own level or the child whose subtree holds it), the rows' names, and
    the children in code order."""
    child = select(MofDiv.mof_div_code).where(MofDiv.parent_code == root)
    branch = {
        d: a
        for d, a in session.execute(
            select(RegionClosure.descendant, RegionClosure.ancestor).where(RegionClosure.ancestor.in_(child))
        )
    }
    branch[root] = root
    names: dict[str, str | None] = {
        c: n
        for c, n in session.execute(
            select(MofDiv.mof_div_code, MofDiv.mof_div_name).where(
                (MofDiv.parent_code == root) | (MofDiv.mof_div_code == root)
            )
        )
    }
    children = sorted(c for c in names if c != root)
    return branch, names, children


def _figures(key: str | None, name: str | None, own: bool, t: _Tally) -> InquiryFigures:
    return InquiryFigures(
        key=key,
        name=name,
        own_level=own,
        raised=t.raised,
        answered=t.answered,
        accepted=t.accepted,
        returned=t.returned,
        overdue=t.overdue,
        answer_days_median=nearest_rank(t.days, 0.5),
        answer_days_p90=nearest_rank(t.days, 0.9),
    )
