"""Who spends and who oversees: regions (财政区划), finance divisions, budget units, projects, accounts."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base, Kind, Provenance, feed


class MofDiv(Provenance, Base):
    """财政区划: a finance region; the feed does not send is_deleted / update_time for it."""

    __tablename__ = "mof_div"
    __feed_key__ = ("mof_div_code",)
    __feed_soft_state__ = False

    mof_div_code: Mapped[str] = feed(Kind.REGION, key=True)
    mof_div_name: Mapped[str] = feed(Kind.TEXT, required=True)
    parent_code: Mapped[str | None] = feed(Kind.REGION, index=True)
    level_no: Mapped[int] = feed(Kind.INT, required=True, code_set="level_no")


class RegionClosure(Base):
    """Every (ancestor, descendant) pair of the region tree, depth 0 included; rebuilt after each load."""

    __tablename__ = "region_closure"

    ancestor: Mapped[str] = mapped_column(String(9), primary_key=True)
    descendant: Mapped[str] = mapped_column(String(9), primary_key=True)
    depth: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (Index("ix_region_closure_descendant", "descendant", "ancestor"),)


class MofDep(Provenance, Base):
    """财政内部处室: a division of a finance bureau."""

    __tablename__ = "mof_dep"
    __feed_key__ = ("mof_div_code", "mof_dep_code")

    mof_div_code: Mapped[str] = feed(Kind.REGION, key=True)
    mof_dep_code: Mapped[str] = feed(Kind.CODE, key=True)
    mof_dep_name: Mapped[str] = feed(Kind.TEXT, required=True)


class Agency(Provenance, Base):
    """预算单位: a budget unit; a department (主管部门) has dept_code equal to its own code."""

    __tablename__ = "agency"
    __feed_key__ = ("mof_div_code", "agency_code")

    mof_div_code: Mapped[str] = feed(Kind.REGION, key=True)
    agency_code: Mapped[str] = feed(Kind.CODE, key=True)
    agency_name: Mapped[str] = feed(Kind.TEXT, required=True)
    dept_code: Mapped[str | None] = feed(Kind.CODE)
    unifsoc_cred_code: Mapped[str | None] = feed(Kind.CODE, index=True)
    agency_type: Mapped[str | None] = feed(Kind.TEXT)

    __table_args__ = (Index("ix_agency_dept", "mof_div_code", "dept_code"),)


class Project(Provenance, Base):
    """项目."""

    __tablename__ = "project"
    __feed_key__ = ("mof_div_code", "pro_code")

    mof_div_code: Mapped[str] = feed(Kind.REGION, key=True)
    pro_code: Mapped[str] = feed(Kind.CODE, key=True)
    pro_name: Mapped[str] = feed(Kind.TEXT, required=True)
    agency_code: Mapped[str | None] = feed(Kind.CODE)
    pro_kind_code: Mapped[str | None] = feed(Kind.CODE, code_set="pro_kind_code")
    spe_fund_code: Mapped[str | None] = feed(Kind.CODE, index=True)
    start_year: Mapped[int | None] = feed(Kind.INT, min_value=1949, max_value=2100)


class Account(Provenance, Base):
    """银行账户: zero-balance (零余额), own-funds (实有资金) and special fiscal (财政专户) accounts."""

    __tablename__ = "account"
    __feed_key__ = ("account_no",)

    account_no: Mapped[str] = feed(Kind.CODE, key=True)
    account_name: Mapped[str] = feed(Kind.TEXT, required=True)
    bank_name: Mapped[str | None] = feed(Kind.TEXT)
    mof_div_code: Mapped[str | None] = feed(Kind.REGION, index=True)
    agency_code: Mapped[str | None] = feed(Kind.CODE)
    account_type: Mapped[str] = feed(Kind.CODE, required=True, code_set="account_type")
    opened_on: Mapped[date | None] = feed(Kind.DATE)
    closed_on: Mapped[date | None] = feed(Kind.DATE)
    approval_doc_no: Mapped[str | None] = feed(Kind.TEXT)
