"""One GraphQL request: its read transaction, the caller's scope, and its DataLoaders.

Every nested field reads through a DataLoader built for this request only, so the parents of one level
are answered together: the loaders call the services' ``…_many`` functions, which send a whole level to
the database as one statement (a ``UNION ALL`` of per-parent queries, or one ``IN``), whatever its
breadth. The services run in a worker thread, one at a time: the session is not shared concurrently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from api.analysis.breakdown import Answer, Question, answer_many
from api.analysis.service import Drill, Drilldown, default_year, drilldowns
from api.errors import NotFound
from api.indicators.service import Indicator, Trace, get_indicators, trace
from api.orgs.service import AgencyRow, agencies_by_key
from api.payees.service import PayeeDetail, PayeeRow, get_payee, payees_by_id
from api.payments.service import (
    PaymentPage,
    PaymentRow,
    PaymentSearch,
    count_payments_many,
    list_payments_many,
    payment_rows,
)
from api.regions.service import RegionRow, children_of, regions_by_code
from api.warnings.service import warnings_by_id
from monitor.ledger import WarningDetail
from schema.models import PayVoucher
from security.principal import Principal
from security.scope import Scope

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class PaymentsAsk:
    """A page of payments asked for by a nested field (the search as JSON, to be hashable)."""

    search: str
    sort: str | None
    cursor: str | None
    limit: int


class Context(BaseContext):
    def __init__(
        self,
        session: Session,
        scope: Scope,
        principal: Principal | None = None,
        charge: Callable[[int], bool] | None = None,
        writer: Engine | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.writer = writer  # warning lifecycle steps only (the mutation)
        self.rule_infos: dict[str, Any] | None = None  # the rule catalogue as configured, read once
        self.scope = scope
        self.principal = principal
        self.charge = charge or (lambda _units: True)  # takes more requests from the caller's budget
        self._lock = asyncio.Lock()
        self._year: int | None = None
        self.loaders = Loaders(self)

    async def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """``fn(session, scope, *args, **kwargs)``, a service function, off the event loop."""
        async with self._lock:
            return await run_in_threadpool(fn, self.session, self.scope, *args, **kwargs)

    async def year(self, year: int | None) -> int:
        """The fiscal year asked for, else the latest with data (read once per request)."""
        if year is not None:
            return year
        if self._year is None:
            self._year = await self.call(lambda session, _scope: default_year(session))
        return self._year


def _loader(ctx: Context, many: Callable[[Session, Scope, list[Any]], Sequence[Any]]) -> DataLoader[Any, Any]:
    async def load(keys: list[Any]) -> Sequence[Any]:
        return await ctx.call(many, list(keys))

    return DataLoader(load_fn=load)


def _by_key(lookup: Callable[[Session, Scope, list[Any]], dict[Any, Any]]) -> Callable[..., list[Any]]:
    def many(session: Session, scope: Scope, keys: list[Any]) -> list[Any]:
        found = lookup(session, scope, keys)
        return [found.get(k) for k in keys]

    return many


def _drills(session: Session, scope: Scope, asks: list[Drill]) -> list[Drilldown]:
    return drilldowns(session, scope, asks, {})


def _payment_pages(session: Session, scope: Scope, asks: list[PaymentsAsk]) -> list[PaymentPage]:
    pages: list[PaymentPage | None] = [None] * len(asks)
    groups: dict[tuple[str | None, str | None, int], list[int]] = {}
    for i, ask in enumerate(asks):
        groups.setdefault((ask.sort, ask.cursor, ask.limit), []).append(i)
    for (sort, cursor, limit), members in groups.items():
        searches = [PaymentSearch.model_validate_json(asks[i].search) for i in members]
        for i, page in zip(
            members,
            list_payments_many(session, scope, searches, sort=sort, cursor=cursor, limit=limit),
            strict=True,
        ):
            pages[i] = page
    return [p for p in pages if p is not None]


def _payment_counts(session: Session, scope: Scope, searches: list[str]) -> list[int]:
    return count_payments_many(session, scope, [PaymentSearch.model_validate_json(s) for s in searches])


def _one_by_one(
    fn: Callable[[Session, Scope, Any], R],
) -> Callable[[Session, Scope, list[Any]], list[R | None]]:
    """For the few fields asked of one object at a time (a trace, a payee's breakdowns): still deduplicated
    and cached per request by the loader; the cost limit prices them high."""

    def many(session: Session, scope: Scope, keys: list[Any]) -> list[R | None]:
        out: list[R | None] = []
        for key in keys:
            try:
                out.append(fn(session, scope, key))
            except NotFound:
                out.append(None)
        return out

    return many


def _payments_by_id(session: Session, scope: Scope, ids: list[str]) -> list[PaymentRow | None]:
    """Payments by id, those the caller may see (a warning's objects)."""
    visible = list(
        session.execute(
            select(PayVoucher.pay_cert_id).where(
                PayVoucher.pay_cert_id.in_(ids), scope.regions(PayVoucher.mof_div_code)
            )
        ).scalars()
    )
    found = {r.pay_cert_id: r for r in payment_rows(session, visible, scope.pii)}
    return [found.get(i) for i in ids]


class Loaders:
    def __init__(self, ctx: Context) -> None:
        self.answers: DataLoader[Question, Answer] = _loader(ctx, answer_many)
        self.drills: DataLoader[Drill, Drilldown] = _loader(ctx, _drills)
        self.payments: DataLoader[PaymentsAsk, PaymentPage] = _loader(ctx, _payment_pages)
        self.payment_counts: DataLoader[str, int] = _loader(ctx, _payment_counts)
        self.indicators: DataLoader[str, Indicator | None] = _loader(ctx, _by_key(get_indicators))
        self.payees: DataLoader[str, PayeeRow | None] = _loader(ctx, _by_key(payees_by_id))
        self.agencies: DataLoader[tuple[str, str], AgencyRow | None] = _loader(ctx, _by_key(agencies_by_key))
        self.regions: DataLoader[str, RegionRow | None] = _loader(ctx, _by_key(regions_by_code))
        self.children: DataLoader[str, list[RegionRow]] = _loader(ctx, _by_key(children_of))
        self.traces: DataLoader[str, Trace | None] = _loader(
            ctx, _one_by_one(lambda session, scope, key: trace(session, scope, key, cursor=None, limit=1))
        )
        self.payee_details: DataLoader[str, PayeeDetail | None] = _loader(ctx, _one_by_one(get_payee))
        self.payment_rows: DataLoader[str, PaymentRow | None] = _loader(ctx, _payments_by_id)
        self.warnings: DataLoader[int, WarningDetail | None] = _loader(ctx, _by_key(warnings_by_id))
