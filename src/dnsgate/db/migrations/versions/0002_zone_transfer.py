"""zone transfer settings of built-in zones: NOTIFY targets, transfer ACL, TSIG keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("builtin_zones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notify", sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("allow_transfer", sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("tsig_keys", sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("builtin_zones", schema=None) as batch_op:
        batch_op.drop_column("tsig_keys")
        batch_op.drop_column("allow_transfer")
        batch_op.drop_column("notify")
