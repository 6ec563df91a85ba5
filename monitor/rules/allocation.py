"""资金分配 (fund allocation): money left idle where it was received, and indicators changed too much.

An indicator's current amount is its ``amount`` plus its live adjustments (``bgt_adj.add_amount``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, case, exists, func, or_, select, union, union_all
from sqlalchemy.orm import aliased

from connectors.ingest.convert import parse_amount
from monitor import thresholds as th
from monitor.rule import Ctx, Level, ObjectType, Param, Rule
from monitor.rules._common import int_null, live, permille_text, text_null, text_value, touched_indicators
from monitor.sql import date_literal, days_between
from schema.models import BgtAdj, BgtInfo, PayVoucher

FIRST_FISCAL_YEAR = 1949  # the earliest fiscal year the feed accepts


def adjustments(name: str) -> Any:
    """Per indicator: the sum, number and last date of its live adjustments (指标调整)."""
    a = BgtAdj
    return (
        select(
            a.bgt_id.label("bgt_id"),
            func.sum(a.add_amount_fen).label("total"),
            func.count().label("n"),
            func.max(a.adj_date).label("last_on"),
        )
        .where(live(a))
        .group_by(a.bgt_id)
        .subquery(name)
    )


def year_end_case(ctx: Ctx, year_column: Any) -> Any:
    """``ctx.year_end`` of a fiscal-year column, as a SQL CASE of date literals (newest years first, where
    most rows stop)."""
    latest = ctx.as_of.year
    whens = [
        (year_column == y, date_literal(ctx.year_end(y)))
        for y in range(latest - 1, FIRST_FISCAL_YEAR - 1, -1)
    ]
    return case((year_column >= latest, date_literal(ctx.as_of)), *whens, else_=None)


def _idle_looked_at(ctx: Ctx) -> Select[Any]:
    """The indicators an incremental evaluation of idle funds looks at again: indicators with new data
    (their record, an adjustment, a payment, a plan line), and transfers whose continuations changed."""
    b, a = BgtInfo, BgtAdj
    changed = touched_indicators(ctx).subquery("changed")
    return union(
        select(changed.c.bgt_id),
        select(b.sup_bgt_id).where(b.sup_bgt_id.is_not(None), b.bgt_id.in_(select(changed.c.bgt_id))),
        select(a.bgt_id).where(ctx.new(a)),
    )  # type: ignore[return-value]


def _idle_funds(ctx: Ctx) -> Select[Any]:
    # depends on the evaluation date: in full when it moved, else only over indicators whose data did
    idle_days, pct = int(ctx["idle_days"]), int(ctx["undistributed_pct"])

    # transfers: still largely not passed on or assigned, long after their receipt
    t = aliased(BgtInfo, name="transfer")
    k = aliased(BgtInfo, name="continuation")
    t_adj, k_adj = adjustments("transfer_adj"), adjustments("continuation_adj")
    kids = (
        select(
            k.sup_bgt_id.label("bgt_id"),
            func.min(k.rec_date).label("received"),
            func.sum(k.amount_fen + func.coalesce(k_adj.c.total, 0)).label("passed"),
        )
        .outerjoin(k_adj, k_adj.c.bgt_id == k.bgt_id)
        .where(live(k), k.sup_bgt_id.is_not(None))
        .group_by(k.sup_bgt_id)
        .subquery("kids")
    )
    current = t.amount_fen + func.coalesce(t_adj.c.total, 0)
    undistributed = current - func.coalesce(kids.c.passed, 0)
    received = func.coalesce(kids.c.received, t.doc_date)
    end = year_end_case(ctx, t.fiscal_year)
    idle = days_between(received, end)
    transfers = (
        select(
            t.bgt_id.label("object_id"),
            t.rec_div_code.label("mof_div_code"),
            t.fiscal_year.label("fiscal_year"),
            undistributed.label("amount_fen"),
            received.label("occurred_on"),
            text_null("agency_code"),
            text_null("payee_key"),
            text_value("transfer", "ev_kind"),
            current.label("ev_current_fen"),
            undistributed.label("ev_undistributed_fen"),
            received.label("ev_since"),
            end.label("ev_year_end"),
            idle.label("ev_idle_days"),
        )
        .select_from(t)
        .outerjoin(t_adj, t_adj.c.bgt_id == t.bgt_id)
        .outerjoin(kids, kids.c.bgt_id == t.bgt_id)
        .where(
            live(t),
            t.rec_div_code.is_not(None),
            idle > idle_days,
            undistributed * 100 > pct * current,
            ctx.in_regions(t.rec_div_code),
        )
    )
    if ctx.incremental:
        transfers = transfers.where(t.bgt_id.in_(_idle_looked_at(ctx)))

    # a unit's indicator with no payment at all, long after its document
    i = aliased(BgtInfo, name="unit_indicator")
    i_adj = adjustments("unit_adj")
    v = PayVoucher
    unit_end = year_end_case(ctx, i.fiscal_year)
    unit_idle = days_between(i.doc_date, unit_end)
    units = (
        select(
            i.bgt_id.label("object_id"),
            i.mof_div_code.label("mof_div_code"),
            i.fiscal_year.label("fiscal_year"),
            (i.amount_fen + func.coalesce(i_adj.c.total, 0)).label("amount_fen"),
            i.doc_date.label("occurred_on"),
            i.agency_code.label("agency_code"),
            text_null("payee_key"),
            text_value("unit", "ev_kind"),
            (i.amount_fen + func.coalesce(i_adj.c.total, 0)).label("ev_current_fen"),
            int_null("ev_undistributed_fen"),
            i.doc_date.label("ev_since"),
            unit_end.label("ev_year_end"),
            unit_idle.label("ev_idle_days"),
        )
        .select_from(i)
        .outerjoin(i_adj, i_adj.c.bgt_id == i.bgt_id)
        .where(
            live(i),
            i.rec_div_code.is_(None),
            i.agency_code.is_not(None),
            ~exists().where(v.bgt_id == i.bgt_id, live(v)),
            unit_idle > idle_days,
            ctx.in_regions(i.mof_div_code),
        )
    )
    if ctx.incremental:
        units = units.where(i.bgt_id.in_(_idle_looked_at(ctx)))
    return union_all(transfers, units)  # type: ignore[return-value]


def _explain_idle(ev: dict[str, Any], params: Any) -> dict[str, Any]:
    if ev["kind"] == "transfer":
        share = permille_text(parse_amount(ev["undistributed"]), parse_amount(ev["current"]))
        detail = (
            f"{ev['undistributed']} of the transfer's {ev['current']} yuan ({share}) not passed on or "
            f"assigned {ev['idle_days']} days after its receipt on {ev['since']}"
        )
    else:
        detail = (
            f"no payment against the unit's indicator {ev['idle_days']} days after its document of "
            f"{ev['since']}"
        )
    return {"detail": detail}


IDLE_FUNDS = Rule(
    code="ALC-01",
    key="idle_funds",
    group="资金分配",
    name="资金滞留",
    title="Idle funds",
    level=Level.orange,
    object_type=ObjectType.indicator,
    fires_when="more than {idle_days} days after a transfer's receipt (the first rec_date of its "
    "continuations) more than {undistributed_pct}% of its current amount is still not passed on or "
    "assigned; or a unit's indicator has no payment at all more than {idle_days} days after its document "
    "date (counted to 31 December, or to the evaluation date in the running year)",
    basis="《国务院办公厅关于进一步做好盘活财政存量资金工作的通知》(国办发〔2014〕70号)、"
    "《预算法》第五十二条: 转移支付应当及时分解下达，预算资金应当及时支出，防止资金沉淀",
    message="{detail}",
    query=_idle_funds,
    inputs=("ba_bgt_info", "bgt_adj", "pay_voucher"),
    params=(
        Param("idle_days", th.IDLE_DAYS, "calendar days after receipt (transfer) or document (unit)"),
        Param("undistributed_pct", th.IDLE_UNDISTRIBUTED_PCT, "percent of a transfer still undistributed"),
    ),
    time_dependent=True,
    explain=_explain_idle,
    touched=lambda ctx: select(_idle_looked_at(ctx).subquery().c[0].label("object_id")),
)


def _budget_change(ctx: Ctx) -> Select[Any]:
    i = BgtInfo
    adj = adjustments("adj")
    query = (
        select(
            i.bgt_id.label("object_id"),
            i.mof_div_code.label("mof_div_code"),
            i.fiscal_year.label("fiscal_year"),
            adj.c.total.label("amount_fen"),
            adj.c.last_on.label("occurred_on"),
            i.agency_code.label("agency_code"),
            text_null("payee_key"),
            i.amount_fen.label("ev_original_fen"),
            adj.c.total.label("ev_adjusted_fen"),
            (i.amount_fen + adj.c.total).label("ev_current_fen"),
            adj.c.n.label("ev_adjustments"),
        )
        .join(adj, adj.c.bgt_id == i.bgt_id)
        .where(
            live(i),
            adj.c.total != 0,
            func.abs(adj.c.total) * 100 > int(ctx["change_pct"]) * i.amount_fen,
            ctx.in_regions(i.mof_div_code),
        )
    )
    if ctx.incremental:  # an indicator written since, or one with an adjustment written since
        query = query.where(or_(ctx.new(i), i.bgt_id.in_(select(BgtAdj.bgt_id).where(ctx.new(BgtAdj)))))
    return query


def _explain_change(ev: dict[str, Any], params: Any) -> dict[str, Any]:
    adjusted = parse_amount(ev["adjusted"])
    return {"change": permille_text(abs(adjusted), parse_amount(ev["original"]))}


BUDGET_CHANGE = Rule(
    code="ALC-02",
    key="budget_change",
    group="资金分配",
    name="指标调整幅度过大",
    title="Indicator adjusted too much",
    level=Level.yellow,
    object_type=ObjectType.indicator,
    fires_when="an indicator's adjustments add up to more than {change_pct}% of its original amount, in "
    "either direction",
    basis="《预算法》第十三条、第六十七条: 经人民代表大会批准的预算，非经法定程序，不得调整",
    message="adjusted by {adjusted} yuan in {adjustments} adjustment(s), {change} of the original "
    "{original} yuan (now {current} yuan)",
    query=_budget_change,
    inputs=("ba_bgt_info", "bgt_adj"),
    params=(Param("change_pct", th.BUDGET_CHANGE_PCT, "percent of the original amount"),),
    explain=_explain_change,
)

RULES: tuple[Rule, ...] = (IDLE_FUNDS, BUDGET_CHANGE)
