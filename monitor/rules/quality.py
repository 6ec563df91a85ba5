"""数据质量 (data quality): details that do not add up to their voucher, missing classification codes, and
references to records that do not exist (or are deleted)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, case, exists, func, or_, select, union, union_all
from sqlalchemy.orm import aliased

from monitor.rule import Ctx, Level, ObjectType, Rule
from monitor.rules._common import live, payment_columns, text_null, text_value
from schema.models import BgtInfo, PayDetail, PayVoucher, Project


def _detail_mismatch(ctx: Ctx) -> Select[Any]:
    v, d = PayVoucher, PayDetail
    lines = (
        select(
            d.pay_cert_id.label("pay_cert_id"),
            func.sum(d.pay_amt_fen).label("total"),
            func.count().label("n"),
        )
        .where(live(d))
        .group_by(d.pay_cert_id)
    )
    if ctx.incremental:  # vouchers written since, or with a detail line written since
        touched = aliased(PayDetail, name="touched")
        lines = lines.where(
            d.pay_cert_id.in_(
                union_all(
                    select(touched.pay_cert_id).where(ctx.new(touched)),
                    select(v.pay_cert_id).where(ctx.new(v)),
                )
            )
        )
    s = lines.subquery("lines")
    return (
        select(
            *payment_columns(),
            v.pay_amt_fen.label("ev_voucher_fen"),
            s.c.total.label("ev_details_fen"),
            (s.c.total - v.pay_amt_fen).label("ev_difference_fen"),
            s.c.n.label("ev_lines"),
        )
        .join(s, s.c.pay_cert_id == v.pay_cert_id)
        .where(live(v), s.c.total != v.pay_amt_fen, ctx.in_regions(v.mof_div_code))
    )


DETAIL_MISMATCH = Rule(
    code="DQ-01",
    key="detail_mismatch",
    group="数据质量",
    name="明细与凭证金额不符",
    title="Detail lines do not add up to the voucher",
    level=Level.blue,
    object_type=ObjectType.payment,
    fires_when="the live detail lines (支付明细) of a voucher add up to a different amount than the "
    "voucher's pay_amt",
    basis="《惠民惠农财政补贴资金\u201c一卡通\u201d管理办法》、国库集中支付制度: "
    "支付明细应当与支付凭证金额一致，逐笔可追溯",
    message="{lines} detail line(s) add up to {details} yuan, the voucher to {voucher} yuan "
    "(difference {difference} yuan)",
    query=_detail_mismatch,
    inputs=("pay_voucher", "pay_detail"),
)


def _missing_classification(ctx: Ctx) -> Select[Any]:
    v = PayVoucher
    no_function = v.exp_func_code.is_(None)
    no_economic = and_(v.gov_bgt_eco_code.is_(None), v.dep_bgt_eco_code.is_(None))
    return select(
        *payment_columns(),
        case((no_function, 1), else_=0).label("ev_no_function_code"),
        case((no_economic, 1), else_=0).label("ev_no_economic_code"),
    ).where(live(v), or_(no_function, no_economic), ctx.in_regions(v.mof_div_code), ctx.new(v))


def _explain_missing(ev: dict[str, Any], params: Any) -> dict[str, Any]:
    missing = [
        name
        for name, flag in (
            ("functional classification (exp_func_code)", ev["no_function_code"]),
            ("economic classification (gov_bgt_eco_code, dep_bgt_eco_code)", ev["no_economic_code"]),
        )
        if flag
    ]
    return {"missing": " and ".join(missing)}


MISSING_CLASSIFICATION = Rule(
    code="DQ-02",
    key="missing_classification",
    group="数据质量",
    name="缺少科目分类",
    title="Payment without classification",
    level=Level.blue,
    object_type=ObjectType.payment,
    fires_when="a payment has no functional classification code (exp_func_code), or neither economic "
    "classification code (政府预算 / 部门预算经济分类)",
    basis="《预算法》第四十六条、《政府收支分类科目》、《预算管理一体化规范（试行）》: "
    "支出应当按功能分类和经济分类编列、核算",
    message="a payment of {amount} yuan without {missing}",
    query=_missing_classification,
    inputs=("pay_voucher",),
    explain=_explain_missing,
)


def _orphan_reference(ctx: Ctx) -> Select[Any]:
    v, p = PayVoucher, Project
    # the indicator ids payments name (read off the bgt_id index, once each) that name no live indicator
    named = aliased(PayVoucher, name="naming")
    i = aliased(BgtInfo, name="named")
    ids = select(named.bgt_id.label("bgt_id")).where(named.bgt_id.is_not(None)).group_by(named.bgt_id)
    if ctx.incremental:  # only the ids new payments name, and those of indicators that changed
        fresh = aliased(PayVoucher, name="fresh")
        changed = aliased(BgtInfo, name="changed")
        ids = ids.where(
            named.bgt_id.in_(
                union(
                    select(fresh.bgt_id).where(ctx.new(fresh)), select(changed.bgt_id).where(ctx.new(changed))
                )
            )
        )
    ids_named = ids.subquery("ids_named")
    orphans = select(ids_named.c.bgt_id).where(~exists().where(i.bgt_id == ids_named.c.bgt_id, live(i)))
    no_indicator = v.bgt_id.in_(orphans)
    no_project = and_(v.pro_code.is_not(None), p.pro_code.is_(None))
    payments = (
        select(
            text_value("payment", "object_type"),
            *payment_columns(),
            # evaluated on the findings only
            case(
                (and_(v.bgt_id.is_not(None), ~exists().where(i.bgt_id == v.bgt_id, live(i))), v.bgt_id)
            ).label("ev_missing_indicator"),
            case((no_project, v.pro_code)).label("ev_missing_project"),
        )
        .outerjoin(p, and_(p.mof_div_code == v.mof_div_code, p.pro_code == v.pro_code, live(p)))
        .where(live(v), or_(no_indicator, no_project), ctx.in_regions(v.mof_div_code))
    )
    c = aliased(BgtInfo, name="child")
    sup = aliased(BgtInfo, name="sup")
    indicators = (
        select(
            text_value("indicator", "object_type"),
            c.bgt_id.label("object_id"),
            c.mof_div_code.label("mof_div_code"),
            c.fiscal_year.label("fiscal_year"),
            c.amount_fen.label("amount_fen"),
            c.doc_date.label("occurred_on"),
            c.agency_code.label("agency_code"),
            text_null("payee_key"),
            c.sup_bgt_id.label("ev_missing_indicator"),
            text_null("ev_missing_project"),
        )
        .outerjoin(sup, and_(sup.bgt_id == c.sup_bgt_id, live(sup)))
        .where(live(c), c.sup_bgt_id.is_not(None), sup.bgt_id.is_(None), ctx.in_regions(c.mof_div_code))
    )
    if ctx.incremental:
        # rows written since, or naming an indicator written since (a deletion makes them orphans)
        written = select(BgtInfo.bgt_id).where(ctx.new(BgtInfo))
        payments = payments.where(or_(ctx.new(v), v.bgt_id.in_(written)))
        indicators = indicators.where(or_(ctx.new(c), c.sup_bgt_id.in_(written)))
    return union_all(payments, indicators)  # type: ignore[return-value]


def _explain_orphan(ev: dict[str, Any], params: Any) -> dict[str, Any]:
    names = []
    if ev.get("missing_indicator"):
        names.append(f"indicator {ev['missing_indicator']}")
    if ev.get("missing_project"):
        names.append(f"project {ev['missing_project']}")
    verb = "does" if len(names) == 1 else "do"
    return {"missing": f"{' and '.join(names)}, which {verb} not exist"}


ORPHAN_REFERENCE = Rule(
    code="DQ-03",
    key="orphan_reference",
    group="数据质量",
    name="引用不存在的记录",
    title="Reference to a record that does not exist",
    level=Level.blue,
    object_type=ObjectType.payment,
    fires_when="a payment's bgt_id names no indicator, or its pro_code no project of its region; or an "
    "indicator's sup_bgt_id names no indicator (deleted records do not count)",
    basis="《预算法》第五十七条、《预算管理一体化规范（试行）》: 支付应当以有效的预算指标为依据，数据之间应当"
    "可追溯、相互勾稽",
    message="{amount} yuan referring to {missing}",
    query=_orphan_reference,
    inputs=("pay_voucher", "ba_bgt_info", "project"),
    explain=_explain_orphan,
)

RULES: tuple[Rule, ...] = (DETAIL_MISMATCH, MISSING_CLASSIFICATION, ORPHAN_REFERENCE)
