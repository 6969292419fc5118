"""group buys (拼团): deals, groups, members, orders.group_buy_id

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import api.adapters.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_buy_deals",
        sa.Column("deal_id", sa.String(length=32), nullable=False),
        sa.Column("sku_id", sa.String(length=40), nullable=False),
        sa.Column("group_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("group_size", sa.Integer(), nullable=False),
        sa.Column("window_s", sa.Integer(), nullable=False),
        sa.Column("valid_from", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.sku_id"], name=op.f("fk_group_buy_deals_sku_id_skus")),
        sa.PrimaryKeyConstraint("deal_id", name=op.f("pk_group_buy_deals")),
    )
    op.create_table(
        "group_buys",
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("deal_id", sa.String(length=32), nullable=False),
        sa.Column("sku_id", sa.String(length=40), nullable=False),
        sa.Column("leader_user_id", sa.String(length=40), nullable=False),
        sa.Column("group_size", sa.Integer(), nullable=False),
        sa.Column("group_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["group_buy_deals.deal_id"], name=op.f("fk_group_buys_deal_id_group_buy_deals")
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_group_buys")),
    )
    op.create_index("ix_group_buys_status_expires_at", "group_buys", ["status", "expires_at"])
    op.create_table(
        "group_buy_members",
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("is_paid", sa.Boolean(), nullable=False),
        sa.Column("joined_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["group_buys.group_id"], name=op.f("fk_group_buy_members_group_id_group_buys")
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_group_buy_members")),
    )
    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(sa.Column("group_buy_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_column("group_buy_id")
    op.drop_table("group_buy_members")
    op.drop_index("ix_group_buys_status_expires_at", table_name="group_buys")
    op.drop_table("group_buys")
    op.drop_table("group_buy_deals")
