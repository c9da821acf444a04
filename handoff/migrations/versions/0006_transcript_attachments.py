"""transcript lines: reactions and channel notices (attachments already have their column)

Revision ID: 0006_transcript_attachments
Revises: 0005_erasure_audit
Create Date: 2026-12-01 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_transcript_attachments"
down_revision: str | None = "0005_erasure_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reaction_to", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("notice_kind", sa.String(length=50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("notice_kind")
        batch_op.drop_column("reaction_to")
