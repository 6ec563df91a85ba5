"""Derived tables: kept up to date after every load, never written by the feed, rebuilt from the warehouse.

- :class:`FactCell` holds the measures of ``semantics.md`` grouped by every breakdown dimension but the
  payee: the records of one cell share region, fund type, department, unit, project, special fund,
  finance division, classifications, month and indicator, with the attributes that live on other
  tables (a unit's department, a payment's special fund) already resolved, so any breakdown or filter
  over those dimensions is one ``GROUP BY`` without joins. An indicator is one cell; payments of one
  indicator, month and classification share one.
- :class:`Rollup` sums the cells once more per single dimension, so the questions asked most (a whole
  scope's summary and its first breakdowns) read a few thousand rows whatever the size of the province.
- :class:`PaymentText` is the text a keyword search looks in; :class:`Payee` is one resolved payee with
  what it received.

Amounts are integer fen, as everywhere in the warehouse.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String, Text, column, table
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base

# Which records a cell counts (semantics.md, "Measures").
ASSIGNED = "A"  # indicators assigned to a budget unit: budget
TRANSFER = "T"  # transfer indicators passed to a lower region: transfer_in / transfer_out
PAYMENT = "P"  # treasury payments: paid
OTHER = "O"  # indicators with neither a unit nor a receiving region: plan only


class FactCell(Base):
    """Measures of records that agree on every breakdown dimension (indicator and payee aside)."""

    __tablename__ = "fact_cell"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_kind: Mapped[str] = mapped_column(String(1), nullable=False)
    fiscal_year: Mapped[int] = mapped_column(Integer, nullable=False)
    mof_div_code: Mapped[str] = mapped_column(String(9), nullable=False)  # issuing / paying region
    rec_div_code: Mapped[str | None] = mapped_column(String(9))  # receiving region of a transfer
    fund_type_code: Mapped[str] = mapped_column(String(64), nullable=False)
    dept_code: Mapped[str | None] = mapped_column(String(64))
    agency_code: Mapped[str | None] = mapped_column(String(64))
    pro_code: Mapped[str | None] = mapped_column(String(64))
    spe_fund_code: Mapped[str | None] = mapped_column(String(64))
    mof_dep_code: Mapped[str | None] = mapped_column(String(64))
    exp_func_code: Mapped[str | None] = mapped_column(String(64))
    gov_eco_code: Mapped[str | None] = mapped_column(String(64))
    dep_eco_code: Mapped[str | None] = mapped_column(String(64))
    month: Mapped[int | None] = mapped_column(Integer)
    bgt_id: Mapped[str | None] = mapped_column(String(64))  # the indicator; a payment's may be missing
    budget_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    transfer_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    paid_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    plan_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    records: Mapped[int] = mapped_column(Integer, nullable=False)  # indicators, or payments
    last_paid_on: Mapped[date | None] = mapped_column(Date)  # latest vou_date of the cell's payments

    __table_args__ = (
        Index("ix_fact_cell_scope", "fiscal_year", "mof_div_code"),
        Index("ix_fact_cell_exp_func", "fiscal_year", "exp_func_code"),
        Index("ix_fact_cell_bgt", "bgt_id"),
        Index("ix_fact_cell_rec_div", "fiscal_year", "rec_div_code"),
        Index("ix_fact_cell_agency", "fiscal_year", "agency_code"),
        Index("ix_fact_cell_dept", "fiscal_year", "dept_code"),
        Index("ix_fact_cell_project", "fiscal_year", "pro_code"),
        Index("ix_fact_cell_spe_fund", "fiscal_year", "spe_fund_code"),
    )


class Rollup(Base):
    """Cells summed per (year, region, receiving region, fund type) and one dimension's key.

    ``dim`` is a breakdown dimension with its level (``exp_func.2``), or ``total``; ``dim_key`` is null
    for records the dimension does not attribute (they make up ``unattributed``). Keys of units,
    departments, projects and finance divisions are qualified by their region (``410100000:101``): a
    code is unique only within its region."""

    __tablename__ = "rollup"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fiscal_year: Mapped[int] = mapped_column(Integer, nullable=False)
    dim: Mapped[str] = mapped_column(String(16), nullable=False)
    mof_div_code: Mapped[str] = mapped_column(String(9), nullable=False)
    rec_div_code: Mapped[str | None] = mapped_column(String(9))
    fund_type_code: Mapped[str] = mapped_column(String(64), nullable=False)
    dim_key: Mapped[str | None] = mapped_column(String(64))
    budget_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    transfer_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    paid_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    plan_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    payments: Mapped[int] = mapped_column(Integer, nullable=False)
    last_paid_on: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        Index("ix_rollup_scope", "fiscal_year", "dim", "mof_div_code"),
        Index("ix_rollup_rec_div", "fiscal_year", "dim", "rec_div_code"),
    )


class ScopeRollup(Base):
    """The measures of every region's whole subtree (semantics.md, "Scope"), per dimension whose keys are
    shared across regions (total, special fund, classifications, month) and fund type.

    ``scope_code`` is the scope's root; transfers are already split into ``transfer_in`` (issued outside
    the subtree to a region inside) and ``transfer_out`` (the reverse), so a scope's figures are read
    directly instead of summed over thousands of regions."""

    __tablename__ = "scope_rollup"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fiscal_year: Mapped[int] = mapped_column(Integer, nullable=False)
    dim: Mapped[str] = mapped_column(String(16), nullable=False)
    scope_code: Mapped[str] = mapped_column(String(9), nullable=False)
    fund_type_code: Mapped[str] = mapped_column(String(64), nullable=False)
    dim_key: Mapped[str | None] = mapped_column(String(64))
    budget_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    transfer_in_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    transfer_out_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    paid_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    plan_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    payments: Mapped[int] = mapped_column(Integer, nullable=False)
    last_paid_on: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (Index("ix_scope_rollup_scope", "fiscal_year", "scope_code", "dim"),)


class ExecRollup(Base):
    """四本预算收支执行 of every region's whole subtree: per region the latest month it reported (gov_exec is
    cumulative), summed over the subtree, per fund type and side (income / expense)."""

    __tablename__ = "exec_rollup"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fiscal_year: Mapped[int] = mapped_column(Integer, nullable=False)
    scope_code: Mapped[str] = mapped_column(String(9), nullable=False)
    fund_type_code: Mapped[str] = mapped_column(String(64), nullable=False)
    side: Mapped[str] = mapped_column(String(16), nullable=False)
    budget_fen: Mapped[int | None] = mapped_column(BigInteger)
    adjusted_fen: Mapped[int | None] = mapped_column(BigInteger)
    exec_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    month: Mapped[int] = mapped_column(Integer, nullable=False)  # the earliest latest-month in the subtree

    __table_args__ = (Index("ix_exec_rollup_scope", "fiscal_year", "scope_code"),)


class PaymentText(Base):
    """What a keyword search looks in: a payment's purpose, payee, project, unit and indicator document
    number, one per line (a keyword never holds a line break, so it can never match across two fields).

    On SQLite an FTS5 trigram index (``payment_fts``, external content) covers ``doc``; on PostgreSQL a
    pg_trgm GIN index does. Both are created by the migration."""

    __tablename__ = "payment_text"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pay_cert_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    mof_div_code: Mapped[str] = mapped_column(String(9), nullable=False)  # the paying region
    doc: Mapped[str] = mapped_column(Text, nullable=False)

    # a region's documents in match order, for searches confined to a few regions
    __table_args__ = (Index("ix_payment_text_region", "mof_div_code", "id"),)


class Payee(Base):
    """One resolved payee (semantics.md: by credit code, else keyed ID hash, else name plus account): who it
    is. What it received lives in :class:`PayeeRegion`, per region, so that every figure can be limited to
    the caller's jurisdiction. A person's ID number is not copied here: the key holds its keyed hash."""

    __tablename__ = "payee"

    payee_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    is_person: Mapped[bool] = mapped_column(Boolean, nullable=False)
    payee_type: Mapped[str | None] = mapped_column(String(64))
    unifsoc_cred_code: Mapped[str | None] = mapped_column(String(64))
    account_no: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_payee_name", "name"),)


class PayeeRegion(Base):
    """What a payee received from one paying region: as a voucher's payee, and as a batch payment's final
    recipient (支付明细, counted in the region of the detail's voucher)."""

    __tablename__ = "payee_region"

    payee_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    mof_div_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    vouchers: Mapped[int] = mapped_column(Integer, nullable=False)
    voucher_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    details: Mapped[int] = mapped_column(Integer, nullable=False)
    detail_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    first_date: Mapped[date | None] = mapped_column(Date)
    last_date: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (Index("ix_payee_region_region", "mof_div_code", "payee_key"),)


DERIVED_TABLES = (
    "fact_cell",
    "rollup",
    "scope_rollup",
    "exec_rollup",
    "payment_text",
    "payee",
    "payee_region",
)

# The FTS5 table over payment_text.doc (SQLite only): a plain table clause, since no model can declare it.
payment_fts = table("payment_fts", column("payment_fts"), column("rowid", Integer), column("doc"))

# Objects of the keyword index that only the migrations declare (FTS5 and its shadow tables, the GIN index,
# the BRIN index on payment_text.id).
SEARCH_INDEX_OBJECTS = ("payment_fts", "ix_payment_text_trgm", "ix_payment_text_id_brin")


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """For Alembic's autogenerate: leave the keyword index alone, the migration creates it by hand."""
    return not (reflected and name is not None and name.startswith(SEARCH_INDEX_OBJECTS))


class PaymentChange(Base):
    """The old (``sign`` -1) and new (+1) version of each payment a sync changed, as far as the summaries
    need them, captured in the transaction that changed it: the summaries then move by these deltas
    instead of being rebuilt whole (``connectors/ingest/derive.py``, ``apply_payment_changes``). Rows of
    a run are removed once the summaries have taken them in."""

    __tablename__ = "payment_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer, nullable=False)
    sign: Mapped[int] = mapped_column(Integer, nullable=False)
    fiscal_year: Mapped[int] = mapped_column(Integer, nullable=False)
    mof_div_code: Mapped[str] = mapped_column(String(9), nullable=False)
    fund_type_code: Mapped[str] = mapped_column(String(64), nullable=False)
    agency_code: Mapped[str | None] = mapped_column(String(64))
    pro_code: Mapped[str | None] = mapped_column(String(64))
    bgt_id: Mapped[str | None] = mapped_column(String(64))
    exp_func_code: Mapped[str | None] = mapped_column(String(64))
    gov_eco_code: Mapped[str | None] = mapped_column(String(64))
    dep_eco_code: Mapped[str | None] = mapped_column(String(64))
    vou_date: Mapped[date] = mapped_column(Date, nullable=False)
    paid_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (Index("ix_payment_change_run", "run_id"),)


class PayeeChange(Base):
    """The payees (before and after) of the payments and details a sync changed, and the changed payment
    (whose details' recipients count in its region), for the payees' aggregates; removed once taken in."""

    __tablename__ = "payee_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer, nullable=False)
    payee_key: Mapped[str] = mapped_column(String(64), nullable=False)
    pay_cert_id: Mapped[str | None] = mapped_column(String(64))  # for a changed payment

    __table_args__ = (Index("ix_payee_change_run", "run_id"),)
