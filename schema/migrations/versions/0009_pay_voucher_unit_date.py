"""ix_pay_voucher_unit_date: a unit's latest payments read from an index in date order
(api/payments/service.py, _page_plan)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_pay_voucher_unit_date",
        "pay_voucher",
        ["mof_div_code", "agency_code", "fiscal_year", "vou_date", "pay_cert_id"],
        unique=False,
        if_not_exists=True,
    )
    bind = op.get_bind()
    if (
        bind.dialect.name == "sqlite"
        and bind.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
        ).scalar_one()
    ):
        op.execute("ANALYZE ix_pay_voucher_unit_date")  # the others have statistics: this one too


def downgrade() -> None:
    op.drop_index("ix_pay_voucher_unit_date", table_name="pay_voucher", if_exists=True)
