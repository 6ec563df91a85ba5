"""source connectors: sync_state, one bookmark per source and stream; quarantine.resolved_run_id (a
connector's row held back for a missing reference, stored later)

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
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("resolved_run_id", sa.Integer(), nullable=True))
        batch.create_index("ix_quarantine_pending", ["table_name", "resolved_run_id"])


def downgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_index("ix_quarantine_pending")
        batch.drop_column("resolved_run_id")
    op.drop_table("sync_state")
