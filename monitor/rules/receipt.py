"""指标接收 (indicator receipt): how fast a region registers and passes on an upper transfer (上级转移支付).

A transfer is an indicator passed down to a region (``rec_div_code`` set); its continuations are the
receiving region's indicators that name it as ``sup_bgt_id``. The warning goes to the receiving region,
which must act. Lags are counted in working days on the Chinese calendar (``monitor.sql.workday_lag``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, case, func, literal, or_, select
from sqlalchemy.orm import aliased

from monitor import thresholds as th
from monitor.rule import Ctx, Level, ObjectType, Param, Rule
from monitor.rules._common import live, text_null, text_value
from monitor.sql import calendar_day, ids_agg, workday_lag
from schema.models import BgtInfo


def _late_continuations(
    ctx: Ctx, kid_date: Callable[[Any], Any], deadline: Callable[[Any], Any]
) -> Select[Any]:
    """Transfers with a continuation whose ``kid_date`` falls more than ``deadline(transfer)`` working days
    after the transfer's ``doc_date``; one row per transfer, the late continuations as ``related``."""
    t = aliased(BgtInfo, name="transfer")
    k = aliased(BgtInfo, name="continuation")
    sent, got = calendar_day("sent"), calendar_day("got")
    lag = workday_lag(sent, got)
    limit = deadline(t)
    query = (
        select(
            t.bgt_id.label("object_id"),
            t.rec_div_code.label("mof_div_code"),
            t.fiscal_year.label("fiscal_year"),
            t.amount_fen.label("amount_fen"),
            func.max(kid_date(k)).label("occurred_on"),
            text_null("agency_code"),
            text_null("payee_key"),
            ids_agg(k.bgt_id).label("related"),
            text_value("indicator", "related_type"),
            t.doc_date.label("ev_doc_date"),
            func.min(kid_date(k)).label("ev_first_late"),
            func.max(lag).label("ev_lag_working_days"),
            func.count().label("ev_late_continuations"),
            limit.label("ev_deadline_working_days"),
        )
        .join_from(t, k, k.sup_bgt_id == t.bgt_id)
        .join(sent, sent.day == t.doc_date)
        .join(got, got.day == kid_date(k))
        .where(
            live(t),
            live(k),
            t.rec_div_code.is_not(None),
            lag > limit,
            ctx.in_regions(t.rec_div_code),
        )
        .group_by(t.bgt_id)
    )
    if ctx.incremental:  # a transfer written since, or one with a continuation written since
        touched = aliased(BgtInfo, name="touched")
        query = query.where(
            or_(
                ctx.new(t),
                t.bgt_id.in_(select(touched.sup_bgt_id).where(ctx.new(touched))),
            )
        )
    return query


def _late_receipt(ctx: Ctx) -> Select[Any]:
    return _late_continuations(ctx, lambda k: k.rec_date, lambda t: literal(int(ctx["working_days"])))


LATE_RECEIPT = Rule(
    code="RCV-01",
    key="late_receipt",
    group="指标接收",
    name="上级转移支付接收不及时",
    title="Upper transfer received late",
    level=Level.yellow,
    object_type=ObjectType.indicator,
    fires_when="the receiving region registers a continuation of an upper transfer (its rec_date) more than "
    "{working_days} working days after the transfer's document date",
    basis="《预算法》第五十二条、《预算法实施条例》: 上级转移支付应当及时下达，下级政府应当及时接收"
    "并列入本级预算; 《预算管理一体化规范（试行）》: 转移支付指标应当及时登记接收",
    message="the transfer of {doc_date} was registered {lag_working_days} working days later "
    "({late_continuations} continuation(s) late, limit {deadline_working_days}): {amount} yuan",
    query=_late_receipt,
    inputs=("ba_bgt_info",),
    params=(
        Param(
            "working_days",
            th.LATE_RECEIPT_WORKING_DAYS,
            "working days from the transfer's document date to its receipt (rec_date)",
        ),
    ),
)


def _late_pass_on(ctx: Ctx) -> Select[Any]:
    def deadline(t: Any) -> Any:
        # a transfer carrying a special fund (专项, spe_fund_code) has the longer deadline
        return case(
            (t.spe_fund_code.is_not(None), int(ctx["special_working_days"])),
            else_=int(ctx["general_working_days"]),
        )

    return _late_continuations(ctx, lambda k: k.doc_date, deadline)


LATE_PASS_ON = Rule(
    code="RCV-02",
    key="late_pass_on",
    group="指标接收",
    name="转移支付分解下达不及时",
    title="Transfer passed on late",
    level=Level.orange,
    object_type=ObjectType.indicator,
    fires_when="a continuation of an upper transfer is documented (its doc_date) more than "
    "{general_working_days} working days (a special transfer, with spe_fund_code: "
    "{special_working_days}) after the transfer's document date",
    basis="《预算法》第五十二条: 县级以上地方各级预算安排对下级政府的一般性转移支付和专项转移支付，"
    "应当分别在三十日和六十日内正式下达; 接到上级转移支付后应当及时下达",
    message="the transfer of {doc_date} was passed on {lag_working_days} working days later "
    "({late_continuations} continuation(s) late, limit {deadline_working_days}): {amount} yuan",
    query=_late_pass_on,
    inputs=("ba_bgt_info",),
    params=(
        Param(
            "general_working_days",
            th.PASS_ON_DEADLINE_GENERAL_WORKING_DAYS,
            "working days to pass a general transfer on",
        ),
        Param(
            "special_working_days",
            th.PASS_ON_DEADLINE_SPECIAL_WORKING_DAYS,
            "working days to pass a special transfer (spe_fund_code) on",
        ),
    ),
)

RULES: tuple[Rule, ...] = (LATE_RECEIPT, LATE_PASS_ON)
