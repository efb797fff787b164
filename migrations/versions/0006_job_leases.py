"""job leases: heartbeat_at, published_at and attempt on comparisons and generations (looked after like runs);
the adapter name a generation was asked for

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 03:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
TABLES = ("comparisons", "generations")


def upgrade() -> None:
    """Apply this revision."""
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
            # Existing rows start at attempt 0, as new ones do.
            batch_op.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("generations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("adapter_name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("generations", schema=None) as batch_op:
        batch_op.drop_column("adapter_name")
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("attempt")
            batch_op.drop_column("published_at")
            batch_op.drop_column("heartbeat_at")
