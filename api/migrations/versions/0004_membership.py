"""membership (会员体系): member accounts, the points ledger, the member day, point rewards, orders.member_discount_fen

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import api.adapters.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "member_accounts",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("points_balance", sa.BigInteger(), nullable=False),
        sa.Column("spend_fen", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("updated_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_member_accounts")),
    )
    op.create_table(
        "member_day",
        sa.Column("config_id", sa.String(length=16), nullable=False),
        sa.Column("day_of_month", sa.Integer(), nullable=False),
        sa.Column("extra_discount_percent", sa.Integer(), nullable=False),
        sa.Column("points_multiplier", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=40), nullable=False),
        sa.Column("updated_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("config_id", name=op.f("pk_member_day")),
    )
    op.create_table(
        "point_redemptions",
        sa.Column("redemption_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("reward_id", sa.String(length=32), nullable=False),
        sa.Column("cost_points", sa.Integer(), nullable=False),
        sa.Column("coupon_id", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("redemption_id", name=op.f("pk_point_redemptions")),
    )
    with op.batch_alter_table("point_redemptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_point_redemptions_user_id"), ["user_id"], unique=False)
    op.create_table(
        "point_rewards",
        sa.Column("reward_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("cost_points", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=True),
        sa.Column("sku_id", sa.String(length=40), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("reward_id", name=op.f("pk_point_rewards")),
    )
    op.create_table(
        "points_entries",
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=96), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("created_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_points_entries")),
        sa.UniqueConstraint("ref", name=op.f("uq_points_entries_ref")),
    )
    with op.batch_alter_table("points_entries", schema=None) as batch_op:
        batch_op.create_index("ix_points_entries_user_id_created_at", ["user_id", "created_at"], unique=False)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("member_discount_fen", sa.BigInteger(), nullable=False, server_default="0")
        )
    # Every existing shopper becomes a member at the lowest level, with an empty ledger.
    op.execute(
        "INSERT INTO member_accounts (user_id, points_balance, spend_fen, level, updated_at) "
        "SELECT user_id, 0, 0, 'regular', created_at FROM users"
    )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("member_discount_fen")
    with op.batch_alter_table("points_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_points_entries_user_id_created_at")
    op.drop_table("points_entries")
    op.drop_table("point_rewards")
    with op.batch_alter_table("point_redemptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_point_redemptions_user_id"))
    op.drop_table("point_redemptions")
    op.drop_table("member_day")
    op.drop_table("member_accounts")
