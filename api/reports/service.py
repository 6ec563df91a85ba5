"""A periodic oversight report (财库〔2015〕73号: weekly, monthly, quarterly and annual monitoring reports) of
one region, built once as data (:class:`api.reports.model.Report`) and rendered as JSON, HTML or XLSX.

Each section is read through the services the API answers with, under the caller's scope, so that a report
and the API never disagree: the execution figures are ``/v1/summary``'s and ``/v1/drilldown``'s, the special
funds' ``/v1/special-funds/{code}/flow``'s, the warnings' ``/v1/warnings/stats``' and ``…/escalations``', the
sources' ``/v1/sources``'. The report is as of the period's last day, or the newest payment's day if that is
earlier (a period still running, or data that lags the calendar).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from api.analysis.service import resolve_scope
from api.errors import BadParameter
from api.reference.service import sources
from api.reports.execution import execution
from api.reports.funds import special_funds
from api.reports.inquiries import inquiries_section
from api.reports.model import FreshnessSection, Report
from api.reports.period import Period
from api.reports.warnings import warnings_section
from monitor import ledger
from security.principal import Principal
from security.scope import Scope

T = TypeVar("T")


def build_report(
    session: Session,
    scope: Scope,
    period: Period,
    region: str | None,
    *,
    principal: Principal | None = None,
    now: datetime | None = None,
    timings: dict[str, float] | None = None,
) -> Report:
    """The report of ``region`` (default: the caller's own; one outside the scope is a 404 like a missing
    one) for ``period``. ``principal`` decides which inquiries count (None: every one in the region);
    ``timings``, when given, receives the seconds each section took."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    spent = timings if timings is not None else {}

    def timed(name: str, build: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return build()
        finally:
            spent[name] = time.perf_counter() - started

    root, root_name = resolve_scope(session, scope, region)
    if root is None:
        raise BadParameter("region", "name a region: the caller sees several top regions")
    # the fiscal year the period is labelled with: an ISO week may end in the next year (2026-W53 ends on
    # 2027-01-03), whose execution it is not about
    year = int(period.label[:4])
    last = min(period.last, date(year, 12, 31))
    section1 = timed("execution", lambda: execution(session, scope, root, year, last))
    section2 = timed("special_funds", lambda: special_funds(session, scope, root, year))
    section3 = timed("warnings", lambda: warnings_section(session, scope, root, period))
    today = ledger.china_today()
    section4 = timed("inquiries", lambda: inquiries_section(session, scope, principal, root, period, today))
    section5 = timed(
        "freshness",
        lambda: FreshnessSection(newest_data_date=section1.data_as_of, sources=sources(session, now)),
    )
    return Report(
        period=period,
        region=root,
        region_name=root_name,
        year=year,
        as_of=section1.as_of,
        generated_at=now,
        execution=section1,
        special_funds=section2,
        warnings=section3,
        inquiries=section4,
        freshness=section5,
    )
