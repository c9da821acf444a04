"""erasure audit, retention marker

Revision ID: 0005_erasure_audit
Revises: 0001
Create Date: 2026-12-01 08:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_erasure_audit"
down_revision: str | None = "0004_secure_forms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "erasure_audit",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("customer_key_hash", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=320), nullable=False),
        sa.Column("requested_by_agent_id", sa.String(length=32), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_sender_id", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["requested_by_agent_id"],
            ["agents.id"],
            name=op.f("fk_erasure_audit_requested_by_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_audit")),
    )
    with op.batch_alter_table("erasure_audit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_erasure_audit_customer_key_hash"), ["customer_key_hash"], unique=False
        )
        batch_op.create_index(
            "ix_erasure_audit_status_next", ["status", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("erasure_audit")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("anonymised_at")
