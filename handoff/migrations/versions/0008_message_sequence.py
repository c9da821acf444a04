"""per-conversation message sequence, job leases

Revision ID: 0008_message_sequence
Revises: 0005_erasure_audit
Create Date: 2026-12-01 12:10:00

Existing lines are numbered 1, 2, … per conversation in transcript order (time, then id) and
each conversation's `last_seq` is set to its highest number.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_message_sequence"
down_revision: str | None = "0009_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seq", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE messages SET seq = (SELECT COUNT(*) FROM messages AS earlier"
        " WHERE earlier.conversation_id = messages.conversation_id"
        " AND (earlier.created_at < messages.created_at"
        " OR (earlier.created_at = messages.created_at AND earlier.id <= messages.id)))"
    )
    op.execute(
        "UPDATE conversations SET last_seq = COALESCE((SELECT MAX(seq) FROM messages"
        " WHERE messages.conversation_id = conversations.id), 0)"
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_messages_conversation_id_seq"), ["conversation_id", "seq"]
        )
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_leases")),
    )


def downgrade() -> None:
    op.drop_table("job_leases")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_messages_conversation_id_seq"), type_="unique")
        batch_op.drop_column("seq")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("last_seq")
