"""audit log: audit_log (append-only, the leaves of a Merkle tree) and audit_prune (retention bases)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The guards, on both engines (docs/adr/0009-audit-log.md):
# - an entry is never changed; the prune table is never changed or emptied;
# - an entry is deleted only below the newest prune base (audit_prune.below_seq), which `audit prune`
#   records in the same transaction, after checking a signed checkpoint of exactly that size;
# - an entry is inserted only with the next number, so the log has no gap whoever writes to it. On SQLite
#   this also stops INSERT OR REPLACE, whose implicit delete fires no delete trigger.
# Raised as integrity errors (SQLite RAISE(ABORT); SQLSTATE 23000 on PostgreSQL), like a constraint.
NEXT_SEQ = "coalesce((SELECT max(seq) + 1 FROM audit_log), (SELECT max(below_seq) FROM audit_prune), 0)"
PRUNE_BASE = "(SELECT coalesce(max(below_seq), 0) FROM audit_prune)"

SQLITE_TRIGGERS = {
    "audit_log_insert_in_sequence": f"""
        CREATE TRIGGER audit_log_insert_in_sequence BEFORE INSERT ON audit_log
        WHEN NEW.seq IS NOT {NEXT_SEQ}
        BEGIN SELECT RAISE(ABORT, 'audit_log takes entries in sequence: not the next seq'); END""",
    "audit_log_no_update": """
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END""",
    "audit_log_no_delete": f"""
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        WHEN OLD.seq >= {PRUNE_BASE}
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused (audit prune excepted)'); END""",
    "audit_prune_no_update": """
        CREATE TRIGGER audit_prune_no_update BEFORE UPDATE ON audit_prune
        BEGIN SELECT RAISE(ABORT, 'audit_prune is append-only: UPDATE refused'); END""",
    "audit_prune_no_delete": """
        CREATE TRIGGER audit_prune_no_delete BEFORE DELETE ON audit_prune
        BEGIN SELECT RAISE(ABORT, 'audit_prune is append-only: DELETE refused'); END""",
}

POSTGRES_FUNCTIONS = {
    "audit_refuse": """
        CREATE OR REPLACE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'integrity_constraint_violation';
        END $$""",
    "audit_log_guard_delete": f"""
        CREATE OR REPLACE FUNCTION audit_log_guard_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.seq < {PRUNE_BASE} THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION 'audit_log is append-only: DELETE refused (audit prune excepted)'
                USING ERRCODE = 'integrity_constraint_violation';
        END $$""",
    "audit_log_guard_insert": f"""
        CREATE OR REPLACE FUNCTION audit_log_guard_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE expected bigint := {NEXT_SEQ};
        BEGIN
            IF NEW.seq IS DISTINCT FROM expected THEN
                RAISE EXCEPTION 'audit_log takes entries in sequence: seq % refused, % expected',
                    NEW.seq, expected USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$""",
}

POSTGRES_TRIGGERS = {
    ("audit_log", "audit_log_insert_in_sequence"): "BEFORE INSERT ON audit_log FOR EACH ROW "
    "EXECUTE FUNCTION audit_log_guard_insert()",
    (
        "audit_log",
        "audit_log_no_update",
    ): "BEFORE UPDATE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_refuse()",
    ("audit_log", "audit_log_no_delete"): "BEFORE DELETE ON audit_log FOR EACH ROW "
    "EXECUTE FUNCTION audit_log_guard_delete()",
    ("audit_log", "audit_log_no_truncate"): "BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT "
    "EXECUTE FUNCTION audit_refuse()",
    ("audit_prune", "audit_prune_no_change"): "BEFORE UPDATE OR DELETE ON audit_prune FOR EACH ROW "
    "EXECUTE FUNCTION audit_refuse()",
    ("audit_prune", "audit_prune_no_truncate"): "BEFORE TRUNCATE ON audit_prune FOR EACH STATEMENT "
    "EXECUTE FUNCTION audit_refuse()",
}


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", SEQ, autoincrement=False, nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("sub", sa.Text(), nullable=True),
        sa.Column("body", sa.String(length=32), nullable=True),
        sa.Column("org", sa.Text(), nullable=True),
        sa.Column("region", sa.String(length=32), nullable=True),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("result_count", sa.Integer(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("client", sa.Text(), nullable=True),
        sa.Column("pii_revealed", sa.Boolean(), nullable=False),
        sa.Column("reveal_reason", sa.Text(), nullable=True),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_sub", ["sub", "seq"], unique=False)
        batch_op.create_index("ix_audit_log_time", ["time"], unique=False)

    op.create_table(
        "audit_prune",
        sa.Column("below_seq", SEQ, autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("cutoff", sa.DateTime(), nullable=False),
        sa.Column("pruned_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("below_seq", name=op.f("pk_audit_prune")),
    )

    if op.get_bind().dialect.name == "postgresql":
        for ddl in POSTGRES_FUNCTIONS.values():
            op.execute(ddl)
        for (_table, name), spec in POSTGRES_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {spec}")
    else:
        for ddl in SQLITE_TRIGGERS.values():
            op.execute(ddl)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, name in POSTGRES_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for name in POSTGRES_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("audit_prune")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_time")
        batch_op.drop_index("ix_audit_log_sub")
    op.drop_table("audit_log")
