"""The webhook_events table: one row per webhook received.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(128), nullable=False, unique=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("body", sa.JSON),
    )
    op.create_index("ix_webhook_events_source_received", "webhook_events",
                    ["source", "received_at"])


def downgrade() -> None:
    op.drop_table("webhook_events")
