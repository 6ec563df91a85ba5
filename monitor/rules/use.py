"""资金使用 (fund use): rules over single payments, groups of payments of one unit, and indicators paid beyond
their amount or monthly plan."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    Date,
    Select,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import aliased

from connectors.ingest.convert import parse_amount
from monitor import thresholds as th
from monitor.rule import Ctx, Level, ObjectType, Param, Rule
from monitor.rules._common import (
    live,
    payment_columns,
    permille_text,
    text_null,
    text_value,
    touched_indicators,
)
from monitor.sql import calendar_day, days_between, ids_agg, month_of, same_text, unindexed, year_month
from schema.derived import PAYMENT
from schema.models import BgtAdj, BgtInfo, FactCell, PayPlan, PayVoucher

CASH = "2"  # set_mode_code 现金


def _large_cash(ctx: Ctx) -> Select[Any]:
    v = PayVoucher
    single = select(
        text_value("payment", "object_type"),
        *payment_columns(),
        literal("", type_=v.agency_code.type).label("facet"),
        text_null("related"),
        text_null("related_type"),
        text_value("single", "ev_kind"),
        literal(1).label("ev_payments"),
    ).where(
        live(v),
        v.set_mode_code == CASH,
        v.pay_amt_fen > ctx.yuan("single_limit_yuan"),
        ctx.in_regions(v.mof_div_code),
        ctx.new(v),
    )
    month = year_month(v.vou_date)
    unit = unindexed(v.mof_div_code) if not ctx.incremental else v.mof_div_code  # see monitor.sql
    group = (unit, v.agency_code, month)
    touched = select(*group).where(v.set_mode_code == CASH, ctx.new(v))
    monthly = (
        select(
            text_value("agency", "object_type"),
            v.agency_code.label("object_id"),
            v.mof_div_code.label("mof_div_code"),
            func.min(v.fiscal_year).label("fiscal_year"),
            func.sum(v.pay_amt_fen).label("amount_fen"),
            func.max(v.vou_date).label("occurred_on"),
            v.agency_code.label("agency_code"),
            text_null("payee_key"),
            month.label("facet"),
            ids_agg(v.pay_cert_id).label("related"),
            text_value("payment", "related_type"),
            text_value("monthly", "ev_kind"),
            func.count().label("ev_payments"),
        )
        .where(live(v), v.set_mode_code == CASH, ctx.in_regions(v.mof_div_code))
        .where(tuple_(*group).in_(touched) if ctx.incremental else literal(True))
        .group_by(*group)
        # one payment above the monthly limit is the single-payment finding already
        .having(func.count() >= 2, func.sum(v.pay_amt_fen) > ctx.yuan("monthly_limit_yuan"))
    )
    return union_all(single, monthly)  # type: ignore[return-value]


def _explain_cash(ev: dict[str, Any], params: Any) -> dict[str, Any]:
    if ev["kind"] == "single":
        return {"detail": f"one cash payment above {params['single_limit_yuan']} yuan"}
    return {
        "detail": f"{ev['payments']} cash payments in one month together above the monthly limit of "
        f"{params['monthly_limit_yuan']} yuan"
    }


LARGE_CASH = Rule(
    code="USE-01",
    key="large_cash",
    group="资金使用",
    name="大额提取现金",
    title="Large cash withdrawal",
    level=Level.orange,
    object_type=ObjectType.payment,
    fires_when="a cash payment (结算方式 现金) above {single_limit_yuan} yuan, or a unit's cash payments of "
    "one calendar month adding up to more than {monthly_limit_yuan} yuan",
    basis="《现金管理暂行条例》第五条、《中央预算单位银行账户和现金管理办法》: 预算单位应当减少现金支付，"
    "大额现金支付须经审批",
    message="{detail}: {amount} yuan",
    query=_large_cash,
    inputs=("pay_voucher",),
    params=(
        Param("single_limit_yuan", th.LARGE_CASH_YUAN, "one cash payment above this (yuan)"),
        Param("monthly_limit_yuan", th.CASH_MONTHLY_LIMIT_YUAN, "a unit's cash in one month above this"),
    ),
    explain=_explain_cash,
)


OFFICIAL_CARD = "3"  # set_mode_code 公务卡
UNIT_PAYEE_TYPES = ("1", "2")  # payee_type 其他预算单位, 下级单位


def mentions(ctx: Ctx, column: Any, keyword: str) -> Any:
    """``column`` contains ``keyword`` as a literal substring, case-sensitively on both engines."""
    found = column.contains(keyword, autoescape=True)
    if ctx.dialect == "sqlite" and any(c.isascii() and c.isalpha() for c in keyword):
        found = and_(found, func.instr(column, keyword) > 0)  # SQLite's LIKE ignores ASCII case
    return found


def mentions_any(ctx: Ctx, column: Any, keywords: Any) -> Any:
    return or_(false(), *(mentions(ctx, column, k) for k in keywords))


def first_keyword(text: str, keywords: Any) -> str:
    return next((k for k in keywords if k in text), "")


def _single(ctx: Ctx, *conditions: Any, evidence: tuple[Any, ...] = ()) -> Select[Any]:
    """A rule about one payment at a time: the live, new payments in the regions that meet ``conditions``."""
    v = PayVoucher
    return select(*payment_columns(), *evidence).where(
        live(v), *conditions, ctx.in_regions(v.mof_div_code), ctx.new(v)
    )


# --- USE-02 同名账户划转 ------------------------------------------------------------------------------
def _same_name_transfer(ctx: Ctx) -> Select[Any]:
    v = PayVoucher
    return _single(
        ctx,
        v.pay_acct_name == v.payee_acct_name,
        evidence=(
            v.payee_acct_name.label("ev_account_name"),
            v.pay_acct_no.label("ev_pay_acct_no"),
            v.payee_acct_no.label("ev_payee_acct_no"),
        ),
    )


SAME_NAME_TRANSFER = Rule(
    code="USE-02",
    key="same_name_transfer",
    group="资金使用",
    name="同名账户划转",
    title="Transfer between accounts of the same name",
    level=Level.orange,
    object_type=ObjectType.payment,
    fires_when="a payment whose payer account name (付款人全称) equals its payee account name",
    basis="《中央单位财政国库管理制度改革试点资金支付管理办法》(财库〔2002〕28号): 预算单位零余额账户除按规定"
    "划拨工会经费、住房公积金及提租补贴等外，不得违规向本单位其他账户划拨资金",
    message="{amount} yuan moved from {account_name} ({pay_acct_no}) to an account of the same name "
    "({payee_acct_no})",
    query=_same_name_transfer,
    inputs=("pay_voucher",),
)


# --- USE-03 以拨代支 ----------------------------------------------------------------------------------
def _unit_to_unit(ctx: Ctx) -> Select[Any]:
    v = PayVoucher
    return _single(
        ctx,
        v.payee_type.in_(ctx["payee_types"]),
        evidence=(v.payee_type.label("ev_payee_type"), v.payee_acct_name.label("ev_payee")),
    )


UNIT_TO_UNIT = Rule(
    code="USE-03",
    key="unit_to_unit",
    group="资金使用",
    name="以拨代支",
    title="Transfer to another budget unit instead of spending",
    level=Level.yellow,
    object_type=ObjectType.payment,
    fires_when="a payment whose payee is a budget unit (payee_type in {payee_types}: 其他预算单位, 下级单位)",
    basis="《中央单位财政国库管理制度改革试点资金支付管理办法》(财库〔2002〕28号): 预算单位不得违规向上级"
    "主管单位、所属下级单位账户划拨资金;《预算法》第十三条: 支出必须以经批准的预算为依据",
    message="{amount} yuan passed to budget unit {payee} (payee type {payee_type}) instead of being spent",
    query=_unit_to_unit,
    inputs=("pay_voucher",),
    params=(Param("payee_types", UNIT_PAYEE_TYPES, "payee_type codes of budget units"),),
)


# --- USE-04 / USE-05: indicators paid beyond their amount or plan -----------------------------------
def _of_touched(ctx: Ctx, column: Any) -> Any:
    """In an incremental run, ``column`` names an indicator with new data (looked up once per query, as a
    common table expression shared by every subquery that asks)."""
    if not ctx.incremental:
        return literal(True)
    touched = ctx.extra.get("touched_indicators")
    if touched is None:
        touched = ctx.extra["touched_indicators"] = touched_indicators(ctx).cte("touched_indicators")
    return column.in_(select(touched.c.bgt_id))


def _over_budget(ctx: Ctx) -> Select[Any]:
    c, a, b = FactCell, BgtAdj, BgtInfo
    # what each indicator paid, from the fact cells (live payments grouped by indicator, month and
    # classification; kept up to date by every load): a tenth of the rows of pay_voucher
    paid = (
        select(
            c.bgt_id.label("bgt_id"),
            func.sum(c.paid_fen).label("paid"),
            func.sum(c.records).label("payments"),
            func.max(c.last_paid_on).label("last_day"),
        )
        .where(c.record_kind == PAYMENT, c.bgt_id.is_not(None), _of_touched(ctx, c.bgt_id))
        .group_by(c.bgt_id)
        .subquery("paid")
    )
    adjusted = (
        select(a.bgt_id.label("bgt_id"), func.sum(a.add_amount_fen).label("adjusted"))
        .where(live(a), _of_touched(ctx, a.bgt_id))
        .group_by(a.bgt_id)
        .subquery("adjusted")
    )
    current = b.amount_fen + func.coalesce(adjusted.c.adjusted, 0)
    return (
        select(
            b.bgt_id.label("object_id"),
            b.mof_div_code.label("mof_div_code"),
            b.fiscal_year.label("fiscal_year"),
            (paid.c.paid - current).label("amount_fen"),
            paid.c.last_day.label("occurred_on"),
            b.agency_code.label("agency_code"),
            text_null("payee_key"),
            paid.c.paid.label("ev_paid_fen"),
            current.label("ev_current_fen"),
            b.amount_fen.label("ev_budget_fen"),
            func.coalesce(adjusted.c.adjusted, 0).label("ev_adjusted_fen"),
            paid.c.payments.label("ev_payments"),
        )
        .join(paid, paid.c.bgt_id == b.bgt_id)
        .outerjoin(adjusted, adjusted.c.bgt_id == b.bgt_id)
        .where(live(b), ctx.in_regions(b.mof_div_code), paid.c.paid > current)
    )


def _explain_over_budget(ev: dict[str, Any], params: Any) -> dict[str, Any]:
    paid, current = parse_amount(ev["paid"]), parse_amount(ev["current"])
    return {"paid_share": permille_text(paid, current)}


OVER_BUDGET = Rule(
    code="USE-04",
    key="over_budget",
    group="资金使用",
    name="超指标支付",
    title="Payments beyond the indicator",
    level=Level.red,
    object_type=ObjectType.indicator,
    fires_when="the live payments of an indicator add up to more than its current amount (amount plus "
    "its adjustments)",
    basis="《预算法》第十三条: 各级政府、各部门、各单位的支出必须以经批准的预算为依据，未列入预算的不得支出;"
    "《预算法实施条例》: 预算单位应当按照批复的预算指标办理支付",
    message="{paid} yuan paid against a current amount of {current} yuan ({paid_share}, {payments} "
    "payment(s)): {amount} yuan beyond the indicator",
    query=_over_budget,
    inputs=("pay_voucher", "ba_bgt_info", "bgt_adj"),
    explain=_explain_over_budget,
)


def _two_digits(number: Any) -> Any:
    text = cast(number, String)
    return case((number < 10, "0" + text), else_=text)


def _over_plan(ctx: Ctx) -> Select[Any]:
    c, p, b = FactCell, PayPlan, BgtInfo
    paid = (  # per indicator and month of vou_date, from the fact cells (see _over_budget)
        select(
            c.bgt_id.label("bgt_id"),
            c.month.label("month"),
            func.sum(c.paid_fen).label("paid"),
            func.sum(c.records).label("payments"),
            func.max(c.last_paid_on).label("last_day"),
        )
        .where(c.record_kind == PAYMENT, c.bgt_id.is_not(None), _of_touched(ctx, c.bgt_id))
        .group_by(c.bgt_id, c.month)
        .subquery("paid")
    )
    planned = (
        select(
            p.bgt_id.label("bgt_id"), p.plan_month.label("month"), func.sum(p.plan_amt_fen).label("planned")
        )
        .where(live(p), _of_touched(ctx, p.bgt_id))
        .group_by(p.bgt_id, p.plan_month)
        .subquery("planned")
    )
    plan = func.coalesce(planned.c.planned, 0)  # no plan for the month: nothing may be paid
    over = (
        select(
            b.bgt_id,
            b.mof_div_code,
            b.fiscal_year,
            b.agency_code,
            paid.c.month,
            paid.c.paid,
            paid.c.payments,
            paid.c.last_day,
            plan.label("planned"),
        )
        .join(paid, paid.c.bgt_id == b.bgt_id)
        .outerjoin(planned, and_(planned.c.bgt_id == paid.c.bgt_id, planned.c.month == paid.c.month))
        .where(live(b), ctx.in_regions(b.mof_div_code), paid.c.paid > plan)
        .subquery("over")
    )
    # the plan lines of the months found, looked up for these few only
    o, line = over.c, aliased(PayPlan, name="line")
    month_text = cast(o.fiscal_year, String) + "-" + _two_digits(o.month)  # the facet, 2025-03
    columns: list[Any] = [
        o.bgt_id.label("object_id"),
        o.mof_div_code.label("mof_div_code"),
        o.fiscal_year.label("fiscal_year"),
        (o.paid - o.planned).label("amount_fen"),
        o.last_day.label("occurred_on"),
        o.agency_code.label("agency_code"),
        text_null("payee_key"),
        month_text.label("facet"),
        ids_agg(line.plan_id).label("related"),
        text_value("plan", "related_type"),
        o.paid.label("ev_paid_fen"),
        o.planned.label("ev_planned_fen"),
        o.payments.label("ev_payments"),
        month_text.label("ev_month"),
    ]
    return (
        select(*columns)
        .outerjoin(line, and_(line.bgt_id == o.bgt_id, line.plan_month == o.month, live(line)))
        .group_by(*over.c)
    )


OVER_PLAN = Rule(
    code="USE-05",
    key="over_plan",
    group="资金使用",
    name="超用款计划支付",
    title="Payments beyond the monthly plan",
    level=Level.yellow,
    object_type=ObjectType.indicator,
    fires_when="the live payments of an indicator dated in one month add up to more than its payment plan "
    "(用款计划) lines for that month; a month without a plan line has a plan of 0",
    basis="《财政国库管理制度改革试点方案》(财库〔2001〕24号)、《中央单位财政国库管理制度改革试点资金支付"
    "管理办法》: 预算单位根据批复的分月用款计划办理支付，不得超计划支付",
    message="{paid} yuan paid in {month} against a plan of {planned} yuan ({payments} payment(s)): "
    "{amount} yuan beyond the plan",
    query=_over_plan,
    inputs=("pay_voucher", "ba_bgt_info", "pay_plan"),
)


# --- USE-06 无指标支付 -------------------------------------------------------------------------------
def _no_indicator(ctx: Ctx) -> Select[Any]:
    v = PayVoucher
    return _single(ctx, v.bgt_id.is_(None), evidence=(v.use_des.label("ev_purpose"),))


NO_INDICATOR = Rule(
    code="USE-06",
    key="no_indicator",
    group="资金使用",
    name="无指标支付",
    title="Payment without an indicator",
    level=Level.red,
    object_type=ObjectType.payment,
    fires_when="a payment that names no budget indicator (bgt_id empty)",
    basis="《预算法》第十三条: 未列入预算的不得支出;《财政国库管理制度改革试点方案》: 国库集中支付以预算"
    "指标为控制依据，无预算指标不得支付",
    message="{amount} yuan paid for '{purpose}' without a budget indicator",
    query=_no_indicator,
    inputs=("pay_voucher",),
)


# --- USE-07 应使用公务卡未使用 -----------------------------------------------------------------------
def _official_card_not_used(ctx: Ctx) -> Select[Any]:
    v = PayVoucher
    return _single(
        ctx,
        v.dep_bgt_eco_code.in_(ctx["eco_codes"]),
        func.coalesce(v.set_mode_code, "") != OFFICIAL_CARD,
        evidence=(v.dep_bgt_eco_code.label("ev_eco_code"), v.set_mode_code.label("ev_set_mode_code")),
    )


OFFICIAL_CARD_NOT_USED = Rule(
    code="USE-07",
    key="official_card_not_used",
    group="资金使用",
    name="应使用公务卡未使用",
    title="Official card not used",
    level=Level.yellow,
    object_type=ObjectType.payment,
    fires_when="a payment under a departmental economic code of the compulsory official-card list "
    "({eco_codes}) settled other than by official card (set_mode_code 3)",
    basis="《中央预算单位公务卡强制结算目录》(财库〔2011〕160号): 差旅费、公务接待费、公务用车运行维护费等"
    "支出原则上应当使用公务卡结算",
    message="{amount} yuan under {eco_code} settled by mode {set_mode_code}, not by official card",
    query=_official_card_not_used,
    inputs=("pay_voucher",),
    params=(Param("eco_codes", th.OFFICIAL_CARD_ECO_CODES, "economic codes to settle by official card"),),
)


# --- USE-08 三公经费、会议费、培训费超标 ---------------------------------------------------------------
SANGONG_NAMES = {
    "30212": "因公出国（境）费用",
    "30215": "会议费",
    "30216": "培训费",
    "30217": "公务接待费",
    "30231": "公务用车运行维护费",
    "31013": "公务用车购置",
}


def sangong_param(code: str) -> str:
    return f"limit_{code}_yuan"


def _sangong_overspend(ctx: Ctx) -> Select[Any]:
    v = PayVoucher
    codes = tuple(th.SANGONG_LIMITS_YUAN)
    limit = case(*((v.dep_bgt_eco_code == c, ctx.yuan(sangong_param(c))) for c in codes))
    over = v.pay_amt_fen > limit
    prepaid = and_(
        month_of(v.vou_date).in_(th.SANGONG_Q4_MONTHS),
        mentions_any(ctx, v.use_des, ctx["prepay_keywords"]),
    )
    return _single(
        ctx,
        v.dep_bgt_eco_code.in_(codes),
        or_(over, prepaid),
        evidence=(
            case((over, "over_limit"), else_="q4_prepayment").label("ev_kind"),
            v.dep_bgt_eco_code.label("ev_eco_code"),
            limit.label("ev_limit_fen"),
            v.use_des.label("ev_purpose"),
        ),
    )


def _explain_sangong(ev: dict[str, Any], params: Any) -> dict[str, Any]:
    what = SANGONG_NAMES.get(ev["eco_code"], ev["eco_code"])
    if ev["kind"] == "over_limit":
        return {"detail": f"{what} ({ev['eco_code']}) above the limit of {ev['limit']} yuan in one payment"}
    keyword = first_keyword(ev["purpose"], params["prepay_keywords"])
    return {"detail": f"{what} ({ev['eco_code']}) paid in advance in the fourth quarter ('{keyword}')"}


SANGONG_OVERSPEND = Rule(
    code="USE-08",
    key="sangong_overspend",
    group="资金使用",
    name="三公经费、会议费、培训费超标",
    title="三公, meeting or training spending beyond its limit",
    level=Level.orange,
    object_type=ObjectType.payment,
    fires_when="a payment under a 三公经费 / 会议费 / 培训费 economic code above that code's limit "
    "(limit_<code>_yuan), or one under these codes dated in October to December whose purpose names a "
    "prepayment ({prepay_keywords})",
    basis="《党政机关厉行节约反对浪费条例》、《中央和国家机关会议费管理办法》(财行〔2016〕214号)、"
    "《中央和国家机关培训费管理办法》(财行〔2016〕540号): 严格控制三公经费，不得超标准开支，"
    "不得以预付方式突击花钱",
    message="{detail}: {amount} yuan for '{purpose}'",
    query=_sangong_overspend,
    inputs=("pay_voucher",),
    params=(
        *(
            Param(
                sangong_param(code),
                limit,
                f"one payment under {code} {SANGONG_NAMES.get(code, '')} above this (yuan)",
            )
            for code, limit in th.SANGONG_LIMITS_YUAN.items()
        ),
        Param("prepay_keywords", th.SANGONG_PREPAY_KEYWORDS, "words of a prepayment in a Q4 purpose"),
    ),
    explain=_explain_sangong,
)


# --- USE-09 支付用途可疑 ------------------------------------------------------------------------------
def _suspicious_purpose(ctx: Ctx) -> Select[Any]:
    v = PayVoucher
    return _single(
        ctx,
        mentions_any(ctx, v.use_des, ctx["keywords"]),
        evidence=(v.use_des.label("ev_purpose"), v.payee_acct_name.label("ev_payee")),
    )


def _explain_suspicious(ev: dict[str, Any], params: Any) -> dict[str, Any]:
    return {"keyword": first_keyword(ev["purpose"], params["keywords"])}


SUSPICIOUS_PURPOSE = Rule(
    code="USE-09",
    key="suspicious_purpose",
    group="资金使用",
    name="支付用途可疑",
    title="Suspicious purpose",
    level=Level.orange,
    object_type=ObjectType.payment,
    fires_when="a payment whose purpose (use_des) contains one of {keywords}",
    basis="《党政机关厉行节约反对浪费条例》、中央八项规定精神: 严禁用公款购买、赠送礼品礼金和购物卡，"
    "严禁公款旅游、公款吃喝和公款出入私人会所、高消费娱乐",
    message="{amount} yuan to {payee} for '{purpose}' (names '{keyword}')",
    query=_suspicious_purpose,
    inputs=("pay_voucher",),
    params=(Param("keywords", th.SUSPICIOUS_KEYWORDS, "words of a purpose public money must not serve"),),
    explain=_explain_suspicious,
)


# --- USE-10 拆分支付 ----------------------------------------------------------------------------------
def on_new_accounts(ctx: Ctx) -> tuple[Any, Any]:
    """For an incremental run: the (region, unit, fiscal year, payee account) of every new payment, and the
    join of pay_voucher to them. Joined, not filtered: the index ``ix_pay_voucher_agency`` (region, unit,
    year, account) then reads just those payments, not the whole table; the group condition that follows
    is the exact one. A group that spans two fiscal years (payments of one day, or within the duplicate
    window, booked to different years) is completed by the next full run."""
    v, new = PayVoucher, aliased(PayVoucher, name="new")
    keys = (
        select(new.mof_div_code, new.agency_code, new.fiscal_year, new.payee_acct_no)
        .where(ctx.new(new))
        .distinct()
        .subquery("new_accounts")
    )
    k = keys.c
    on = and_(
        v.mof_div_code == k.mof_div_code,
        v.agency_code == k.agency_code,
        v.fiscal_year == k.fiscal_year,
        same_text(v.payee_acct_no, k.payee_acct_no),
    )
    return keys, on


def _payee_account(v: Any) -> Any:
    # a missing account groups with its peers; the empty text inline, not bound, so that SQLite sees
    # the window of each LEAD below as one and the same (with a parameter each, it sorts twice)
    return func.coalesce(v.payee_acct_no, literal_column("''"))


def _split_payment(ctx: Ctx) -> Select[Any]:
    v = PayVoucher
    limit = ctx.yuan("threshold_yuan")
    unit = unindexed(v.mof_div_code) if not ctx.incremental else v.mof_div_code
    group = (unit, v.agency_code, _payee_account(v), v.vou_date)
    touched = select(*group).where(ctx.new(v))
    # the groups, narrow (a sort's records are what it costs); the first payment's details joined after
    grouped = (
        select(
            func.min(v.pay_cert_id).label("first_id"),
            ids_agg(v.pay_cert_id).label("related"),
            func.count().label("payments"),
            func.sum(v.pay_amt_fen).label("total"),
            func.max(v.pay_amt_fen).label("largest"),
        )
        .where(live(v), ctx.in_regions(v.mof_div_code))
        .where(tuple_(*group).in_(touched) if ctx.incremental else literal(True))
        .group_by(*group)
        .having(func.count() >= 2, func.max(v.pay_amt_fen) < limit, func.sum(v.pay_amt_fen) > limit)
    )
    if ctx.incremental and ctx.dialect == "sqlite":  # PostgreSQL hashes the IN above
        grouped = grouped.join(*on_new_accounts(ctx))
    groups = grouped.subquery("groups")
    g = groups.c
    columns: list[Any] = [
        v.pay_cert_id.label("object_id"),  # the group's first payment, the others related
        v.mof_div_code.label("mof_div_code"),
        v.fiscal_year.label("fiscal_year"),
        g.total.label("amount_fen"),
        v.vou_date.label("occurred_on"),
        v.agency_code.label("agency_code"),
        v.payee_key.label("payee_key"),
        g.related.label("related"),
        g.payments.label("ev_payments"),
        g.largest.label("ev_largest_fen"),
        v.payee_acct_name.label("ev_payee"),
        v.vou_date.label("ev_day"),
    ]
    return select(*columns).join(groups, g.first_id == v.pay_cert_id)


SPLIT_PAYMENT = Rule(
    code="USE-10",
    key="split_payment",
    group="资金使用",
    name="拆分支付",
    title="Split payment",
    level=Level.orange,
    object_type=ObjectType.payment,
    fires_when="a unit pays one payee account two or more times on one day, each payment below "
    "{threshold_yuan} yuan and together above it",
    basis="《政府采购法》第二十八条: 采购人不得将应当以公开招标方式采购的货物或者服务化整为零或者以其他"
    "任何方式规避公开招标采购",
    message="{payments} payments to {payee} on {day}, each below {threshold_yuan} yuan (largest {largest}), "
    "together {amount} yuan",
    query=_split_payment,
    inputs=("pay_voucher",),
    params=(Param("threshold_yuan", th.SPLIT_THRESHOLD_YUAN, "the limit split payments stay below (yuan)"),),
)


# --- USE-11 重复支付 ----------------------------------------------------------------------------------
def _duplicate_payment(ctx: Ctx) -> Select[Any]:
    v = PayVoucher
    unit = unindexed(v.mof_div_code) if not ctx.incremental else v.mof_div_code
    group = (unit, v.agency_code, _payee_account(v), v.pay_amt_fen, v.use_des)
    touched = select(*group).where(ctx.new(v))
    order = (v.vou_date, v.pay_cert_id)
    # each payment with the next of its group (narrow: the sort's records are what it costs)
    windowed = (
        select(
            v.pay_cert_id.label("first_id"),
            v.vou_date.label("first_day"),
            func.lead(v.pay_cert_id).over(partition_by=group, order_by=order).label("next_id"),
            func.lead(v.vou_date, type_=Date).over(partition_by=group, order_by=order).label("next_day"),
        )
        .where(live(v), ctx.in_regions(v.mof_div_code))
        .where(tuple_(*group).in_(touched) if ctx.incremental else literal(True))
    )
    if ctx.incremental and ctx.dialect == "sqlite":  # PostgreSQL hashes the IN above
        windowed = windowed.join(*on_new_accounts(ctx))
    following = windowed.subquery("following")
    f = following.c
    gap = days_between(f.first_day, f.next_day)
    pairs = (
        select(f.first_id, f.first_day, f.next_id, f.next_day, gap.label("days"))
        .where(f.next_id.is_not(None), gap <= ctx["window_days"])
        .subquery("pairs")
    )
    p = pairs.c
    columns: list[Any] = [
        v.pay_cert_id.label("object_id"),
        v.mof_div_code.label("mof_div_code"),
        v.fiscal_year.label("fiscal_year"),
        v.pay_amt_fen.label("amount_fen"),
        p.next_day.label("occurred_on"),  # the day it was paid again
        v.agency_code.label("agency_code"),
        v.payee_key.label("payee_key"),
        p.next_id.label("related"),
        v.payee_acct_name.label("ev_payee"),
        v.use_des.label("ev_purpose"),
        p.first_day.label("ev_first_day"),
        p.next_day.label("ev_second_day"),
        p.next_id.label("ev_second_payment"),
        p.days.label("ev_days"),
    ]
    return select(*columns).join(pairs, p.first_id == v.pay_cert_id)


DUPLICATE_PAYMENT = Rule(
    code="USE-11",
    key="duplicate_payment",
    group="资金使用",
    name="重复支付",
    title="Duplicate payment",
    level=Level.red,
    object_type=ObjectType.payment,
    fires_when="a unit pays one payee account the same amount with the same purpose again within "
    "{window_days} calendar days of the previous such payment (each pair: the earlier payment, the later "
    "one related)",
    basis="《会计基础工作规范》: 原始凭证经审核后方可办理支付，已经支付的凭证应当加盖'付讫'戳记，防止"
    "重复报销和支付;《财政国库管理制度改革试点方案》: 财政性资金支付须有真实的经济业务",
    message="{amount} yuan to {payee} for '{purpose}' on {first_day} and again on {second_day} "
    "({second_payment}), {days} days apart",
    query=_duplicate_payment,
    inputs=("pay_voucher",),
    params=(Param("window_days", th.DUPLICATE_WINDOW_DAYS, "calendar days within which a repeat counts"),),
)


# --- USE-12 非工作日支付 ------------------------------------------------------------------------------
def _non_working_day(ctx: Ctx) -> Select[Any]:
    v = PayVoucher
    day = calendar_day("pay_day")
    return (
        select(*payment_columns(), v.vou_date.label("ev_date"), day.official.label("ev_official_calendar"))
        .join(day, day.day == v.vou_date)
        .where(live(v), day.is_workday.is_(False), ctx.in_regions(v.mof_div_code), ctx.new(v))
    )


def _explain_non_working_day(ev: dict[str, Any], params: Any) -> dict[str, Any]:
    when = date.fromisoformat(str(ev["date"]))
    return {
        "weekday": f"{when:%A}",
        "day_kind": "weekend" if when.weekday() >= 5 else "public holiday",
    }


NON_WORKING_DAY = Rule(
    code="USE-12",
    key="non_working_day",
    group="资金使用",
    name="非工作日支付",
    title="Payment on a non-working day",
    level=Level.blue,
    object_type=ObjectType.payment,
    fires_when="a payment dated (vou_date) on a rest day of the Chinese calendar (a weekend not swapped "
    "for a working day, or a public holiday)",
    basis="《财政国库管理制度改革试点方案》及国库集中支付业务规程: 支付业务在工作日办理，非工作日发生的"
    "支付应当说明原因并留存审批记录",
    message="{amount} yuan paid on {date}, a {day_kind} ({weekday})",
    query=_non_working_day,
    inputs=("pay_voucher",),
    explain=_explain_non_working_day,
)

RULES: tuple[Rule, ...] = (
    LARGE_CASH,
    SAME_NAME_TRANSFER,
    UNIT_TO_UNIT,
    OVER_BUDGET,
    OVER_PLAN,
    NO_INDICATOR,
    OFFICIAL_CARD_NOT_USED,
    SANGONG_OVERSPEND,
    SUSPICIOUS_PURPOSE,
    SPLIT_PAYMENT,
    DUPLICATE_PAYMENT,
    NON_WORKING_DAY,
)
