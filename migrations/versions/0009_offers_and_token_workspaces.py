"""membership_offers, and api_tokens.workspace_id: consent before joining a workspace, one workspace per token

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 21:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "membership_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("offered_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["offered_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "workspace_id", name="uq_membership_offers_user_workspace"),
    )
    with op.batch_alter_table("membership_offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_membership_offers_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_membership_offers_workspace_id"), ["workspace_id"], unique=False)
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("workspace_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_api_tokens_workspace_id"), ["workspace_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_api_tokens_workspace_id", "workspaces", ["workspace_id"], ["id"], ondelete="CASCADE"
        )
    # Existing tokens keep working where they worked: the workspace they reached without a header (the
    # user's membership in the lowest workspace id).
    op.execute(
        """
        UPDATE api_tokens SET workspace_id = (
            SELECT min(memberships.workspace_id) FROM memberships
            WHERE memberships.user_id = api_tokens.user_id
        )
        """
    )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint("fk_api_tokens_workspace_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_api_tokens_workspace_id"))
        batch_op.drop_column("workspace_id")
    with op.batch_alter_table("membership_offers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_offers_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_membership_offers_user_id"))
    op.drop_table("membership_offers")
