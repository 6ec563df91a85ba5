"""Section 3: the warnings (预警) of the region: raised in the period by group and by region with counts,
amounts and handling rates (the service of ``/v1/warnings/stats``), open at the period's end, and the
专项督查 list (``/v1/warnings/escalations``) at the period's last month.

"Raised in the period" is by ``occurred_on``, the data date of the event, as the ledger's months are: a
monitor run may find an old event late, and it belongs to the period it happened in. Handled, closed and
overdue are as they stand today, exactly as the API answers them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, func, literal, select
from sqlalchemy.orm import Session

from api.reports.model import EscalationRow, OpenRow, WarningSection
from api.reports.period import Period
from api.warnings.service import warning_escalations, warning_stats
from connectors.ingest.convert import format_amount, parse_amount
from monitor import ledger
from monitor.ledger import Clock, WarningFilter
from schema.monitor import Warning
from security.scope import Scope

# the ledger's own definition of "open at the end of a day", the one its escalations count with
_open_at = ledger._open_at


def warnings_section(session: Session, scope: Scope, root: str, period: Period) -> WarningSection:
    raised = WarningFilter(region=root, occurred_from=period.first, occurred_to=period.last)
    by_group = warning_stats(session, scope, raised, "group")
    by_region = warning_stats(session, scope, raised, "region")
    groups = _open_rows(session, scope, root, period, Warning.rule_group)
    regions = _open_rows(session, scope, root, period, Warning.mof_div_code)
    names = ledger.region_names(session, [r.key for r in regions])
    for r in regions:
        r.name = names.get(r.key)
    month = f"{period.last.year:04d}-{period.last.month:02d}"
    escalations = warning_escalations(session, scope, month, root)
    return WarningSection(
        occurred_from=period.first,
        occurred_to=period.last,
        by_group=by_group,
        by_region=by_region,
        open_at_end_by_group=groups,
        open_at_end_by_region=regions,
        open_at_end=OpenRow(
            key="total",
            name="合计",
            count=sum(r.count for r in groups),
            amount=format_amount(sum(parse_amount(r.amount) for r in groups)),
        ),
        escalation_month=escalations.month,
        escalation_months=escalations.escalation_months,
        escalations=[
            EscalationRow(
                region=e.region,
                region_name=e.region_name,
                months=e.months,
                oldest_id=e.oldest.id,
                oldest_rule=e.oldest.rule_code,
                oldest_rule_name=e.oldest.rule_name,
                oldest_occurred_on=e.oldest.occurred_on,
                oldest_amount=e.oldest.amount,
                oldest_link=e.oldest.link,
            )
            for e in escalations.rows
        ],
    )


def _open_rows(session: Session, scope: Scope, root: str, period: Period, key: Any) -> list[OpenRow]:
    """Warnings open at the end of the period's last day, grouped by ``key``: whatever their status now,
    a warning closed or cleared after that day was open then."""
    every = WarningFilter(region=root, include_cleared=True)
    where = ledger.conditions(session, scope, every, Clock.now())
    query = (
        select(
            key,
            func.count(),
            func.coalesce(func.sum(Warning.amount_fen), literal(0, Integer)),
        )
        .where(*where, _open_at(period.last))
        .group_by(key)
        .order_by(key)
    )
    return [
        OpenRow(key=str(k), name=str(k), count=int(n), amount=format_amount(int(fen or 0)))
        for k, n, fen in session.execute(query)
    ]
