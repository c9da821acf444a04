"""canned replies, snooze

Revision ID: 0012_lifecycle
Revises: 0006_transcript_attachments
Create Date: 2026-12-01 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_lifecycle"
down_revision: str | None = "0006_transcript_attachments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "canned_replies",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("shortcut", sa.String(length=40), nullable=True),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("updated_by_agent_id", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_canned_replies_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_agent_id"],
            ["agents.id"],
            name=op.f("fk_canned_replies_updated_by_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_replies")),
    )
    with op.batch_alter_table("canned_replies", schema=None) as batch_op:
        batch_op.create_index("ix_canned_replies_team_title", ["team_id", "title"], unique=False)
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("snoozed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("snooze_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("snoozed_by_agent_id", sa.String(length=32), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_conversations_snoozed_until"), ["snoozed_until"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_conversations_snoozed_by_agent_id_agents"),
            "agents",
            ["snoozed_by_agent_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_conversations_snoozed_by_agent_id_agents"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_conversations_snoozed_until"))
        for column in ("snoozed_by_agent_id", "snooze_note", "snoozed_until", "snoozed_at"):
            batch_op.drop_column(column)
    op.drop_table("canned_replies")
