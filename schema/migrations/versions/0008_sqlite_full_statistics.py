"""full planner statistics on SQLite: loads before this revision left sampled ones
(``PRAGMA analysis_limit``), which misled the planner (connectors/ingest/postload.py, refresh_statistics)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Only a warehouse that has statistics at all was loaded before; ANALYZE of a province-scale file
    # reads every index once (about a minute). PostgreSQL keeps its own statistics up to date.
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    has_stats = bind.exec_driver_sql(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
    ).scalar_one()
    if has_stats:
        op.execute("ANALYZE")


def downgrade() -> None:
    pass  # statistics are no schema: nothing to undo
