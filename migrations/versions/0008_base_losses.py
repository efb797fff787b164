"""base_losses: the base model's loss per tokenised example, computed once and reused by later runs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "base_losses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("base_model_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("loss_sum", sa.Double(), nullable=False),
        sa.Column("answer_tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["base_model_id"], ["base_models.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("base_model_id", "key", name="uq_base_losses_model_key"),
    )
    with op.batch_alter_table("base_losses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_base_losses_base_model_id"), ["base_model_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("base_losses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_base_losses_base_model_id"))
    op.drop_table("base_losses")
