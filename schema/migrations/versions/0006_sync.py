"""source connectors: sync_state (one bookmark per source and stream); load_run.derived_done;
quarantine.resolved_run_id (a connector's row held back for a missing reference, stored later);
payment_change and payee_change (what a sync's payments and details changed, for the summaries and payees)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_state",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("source_cursor", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("rows_last", sa.Integer(), nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("source", "stream", name=op.f("pk_sync_state")),
    )
    op.create_table(
        "payment_change",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("sign", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("mof_div_code", sa.String(length=9), nullable=False),
        sa.Column("fund_type_code", sa.String(length=64), nullable=False),
        sa.Column("agency_code", sa.String(length=64), nullable=True),
        sa.Column("pro_code", sa.String(length=64), nullable=True),
        sa.Column("bgt_id", sa.String(length=64), nullable=True),
        sa.Column("exp_func_code", sa.String(length=64), nullable=True),
        sa.Column("gov_eco_code", sa.String(length=64), nullable=True),
        sa.Column("dep_eco_code", sa.String(length=64), nullable=True),
        sa.Column("vou_date", sa.Date(), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_change")),
    )
    op.create_index("ix_payment_change_run", "payment_change", ["run_id"])
    op.create_table(
        "payee_change",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("payee_key", sa.String(length=64), nullable=False),
        sa.Column("pay_cert_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payee_change")),
    )
    op.create_index("ix_payee_change_run", "payee_change", ["run_id"])
    with op.batch_alter_table("load_run") as batch:
        batch.add_column(sa.Column("derived_done", sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("resolved_run_id", sa.Integer(), nullable=True))
        batch.create_index("ix_quarantine_pending", ["table_name", "resolved_run_id"])


def downgrade() -> None:
    with op.batch_alter_table("load_run") as batch:
        batch.drop_column("derived_done")
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_index("ix_quarantine_pending")
        batch.drop_column("resolved_run_id")
    op.drop_index("ix_payee_change_run", table_name="payee_change")
    op.drop_table("payee_change")
    op.drop_index("ix_payment_change_run", table_name="payment_change")
    op.drop_table("payment_change")
    op.drop_table("sync_state")
