"""kpi rollup: the agents' presence history, for the online and idle time KPIs

Revision ID: 0016_kpi_rollup
Revises: 0014_threads
Create Date: 2026-12-01 17:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_kpi_rollup"
down_revision: str | None = "0014_threads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_presence_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("presence", sa.String(length=10), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_agent_presence_changes_agent_at", "agent_presence_changes", ["agent_id", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_agent_presence_changes_agent_at", table_name="agent_presence_changes")
    op.drop_table("agent_presence_changes")
