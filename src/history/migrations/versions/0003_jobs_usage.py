"""The jobs' LLM usage: prompt_tokens, completion_tokens and cost columns on `jobs`.

Rows archived before this revision keep nulls (their records may still hold a `usage`).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("prompt_tokens", sa.Integer))
        batch.add_column(sa.Column("completion_tokens", sa.Integer))
        batch.add_column(sa.Column("cost", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("cost")
        batch.drop_column("completion_tokens")
        batch.drop_column("prompt_tokens")
