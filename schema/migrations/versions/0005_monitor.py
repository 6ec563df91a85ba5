"""dynamic monitoring: warning, warning_object, warning_step, whitelist, monitor_run, work_calendar; an
index on src_run_id of pay_voucher, pay_detail, pay_plan and ba_bgt_info (what a load wrote, for incremental
runs); the payee account added to ix_pay_voucher_agency

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("since_load_run", sa.Integer(), nullable=True),
        sa.Column("upto_load_run", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("raised", sa.Integer(), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.Column("cleared", sa.Integer(), nullable=False),
        sa.Column("per_rule", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_run")),
    )
    op.create_table(
        "warning",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("rule_code", sa.String(length=32), nullable=False),
        sa.Column("rule_group", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("facet", sa.String(length=32), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("mof_div_code", sa.String(length=9), nullable=False),
        sa.Column("agency_code", sa.String(length=64), nullable=True),
        sa.Column("payee_key", sa.String(length=64), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("cleared_at", sa.DateTime(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_warning_dedup_key")),
    )
    with op.batch_alter_table("warning", schema=None) as batch_op:
        batch_op.create_index("ix_warning_occurred", ["occurred_on"], unique=False)
        batch_op.create_index("ix_warning_region", ["mof_div_code", "fiscal_year", "status"], unique=False)
        batch_op.create_index("ix_warning_rule", ["rule_code", "status"], unique=False)

    op.create_table(
        "whitelist",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_code", sa.String(length=32), nullable=True),
        sa.Column("mof_div_code", sa.String(length=9), nullable=True),
        sa.Column("agency_code", sa.String(length=64), nullable=True),
        sa.Column("payee_key", sa.String(length=64), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(length=255), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whitelist")),
    )
    op.create_table(
        "work_calendar",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_workday", sa.Boolean(), nullable=False),
        sa.Column("workday_no", sa.Integer(), nullable=False),
        sa.Column("official", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_work_calendar")),
    )
    op.create_table(
        "warning_object",
        sa.Column("warning_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["warning_id"], ["warning.id"], name=op.f("fk_warning_object_warning_id_warning")
        ),
        sa.PrimaryKeyConstraint("warning_id", "object_type", "object_id", name=op.f("pk_warning_object")),
    )
    with op.batch_alter_table("warning_object", schema=None) as batch_op:
        batch_op.create_index("ix_warning_object_object", ["object_type", "object_id"], unique=False)

    op.create_table(
        "warning_step",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("warning_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("actor_sub", sa.String(length=255), nullable=False),
        sa.Column("actor_body", sa.String(length=32), nullable=False),
        sa.Column("actor_org", sa.String(length=255), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["warning_id"], ["warning.id"], name=op.f("fk_warning_step_warning_id_warning")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_step")),
    )
    with op.batch_alter_table("warning_step", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_warning_step_warning_id"), ["warning_id"], unique=False)

    with op.batch_alter_table("ba_bgt_info", schema=None) as batch_op:
        batch_op.create_index("ix_ba_bgt_info_run", ["src_run_id"], unique=False)

    with op.batch_alter_table("pay_detail", schema=None) as batch_op:
        batch_op.create_index("ix_pay_detail_run", ["src_run_id"], unique=False)

    with op.batch_alter_table("pay_voucher", schema=None) as batch_op:
        batch_op.create_index("ix_pay_voucher_run", ["src_run_id"], unique=False)
        # a unit's payments to one account: what an incremental run's split and duplicate rules read
        batch_op.drop_index("ix_pay_voucher_agency")
        batch_op.create_index(
            "ix_pay_voucher_agency",
            ["mof_div_code", "agency_code", "fiscal_year", "payee_acct_no"],
            unique=False,
        )

    with op.batch_alter_table("pay_plan", schema=None) as batch_op:
        batch_op.create_index("ix_pay_plan_run", ["src_run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pay_plan", schema=None) as batch_op:
        batch_op.drop_index("ix_pay_plan_run")

    with op.batch_alter_table("pay_voucher", schema=None) as batch_op:
        batch_op.drop_index("ix_pay_voucher_run")
        batch_op.drop_index("ix_pay_voucher_agency")
        batch_op.create_index(
            "ix_pay_voucher_agency", ["mof_div_code", "agency_code", "fiscal_year"], unique=False
        )

    with op.batch_alter_table("pay_detail", schema=None) as batch_op:
        batch_op.drop_index("ix_pay_detail_run")

    with op.batch_alter_table("ba_bgt_info", schema=None) as batch_op:
        batch_op.drop_index("ix_ba_bgt_info_run")

    with op.batch_alter_table("warning_step", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_warning_step_warning_id"))

    op.drop_table("warning_step")
    with op.batch_alter_table("warning_object", schema=None) as batch_op:
        batch_op.drop_index("ix_warning_object_object")

    op.drop_table("warning_object")
    op.drop_table("work_calendar")
    op.drop_table("whitelist")
    with op.batch_alter_table("warning", schema=None) as batch_op:
        batch_op.drop_index("ix_warning_rule")
        batch_op.drop_index("ix_warning_region")
        batch_op.drop_index("ix_warning_occurred")

    op.drop_table("warning")
    op.drop_table("monitor_run")
