"""砍价 bargains: deals, bargains, one cut per friend

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import api.adapters.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bargain_deals",
        sa.Column("deal_id", sa.String(length=32), nullable=False),
        sa.Column("sku_id", sa.String(length=40), nullable=False),
        sa.Column("floor_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("expected_cuts", sa.Integer(), nullable=False),
        sa.Column("window_s", sa.Integer(), nullable=False),
        sa.Column("valid_until", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.sku_id"], name=op.f("fk_bargain_deals_sku_id_skus")),
        sa.PrimaryKeyConstraint("deal_id", name=op.f("pk_bargain_deals")),
    )
    op.create_table(
        "bargains",
        sa.Column("bargain_id", sa.String(length=32), nullable=False),
        sa.Column("deal_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("sku_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("start_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("floor_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("expected_cuts", sa.Integer(), nullable=False),
        sa.Column("cut_count", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["bargain_deals.deal_id"], name=op.f("fk_bargains_deal_id_bargain_deals")
        ),
        sa.PrimaryKeyConstraint("bargain_id", name=op.f("pk_bargains")),
    )
    with op.batch_alter_table("bargains", schema=None) as batch_op:
        batch_op.create_index("ix_bargains_user_id", ["user_id"], unique=False)
    op.create_table(
        "bargain_cuts",
        sa.Column("bargain_id", sa.String(length=32), nullable=False),
        sa.Column("cut_no", sa.Integer(), nullable=False),
        sa.Column("helper_user_id", sa.String(length=40), nullable=False),
        sa.Column("helper_openid", sa.String(length=64), nullable=False),
        sa.Column("helper_unionid", sa.String(length=64), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("cut_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bargain_id"], ["bargains.bargain_id"], name=op.f("fk_bargain_cuts_bargain_id_bargains")
        ),
        sa.PrimaryKeyConstraint("bargain_id", "cut_no", name=op.f("pk_bargain_cuts")),
        sa.UniqueConstraint("bargain_id", "device_id", name="uq_bargain_cuts_bargain_id_device_id"),
        sa.UniqueConstraint("bargain_id", "helper_openid", name="uq_bargain_cuts_bargain_id_helper_openid"),
        sa.UniqueConstraint("bargain_id", "helper_user_id", name="uq_bargain_cuts_bargain_id_helper_user_id"),
    )


def downgrade() -> None:
    op.drop_table("bargain_cuts")
    with op.batch_alter_table("bargains", schema=None) as batch_op:
        batch_op.drop_index("ix_bargains_user_id")
    op.drop_table("bargains")
    op.drop_table("bargain_deals")
