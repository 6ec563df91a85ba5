"""The treasury side: payment vouchers (国库集中支付凭证) and their detail lines (支付明细, 一卡通)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base, Kind, Provenance, feed


class PayVoucher(Provenance, Base):
    """国库集中支付凭证: one treasury payment. ``payee_key`` is the resolved payee (see semantics.md)."""

    __tablename__ = "pay_voucher"
    __feed_key__ = ("pay_cert_id",)

    pay_cert_id: Mapped[str] = feed(Kind.CODE, key=True)
    pay_cert_no: Mapped[str] = feed(Kind.CODE, required=True)
    bgt_id: Mapped[str | None] = feed(Kind.CODE)
    fiscal_year: Mapped[int] = feed(Kind.INT, required=True, min_value=1949, max_value=2100)
    mof_div_code: Mapped[str] = feed(Kind.REGION, required=True)
    agency_code: Mapped[str] = feed(Kind.CODE, required=True)
    pro_code: Mapped[str | None] = feed(Kind.CODE)
    vou_date: Mapped[date] = feed(Kind.DATE, required=True)
    xpay_date: Mapped[date | None] = feed(Kind.DATE)
    pay_amt_fen: Mapped[int] = feed(Kind.AMOUNT, required=True)
    pay_acct_name: Mapped[str | None] = feed(Kind.TEXT)
    pay_acct_no: Mapped[str | None] = feed(Kind.CODE)
    pay_acct_bank_name: Mapped[str | None] = feed(Kind.TEXT)
    payee_acct_name: Mapped[str] = feed(Kind.TEXT, required=True)
    payee_acct_no: Mapped[str | None] = feed(Kind.CODE)
    payee_acct_bank_name: Mapped[str | None] = feed(Kind.TEXT)
    payee_type: Mapped[str | None] = feed(Kind.CODE, code_set="payee_type")
    unifsoc_cred_code: Mapped[str | None] = feed(Kind.CODE)
    iden_no: Mapped[str | None] = feed(Kind.CODE)
    use_des: Mapped[str] = feed(Kind.TEXT, required=True)
    set_mode_code: Mapped[str | None] = feed(Kind.CODE, code_set="set_mode_code")
    pay_type_code: Mapped[str | None] = feed(Kind.CODE, code_set="pay_type_code")
    fund_type_code: Mapped[str] = feed(Kind.CODE, required=True, code_set="fund_type_code")
    exp_func_code: Mapped[str | None] = feed(Kind.CODE)
    gov_bgt_eco_code: Mapped[str | None] = feed(Kind.CODE)
    dep_bgt_eco_code: Mapped[str | None] = feed(Kind.CODE)
    contract_no: Mapped[str | None] = feed(Kind.CODE)
    payee_key: Mapped[str] = mapped_column(String(64), nullable=False, info={"derived": True})

    __table_args__ = (
        Index("ix_pay_voucher_scope", "fiscal_year", "mof_div_code", "vou_date"),
        # a unit's payments of a year; to one account (its split and duplicate payments)
        Index("ix_pay_voucher_agency", "mof_div_code", "agency_code", "fiscal_year", "payee_acct_no"),
        # a unit's payments of a year by date: its latest payments (a GraphQL unit's payments field) read
        # as a walk of a few entries, not as all the unit's payments sorted
        Index(
            "ix_pay_voucher_unit_date",
            "mof_div_code",
            "agency_code",
            "fiscal_year",
            "vou_date",
            "pay_cert_id",
        ),
        Index("ix_pay_voucher_bgt", "bgt_id"),
        Index("ix_pay_voucher_payee", "payee_key", "fiscal_year"),
        Index("ix_pay_voucher_run", "src_run_id"),  # what a load wrote: incremental monitoring
    )


class PayDetail(Provenance, Base):
    """支付明细: a final recipient of a batch payment; the details of a voucher are its 拨给谁."""

    __tablename__ = "pay_detail"
    __feed_key__ = ("pay_detail_id",)

    pay_detail_id: Mapped[str] = feed(Kind.CODE, key=True)
    pay_cert_id: Mapped[str] = feed(Kind.CODE, required=True, index=True)
    payee_acct_name: Mapped[str] = feed(Kind.TEXT, required=True)
    payee_acct_no: Mapped[str | None] = feed(Kind.CODE)
    payee_acct_bank_name: Mapped[str | None] = feed(Kind.TEXT)
    pay_amt_fen: Mapped[int] = feed(Kind.AMOUNT, required=True)
    xpay_date: Mapped[date | None] = feed(Kind.DATE)
    per_name: Mapped[str | None] = feed(Kind.TEXT)
    iden_no: Mapped[str | None] = feed(Kind.CODE)
    corp_name: Mapped[str | None] = feed(Kind.TEXT)
    unifsoc_cred_code: Mapped[str | None] = feed(Kind.CODE)
    town_code: Mapped[str | None] = feed(Kind.CODE)
    village_code: Mapped[str | None] = feed(Kind.CODE)
    pay_month: Mapped[str | None] = feed(Kind.CODE)
    subsidy_item: Mapped[str | None] = feed(Kind.TEXT)
    tracking_id: Mapped[str | None] = feed(Kind.CODE)
    payee_key: Mapped[str] = mapped_column(String(64), nullable=False, info={"derived": True})

    __table_args__ = (
        Index("ix_pay_detail_payee", "payee_key"),
        Index("ix_pay_detail_run", "src_run_id"),
    )
