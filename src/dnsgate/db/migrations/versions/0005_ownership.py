"""ownership: zone-attached labels, why a claim waits and what it hands over,
zone names unique per owner (an account's own zone never takes a platform name)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_account_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("attached_labels", sa.JSON(), nullable=False,
                                      server_default="[]"))
        batch_op.create_foreign_key(op.f("fk_zones_owner_account_id_accounts"), "accounts",
                                    ["owner_account_id"], ["id"], ondelete="CASCADE")
        batch_op.drop_constraint("uq_zones_name", type_="unique")
    op.execute("UPDATE zones SET owner_account_id = (SELECT b.owner_account_id FROM backends b "
               "WHERE b.id = zones.backend_id)")
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.alter_column("attached_labels", server_default=None)
        batch_op.create_index("uq_zones_platform_name", ["name"], unique=True,
                              sqlite_where=sa.text("owner_account_id IS NULL"),
                              postgresql_where=sa.text("owner_account_id IS NULL"))
        batch_op.create_index("uq_zones_owner_name", ["owner_account_id", "name"], unique=True,
                              sqlite_where=sa.text("owner_account_id IS NOT NULL"),
                              postgresql_where=sa.text("owner_account_id IS NOT NULL"))
    with op.batch_alter_table("realms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_reasons", sa.JSON(), nullable=False,
                                      server_default="[]"))
        batch_op.add_column(sa.Column("handover", sa.JSON(), nullable=False,
                                      server_default="[]"))
    with op.batch_alter_table("realms", schema=None) as batch_op:
        batch_op.alter_column("pending_reasons", server_default=None)
        batch_op.alter_column("handover", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("realms", schema=None) as batch_op:
        batch_op.drop_column("handover")
        batch_op.drop_column("pending_reasons")
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.drop_index("uq_zones_owner_name")
        batch_op.drop_index("uq_zones_platform_name")
        batch_op.create_unique_constraint("uq_zones_name", ["name"])
        batch_op.drop_constraint(op.f("fk_zones_owner_account_id_accounts"), type_="foreignkey")
        batch_op.drop_column("attached_labels")
        batch_op.drop_column("owner_account_id")
