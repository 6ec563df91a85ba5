"""收款人 and 受益对象 (payees and beneficiaries): payments to enterprises with a risk record, subsidies to
people who do not qualify, and one person's subsidy paid twice.

Risk records (``ext_risk``) are matched by the identifier as loaded: a payment's ``unifsoc_cred_code``, a
detail line's ``iden_no``, to ``subject_id``; a record counts at a date within [valid_from, valid_to], an
empty end being open.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, func, literal, or_, select
from sqlalchemy.orm import aliased

from monitor import thresholds as th
from monitor.rule import Ctx, Level, ObjectType, Param, Rule
from monitor.rules._common import live, payment_columns
from monitor.sql import ids_agg
from schema.models import ExtRisk, PayDetail, PayVoucher

RISK_NAMES = {
    "dishonest_debtor": "失信被执行人",
    "abnormal_operation": "经营异常",
    "deregistered": "吊销注销",
    "deceased": "死亡",
    "public_employee": "财政供养人员",
    "property_deed_tax": "房产契税记录",
    "vehicle_owner": "车辆登记",
}


def risk_valid(r: Any, types: tuple[str, ...], when: Any) -> Any:
    """A live risk record of one of ``types`` valid on the date ``when``."""
    return and_(
        live(r),
        r.risk_type.in_(types),
        or_(r.valid_from.is_(None), r.valid_from <= when),
        or_(r.valid_to.is_(None), r.valid_to >= when),
    )


def _explain_risks(ev: dict[str, Any], params: Any) -> dict[str, Any]:
    types = (ev.get("risk_types") or "").split(",")
    return {"risks": "、".join(RISK_NAMES.get(t, t) for t in sorted(types) if t)}


def _payee_enterprise_risk(ctx: Ctx) -> Select[Any]:
    v, r = PayVoucher, ExtRisk
    same_code = v.unifsoc_cred_code == r.subject_id
    if ctx.incremental:  # from the new payments (by the src_run_id index) to their payees' risk records
        new = aliased(PayVoucher, name="new")
        fresh = v.pay_cert_id.in_(select(new.pay_cert_id).where(ctx.new(new)))
        joined = select().select_from(v).join(r, same_code).where(fresh)
    else:
        # the payee key of a payee with a credit code is 'uscc:' and that code upper-cased: an index to
        # reach the few risky payees' payments without reading every payment
        by_key = v.payee_key == literal("uscc:") + func.upper(r.subject_id)
        joined = select().select_from(r).join(v, and_(by_key, same_code))
    return (
        joined.add_columns(
            *payment_columns(),
            v.payee_acct_name.label("ev_payee"),
            v.unifsoc_cred_code.label("ev_credit_code"),
            ids_agg(r.risk_type).label("ev_risk_types"),
        )
        .where(
            live(v),
            risk_valid(r, tuple(ctx["risk_types"]), v.vou_date),
            ctx.in_regions(v.mof_div_code),
        )
        .group_by(v.pay_cert_id)
    )


PAYEE_ENTERPRISE_RISK = Rule(
    code="PAY-01",
    key="payee_enterprise_risk",
    group="收款人",
    name="收款企业存在风险",
    title="Payee enterprise with a risk record",
    level=Level.orange,
    object_type=ObjectType.payment,
    fires_when="the payee's unified social credit code has a risk record of types {risk_types} valid on "
    "the payment date",
    basis="《社会信用体系建设规划纲要（2014—2020年）》、《国务院关于建立完善守信联合激励和失信联合惩戒制度加快推进"
    "社会诚信建设的指导意见》(国发〔2016〕33号)、《政府采购法》第二十二条: 对失信主体实施联合惩戒，限制其获得"
    "财政资金",
    message="paid {amount} yuan to {payee} ({credit_code}), on record as {risks} on the payment date",
    query=_payee_enterprise_risk,
    inputs=("pay_voucher", "ext_risk"),
    params=(Param("risk_types", th.ENTERPRISE_RISK_TYPES, "risk types of an enterprise"),),
    explain=_explain_risks,
)


def _beneficiary_risk(ctx: Ctx) -> Select[Any]:
    d, v, r = PayDetail, PayVoucher, ExtRisk
    columns: list[Any] = [
        d.pay_detail_id.label("object_id"),
        v.mof_div_code.label("mof_div_code"),
        v.fiscal_year.label("fiscal_year"),
        d.pay_amt_fen.label("amount_fen"),
        d.xpay_date.label("occurred_on"),
        v.agency_code.label("agency_code"),
        d.payee_key.label("payee_key"),
        d.pay_cert_id.label("ev_pay_cert_id"),
        d.per_name.label("ev_name"),
        d.subsidy_item.label("ev_subsidy_item"),
        d.pay_month.label("ev_pay_month"),
        ids_agg(r.risk_type).label("ev_risk_types"),
    ]
    query = (
        select(*columns)
        .join(v, v.pay_cert_id == d.pay_cert_id)
        .join(r, r.subject_id == d.iden_no)
        .where(
            live(d),
            d.xpay_date.is_not(None),
            risk_valid(r, tuple(ctx["risk_types"]), d.xpay_date),
            ctx.in_regions(v.mof_div_code),
        )
        .group_by(d.pay_detail_id, v.pay_cert_id)
    )
    if ctx.incremental:  # the new lines, by the src_run_id index (not a scan in key order for the GROUP BY)
        new = aliased(PayDetail, name="new")
        query = query.where(d.pay_detail_id.in_(select(new.pay_detail_id).where(ctx.new(new))))
    return query


BENEFICIARY_RISK = Rule(
    code="BEN-01",
    key="beneficiary_risk",
    group="受益对象",
    name="受益对象不符合条件",
    title="Beneficiary not eligible",
    level=Level.red,
    object_type=ObjectType.pay_detail,
    fires_when="a subsidy line's ID number has a record of types {risk_types} valid on the line's "
    "payment date (xpay_date)",
    basis="《惠民惠农财政补贴资金\u201c一卡通\u201d管理办法》: 补贴资金应当发放给符合政策条件的对象，"
    "严禁向不符合条件的对象发放",
    message="{subsidy_item} {pay_month} paid {amount} yuan to {name}, on record as {risks}",
    query=_beneficiary_risk,
    inputs=("pay_detail", "pay_voucher", "ext_risk"),
    params=(Param("risk_types", th.BENEFICIARY_RISK_TYPES, "risk types that disqualify a beneficiary"),),
    explain=_explain_risks,
)


def _duplicate_beneficiary(ctx: Ctx) -> Select[Any]:
    d, v = PayDetail, PayVoucher
    period = (d.iden_no, d.subsidy_item, d.pay_month)
    groups = (
        select(
            func.min(d.pay_detail_id).label("first_id"),
            ids_agg(d.pay_detail_id).label("related"),
            func.count().label("lines"),
            func.sum(d.pay_amt_fen).label("total"),
        )
        .where(live(d), d.iden_no.is_not(None))
        .group_by(*period)
        .having(func.count() >= 2)
    )
    if ctx.incremental:  # people with a line written since
        touched = aliased(PayDetail, name="touched")
        groups = groups.where(d.iden_no.in_(select(touched.iden_no).where(ctx.new(touched))))
    g = groups.subquery("dup")
    first = aliased(PayDetail, name="first_line")
    return (
        select(
            g.c.first_id.label("object_id"),
            v.mof_div_code.label("mof_div_code"),
            v.fiscal_year.label("fiscal_year"),
            g.c.total.label("amount_fen"),
            func.coalesce(first.xpay_date, v.vou_date).label("occurred_on"),
            v.agency_code.label("agency_code"),
            first.payee_key.label("payee_key"),
            g.c.related.label("related"),
            first.per_name.label("ev_name"),
            first.subsidy_item.label("ev_subsidy_item"),
            first.pay_month.label("ev_pay_month"),
            g.c.lines.label("ev_lines"),
        )
        .join(first, first.pay_detail_id == g.c.first_id)
        .join(v, v.pay_cert_id == first.pay_cert_id)
        .where(ctx.in_regions(v.mof_div_code))
    )


DUPLICATE_BENEFICIARY = Rule(
    code="BEN-02",
    key="duplicate_beneficiary",
    group="受益对象",
    name="重复享受补贴",
    title="Subsidy paid twice to one person",
    level=Level.orange,
    object_type=ObjectType.pay_detail,
    fires_when="one ID number is on two or more subsidy lines of the same subsidy item and month (in one "
    "batch or several, under one township or several)",
    basis="《惠民惠农财政补贴资金\u201c一卡通\u201d管理办法》: 同一补贴对象同一补贴项目同一期间不得重复发放",
    message="{subsidy_item} {pay_month} paid {lines} times to {name}: {amount} yuan together",
    query=_duplicate_beneficiary,
    inputs=("pay_detail", "pay_voucher"),
)

RULES: tuple[Rule, ...] = (PAYEE_ENTERPRISE_RISK, BENEFICIARY_RISK, DUPLICATE_BENEFICIARY)
