"""The budget side: special funds, allocation plans, indicators (预算指标), adjustments, plans, execution."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Index
from sqlalchemy.orm import Mapped

from schema.base import Base, Kind, Provenance, feed


class SpeFund(Provenance, Base):
    """专项资金: a special fund catalogued on the special-fund platform."""

    __tablename__ = "spe_fund"
    __feed_key__ = ("spe_fund_code",)

    spe_fund_code: Mapped[str] = feed(Kind.CODE, key=True)
    spe_fund_name: Mapped[str] = feed(Kind.TEXT, required=True)
    mof_div_code: Mapped[str] = feed(Kind.REGION, required=True)
    manage_mof_dep_code: Mapped[str | None] = feed(Kind.CODE)
    fund_type_code: Mapped[str | None] = feed(Kind.CODE, code_set="fund_type_code")
    policy_doc_no: Mapped[str | None] = feed(Kind.TEXT)
    start_year: Mapped[int | None] = feed(Kind.INT, min_value=1949, max_value=2100)
    end_year: Mapped[int | None] = feed(Kind.INT, min_value=1949, max_value=2100)


class SpeFundAlloc(Provenance, Base):
    """专项资金分配方案: one line of a special fund's allocation plan."""

    __tablename__ = "spe_fund_alloc"
    __feed_key__ = ("alloc_id",)

    alloc_id: Mapped[str] = feed(Kind.CODE, key=True)
    spe_fund_code: Mapped[str] = feed(Kind.CODE, required=True)
    fiscal_year: Mapped[int] = feed(Kind.INT, required=True, min_value=1949, max_value=2100)
    mof_div_code: Mapped[str] = feed(Kind.REGION, required=True)
    rec_div_code: Mapped[str | None] = feed(Kind.REGION)
    agency_code: Mapped[str | None] = feed(Kind.CODE)
    pro_code: Mapped[str | None] = feed(Kind.CODE)
    amount_fen: Mapped[int] = feed(Kind.AMOUNT, required=True)
    alloc_doc_no: Mapped[str | None] = feed(Kind.TEXT)
    alloc_date: Mapped[date | None] = feed(Kind.DATE)

    __table_args__ = (Index("ix_spe_fund_alloc_fund", "spe_fund_code", "fiscal_year", "mof_div_code"),)


class BgtInfo(Provenance, Base):
    """预算指标: an indicator, assigned to a budget unit (agency_code) or passed down (rec_div_code)."""

    __tablename__ = "ba_bgt_info"
    __feed_key__ = ("bgt_id",)

    bgt_id: Mapped[str] = feed(Kind.CODE, key=True)
    mof_div_code: Mapped[str] = feed(Kind.REGION, required=True)
    fiscal_year: Mapped[int] = feed(Kind.INT, required=True, min_value=1949, max_value=2100)
    cor_bgt_doc_no: Mapped[str] = feed(Kind.TEXT, required=True)
    bgt_doc_title: Mapped[str | None] = feed(Kind.TEXT)
    doc_date: Mapped[date] = feed(Kind.DATE, required=True)
    sup_bgt_doc_no: Mapped[str | None] = feed(Kind.TEXT)
    sup_bgt_id: Mapped[str | None] = feed(Kind.CODE, index=True)
    ori_bgt_id: Mapped[str | None] = feed(Kind.CODE, index=True)
    rec_date: Mapped[date | None] = feed(Kind.DATE)
    source_type_code: Mapped[str | None] = feed(Kind.CODE, code_set="source_type_code")
    agency_code: Mapped[str | None] = feed(Kind.CODE)
    rec_div_code: Mapped[str | None] = feed(Kind.REGION)
    pro_code: Mapped[str | None] = feed(Kind.CODE)
    spe_fund_code: Mapped[str | None] = feed(Kind.CODE, aliases=("track_pro_code",))
    fund_type_code: Mapped[str] = feed(Kind.CODE, required=True, code_set="fund_type_code")
    bgt_type_code: Mapped[str | None] = feed(Kind.CODE)
    manage_mof_dep_code: Mapped[str | None] = feed(Kind.CODE)
    exp_func_code: Mapped[str] = feed(Kind.CODE, required=True)
    gov_bgt_eco_code: Mapped[str | None] = feed(Kind.CODE)
    dep_bgt_eco_code: Mapped[str | None] = feed(Kind.CODE)
    amount_fen: Mapped[int] = feed(Kind.AMOUNT, required=True)

    __table_args__ = (
        Index("ix_ba_bgt_info_scope", "fiscal_year", "mof_div_code"),
        Index("ix_ba_bgt_info_agency", "mof_div_code", "agency_code"),
        Index("ix_ba_bgt_info_rec_div", "rec_div_code", "fiscal_year"),
        Index("ix_ba_bgt_info_doc", "cor_bgt_doc_no"),
        Index("ix_ba_bgt_info_spe_fund", "spe_fund_code", "fiscal_year"),
        Index("ix_ba_bgt_info_sup_doc", "sup_bgt_doc_no"),
        Index("ix_ba_bgt_info_run", "src_run_id"),
    )


class BgtAdj(Provenance, Base):
    """指标调整: an adjustment; an indicator's current amount is its amount plus its adjustments."""

    __tablename__ = "bgt_adj"
    __feed_key__ = ("adj_id",)

    adj_id: Mapped[str] = feed(Kind.CODE, key=True)
    bgt_id: Mapped[str] = feed(Kind.CODE, required=True, index=True)
    adj_date: Mapped[date] = feed(Kind.DATE, required=True)
    add_amount_fen: Mapped[int] = feed(Kind.AMOUNT, required=True)
    adj_doc_no: Mapped[str | None] = feed(Kind.TEXT)
    reason: Mapped[str | None] = feed(Kind.TEXT)


class PayPlan(Provenance, Base):
    """用款计划: a monthly payment plan line of an indicator."""

    __tablename__ = "pay_plan"
    __feed_key__ = ("plan_id",)

    plan_id: Mapped[str] = feed(Kind.CODE, key=True)
    bgt_id: Mapped[str] = feed(Kind.CODE, required=True)
    fiscal_year: Mapped[int] = feed(Kind.INT, required=True, min_value=1949, max_value=2100)
    plan_month: Mapped[int] = feed(Kind.INT, required=True, min_value=1, max_value=12)
    plan_amt_fen: Mapped[int] = feed(Kind.AMOUNT, required=True)
    mof_div_code: Mapped[str | None] = feed(Kind.REGION)
    agency_code: Mapped[str | None] = feed(Kind.CODE)

    __table_args__ = (
        Index("ix_pay_plan_bgt", "bgt_id", "plan_month"),
        Index("ix_pay_plan_run", "src_run_id"),  # what a load wrote: incremental monitoring
    )


class GovExec(Provenance, Base):
    """四本预算收支执行: cumulative execution by subject, for what never passes through treasury vouchers."""

    __tablename__ = "gov_exec"
    __feed_key__ = ("mof_div_code", "fiscal_year", "month", "fund_type_code", "side", "subject_code")

    mof_div_code: Mapped[str] = feed(Kind.REGION, key=True)
    fiscal_year: Mapped[int] = feed(Kind.INT, key=True, min_value=1949, max_value=2100)
    month: Mapped[int] = feed(Kind.INT, key=True, min_value=1, max_value=12)
    fund_type_code: Mapped[str] = feed(Kind.CODE, key=True, code_set="fund_type_code")
    side: Mapped[str] = feed(Kind.CODE, key=True, choices=("income", "expense"))
    subject_code: Mapped[str] = feed(Kind.CODE, key=True)
    subject_name: Mapped[str | None] = feed(Kind.TEXT)
    budget_amt_fen: Mapped[int | None] = feed(Kind.AMOUNT)
    adjusted_amt_fen: Mapped[int | None] = feed(Kind.AMOUNT)
    exec_amt_fen: Mapped[int] = feed(Kind.AMOUNT, required=True)

    __table_args__ = (Index("ix_gov_exec_scope", "fiscal_year", "mof_div_code", "month"),)
