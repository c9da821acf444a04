"""queue: presence, capacity, team modes, handover notes, pending replies

Revision ID: 0009_queue
Revises: 0005_erasure_audit
Create Date: 2026-12-01 12:04:31.722604
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_queue"
down_revision: str | None = "0011_integrations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_connections",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_console_connections_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_connections")),
    )
    with op.batch_alter_table("console_connections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_console_connections_agent_id"), ["agent_id"], unique=False
        )

    op.create_table(
        "queue_agents",
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("presence", sa.String(length=10), nullable=False),
        sa.Column("presence_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disconnected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_sync", sa.Integer(), nullable=False),
        sa.Column("max_async", sa.Integer(), nullable=False),
        sa.Column("in_training", sa.Boolean(), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lock_counter", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_queue_agents_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_queue_agents")),
    )
    op.create_table(
        "team_queues",
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_agent_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_queues_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_agent_id"],
            ["agents.id"],
            name=op.f("fk_team_queues_updated_by_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_team_queues")),
    )
    op.create_table(
        "handover_notes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("from_agent_id", sa.String(length=32), nullable=True),
        sa.Column("to_agent_id", sa.String(length=32), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_handover_notes_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["from_agent_id"],
            ["agents.id"],
            name=op.f("fk_handover_notes_from_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["to_agent_id"],
            ["agents.id"],
            name=op.f("fk_handover_notes_to_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover_notes")),
    )
    with op.batch_alter_table("handover_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handover_notes_conversation_id"), ["conversation_id"], unique=False
        )

    op.create_table(
        "pending_replies",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("reviewed_by_agent_id", sa.String(length=32), nullable=True),
        sa.Column("message_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_pending_replies_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_pending_replies_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_agent_id"],
            ["agents.id"],
            name=op.f("fk_pending_replies_reviewed_by_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_replies")),
    )
    with op.batch_alter_table("pending_replies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_replies_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            "ix_pending_replies_status_created", ["status", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pending_replies", schema=None) as batch_op:
        batch_op.drop_index("ix_pending_replies_status_created")
        batch_op.drop_index(batch_op.f("ix_pending_replies_conversation_id"))

    op.drop_table("pending_replies")
    with op.batch_alter_table("handover_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handover_notes_conversation_id"))

    op.drop_table("handover_notes")
    op.drop_table("team_queues")
    op.drop_table("queue_agents")
    with op.batch_alter_table("console_connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_connections_agent_id"))

    op.drop_table("console_connections")
