"""login throttle: failed logins by account and by client address

Revision ID: 0003_login_throttle
Revises: 0001
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_login_throttle"
down_revision: str | None = "0002_dead_letters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(
        "ix_login_failures_subject",
        "login_failures",
        ["scope", "subject", "failed_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_login_failures_subject", table_name="login_failures")
    op.drop_table("login_failures")
