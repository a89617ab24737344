"""change journal: every RRset change of a zone in order (zone_changes)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zone_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("rtype", sa.String(length=16), nullable=False),
        sa.Column("old", sa.JSON(), nullable=True),
        sa.Column("new", sa.JSON(), nullable=True),
        sa.Column("old_known", sa.Boolean(), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("realm_id", sa.Integer(), nullable=True),
        sa.Column("surface", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"],
                                name=op.f("fk_zone_changes_zone_id_zones"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_changes")),
        sa.UniqueConstraint("zone_id", "seq", name=op.f("uq_zone_changes_zone_id")),
    )
    op.create_index("ix_zone_changes_rrset", "zone_changes", ["zone_id", "name", "rtype"])


def downgrade() -> None:
    op.drop_index("ix_zone_changes_rrset", table_name="zone_changes")
    op.drop_table("zone_changes")
