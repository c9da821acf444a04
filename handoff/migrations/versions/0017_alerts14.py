"""alerts14: an index on the agents' segments by end, for the idle time of a slice

Revision ID: 0017_alerts14
Revises: 0015_customers
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017_alerts14"
down_revision: str | None = "0015_customers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_kpi_segments_agent_ended", "kpi_segments", ["agent_id", "ended_at"])


def downgrade() -> None:
    op.drop_index("ix_kpi_segments_agent_ended", table_name="kpi_segments")
