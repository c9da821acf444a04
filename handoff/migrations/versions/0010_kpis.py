"""kpi facts, SLA targets, API keys, alerts; conversations.updated_at index

Revision ID: 0010_kpis
Revises: 0005_erasure_audit
Create Date: 2026-12-01 12:34:26.917133
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_kpis"
down_revision: str | None = "0012_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kpi_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("open_key", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("conversation_ids", sa.JSON(), nullable=False),
        sa.Column("notified", sa.String(length=20), nullable=False),
        sa.Column("notify_attempts", sa.Integer(), nullable=False),
        sa.Column("notify_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_alerts")),
        sa.UniqueConstraint("open_key", name=op.f("uq_kpi_alerts_open_key")),
    )
    with op.batch_alter_table("kpi_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_kpi_alerts_status_opened", ["status", "opened_at"], unique=False)

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("created_by_agent_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_agent_id"],
            ["agents.id"],
            name=op.f("fk_api_keys_created_by_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_keys_token_hash")),
    )
    op.create_table(
        "sla_targets",
        sa.Column("priority_level", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("first_response_seconds", sa.Integer(), nullable=True),
        sa.Column("next_response_seconds", sa.Integer(), nullable=True),
        sa.Column("resolution_seconds", sa.Integer(), nullable=True),
        sa.Column("business_hours", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_agent_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_agent_id"],
            ["agents.id"],
            name=op.f("fk_sla_targets_updated_by_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("priority_level", "mode", name=op.f("pk_sla_targets")),
    )
    op.create_table(
        "kpi_agent_work",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_pk", sa.String(length=32), nullable=False),
        sa.Column("episode_seq", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=50), nullable=True),
        sa.Column("topic", sa.String(length=50), nullable=True),
        sa.Column("priority_level", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=True),
        sa.Column("assigned_seconds", sa.Float(), nullable=False),
        sa.Column("handle_seconds", sa.Float(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("tar_seconds", sa.Float(), nullable=False),
        sa.Column("response_handle_seconds", sa.Float(), nullable=False),
        sa.Column("first_tar_seconds", sa.Float(), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_pk"],
            ["conversations.id"],
            name=op.f("fk_kpi_agent_work_conversation_pk_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_agent_work")),
    )
    with op.batch_alter_table("kpi_agent_work", schema=None) as batch_op:
        batch_op.create_index(
            "ix_kpi_agent_work_agent_started", ["agent_id", "started_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_kpi_agent_work_conversation_pk"), ["conversation_pk"], unique=False
        )
        batch_op.create_index("ix_kpi_agent_work_started", ["started_at"], unique=False)

    op.create_table(
        "kpi_bot_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_pk", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=True),
        sa.Column("topic", sa.String(length=50), nullable=True),
        sa.Column("handed_off", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_pk"],
            ["conversations.id"],
            name=op.f("fk_kpi_bot_contacts_conversation_pk_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_bot_contacts")),
    )
    with op.batch_alter_table("kpi_bot_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kpi_bot_contacts_conversation_pk"), ["conversation_pk"], unique=False
        )
        batch_op.create_index("ix_kpi_bot_contacts_started", ["started_at"], unique=False)

    op.create_table(
        "kpi_episodes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_pk", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_kind", sa.String(length=20), nullable=True),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("final_team", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=50), nullable=True),
        sa.Column("topic", sa.String(length=50), nullable=True),
        sa.Column("priority_level", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=True),
        sa.Column("first_agent_id", sa.String(length=32), nullable=True),
        sa.Column("resolved_by_agent_id", sa.String(length=32), nullable=True),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_seconds", sa.Float(), nullable=True),
        sa.Column("first_response_business_seconds", sa.Float(), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=False),
        sa.Column("queued_seconds", sa.Float(), nullable=False),
        sa.Column("handle_seconds", sa.Float(), nullable=False),
        sa.Column("waiting_customer_seconds", sa.Float(), nullable=False),
        sa.Column("snoozed_seconds", sa.Float(), nullable=False),
        sa.Column("resolution_seconds", sa.Float(), nullable=True),
        sa.Column("resolution_business_seconds", sa.Float(), nullable=True),
        sa.Column("agent_replies", sa.Integer(), nullable=False),
        sa.Column("next_responses", sa.Integer(), nullable=False),
        sa.Column("next_response_seconds", sa.Float(), nullable=False),
        sa.Column("next_response_max_seconds", sa.Float(), nullable=True),
        sa.Column("next_response_breaches", sa.Integer(), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("reopen", sa.Boolean(), nullable=False),
        sa.Column("reopened", sa.Boolean(), nullable=False),
        sa.Column("abandoned", sa.Boolean(), nullable=False),
        sa.Column("fcr", sa.Boolean(), nullable=False),
        sa.Column("sla_first_response", sa.String(length=10), nullable=True),
        sa.Column("sla_resolution", sa.String(length=10), nullable=True),
        sa.Column("frustration_start", sa.Float(), nullable=True),
        sa.Column("frustration_end", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_pk"],
            ["conversations.id"],
            name=op.f("fk_kpi_episodes_conversation_pk_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_episodes")),
        sa.UniqueConstraint(
            "conversation_pk", "seq", name=op.f("uq_kpi_episodes_conversation_pk_seq")
        ),
    )
    with op.batch_alter_table("kpi_episodes", schema=None) as batch_op:
        batch_op.create_index("ix_kpi_episodes_open", ["end_kind", "started_at"], unique=False)
        batch_op.create_index("ix_kpi_episodes_started", ["started_at"], unique=False)
        batch_op.create_index("ix_kpi_episodes_team_started", ["team", "started_at"], unique=False)

    op.create_table(
        "kpi_segments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_pk", sa.String(length=32), nullable=False),
        sa.Column("episode_seq", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_pk"],
            ["conversations.id"],
            name=op.f("fk_kpi_segments_conversation_pk_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_segments")),
    )
    with op.batch_alter_table("kpi_segments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kpi_segments_conversation_pk"), ["conversation_pk"], unique=False
        )

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index("ix_conversations_updated_at", ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_updated_at")

    with op.batch_alter_table("kpi_segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kpi_segments_conversation_pk"))

    op.drop_table("kpi_segments")
    with op.batch_alter_table("kpi_episodes", schema=None) as batch_op:
        batch_op.drop_index("ix_kpi_episodes_team_started")
        batch_op.drop_index("ix_kpi_episodes_started")
        batch_op.drop_index("ix_kpi_episodes_open")

    op.drop_table("kpi_episodes")
    with op.batch_alter_table("kpi_bot_contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_kpi_bot_contacts_started")
        batch_op.drop_index(batch_op.f("ix_kpi_bot_contacts_conversation_pk"))

    op.drop_table("kpi_bot_contacts")
    with op.batch_alter_table("kpi_agent_work", schema=None) as batch_op:
        batch_op.drop_index("ix_kpi_agent_work_started")
        batch_op.drop_index(batch_op.f("ix_kpi_agent_work_conversation_pk"))
        batch_op.drop_index("ix_kpi_agent_work_agent_started")

    op.drop_table("kpi_agent_work")
    op.drop_table("sla_targets")
    op.drop_table("api_keys")
    with op.batch_alter_table("kpi_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_kpi_alerts_status_opened")

    op.drop_table("kpi_alerts")
