"""a BRIN index on payment_text.id (PostgreSQL): a keyword's page in match order reads only the table
pages of one range of documents (api/payments/service.py, _by_windows)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The documents are written in id order, so each range of table pages holds a narrow range of ids and
    # the index stays tiny (some 100 kB at province scale). SQLite needs none: FTS5 hands matches back in
    # rowid order. Not expressible as a model for one engine only, so the migration alone owns it.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_payment_text_id_brin ON payment_text USING brin (id) "
            "WITH (pages_per_range = 32, autosummarize = on)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_payment_text_id_brin")
