"""import_items.progress (where a mailbox read in slices has got to); file sizes as 64-bit integers (mailboxes
of 2 GB and more)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
SIZED = ("documents", "import_items")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("import_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("progress", sa.JSON(), nullable=True))
    for table in SIZED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("size_bytes", existing_type=sa.Integer(), type_=sa.BigInteger())


def downgrade() -> None:
    """Revert this revision."""
    for table in SIZED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("size_bytes", existing_type=sa.BigInteger(), type_=sa.Integer())
    with op.batch_alter_table("import_items", schema=None) as batch_op:
        batch_op.drop_column("progress")
