"""suggested responses: canned reply topics, mined replies, feedback

Revision ID: 0013_suggestions
Revises: 0008_message_sequence
Create Date: 2026-12-01 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_suggestions"
down_revision: str | None = "0008_message_sequence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _conversation_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["conversation_id"],
        ["conversations.id"],
        name=op.f(f"fk_{table}_conversation_id_conversations"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    with op.batch_alter_table("canned_replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topics", sa.JSON(), server_default="[]", nullable=False))
    op.create_table(
        "suggestion_entries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("topic", sa.String(length=50), nullable=True),
        sa.Column("device", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("context_vector", sa.LargeBinary(), nullable=False),
        sa.Column("text_vector", sa.LargeBinary(), nullable=False),
        sa.Column("promoted_reply_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _conversation_fk("suggestion_entries"),
        sa.ForeignKeyConstraint(
            ["promoted_reply_id"],
            ["canned_replies.id"],
            name=op.f("fk_suggestion_entries_promoted_reply_id_canned_replies"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion_entries")),
        sa.UniqueConstraint("message_id", name=op.f("uq_suggestion_entries_message_id")),
    )
    with op.batch_alter_table("suggestion_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_suggestion_entries_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_suggestion_entries_created_at"), ["created_at"], unique=False
        )
    op.create_table(
        "suggestion_mined",
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("mined_at", sa.DateTime(timezone=True), nullable=False),
        _conversation_fk("suggestion_mined"),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_suggestion_mined")),
    )
    op.create_table(
        "suggestion_feedback",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("suggestion", sa.String(length=80), nullable=False),
        sa.Column("topic", sa.String(length=50), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("edit_distance", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _conversation_fk("suggestion_feedback"),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_suggestion_feedback_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion_feedback")),
    )
    with op.batch_alter_table("suggestion_feedback", schema=None) as batch_op:
        batch_op.create_index(
            "ix_suggestion_feedback_suggestion_topic", ["suggestion", "topic"], unique=False
        )
        batch_op.create_index(
            "ix_suggestion_feedback_conversation_id",
            ["conversation_id", "suggestion"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("suggestion_feedback")
    op.drop_table("suggestion_mined")
    op.drop_table("suggestion_entries")
    with op.batch_alter_table("canned_replies", schema=None) as batch_op:
        batch_op.drop_column("topics")
