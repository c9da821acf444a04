"""secure forms: one-time form links, submissions stored encrypted

Revision ID: 0004_secure_forms
Revises: 0001
Create Date: 2026-12-01 09:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_secure_forms"
down_revision: str | None = "0003_login_throttle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "secure_forms",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("requested_by_agent_id", sa.String(length=32), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_secure_forms_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_agent_id"],
            ["agents.id"],
            name=op.f("fk_secure_forms_requested_by_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_secure_forms")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_secure_forms_token_hash")),
    )
    with op.batch_alter_table("secure_forms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_secure_forms_conversation_id"), ["conversation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("secure_forms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_secure_forms_conversation_id"))

    op.drop_table("secure_forms")
