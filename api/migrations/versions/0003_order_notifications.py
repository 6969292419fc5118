"""order subscribe messages: one row per order and kind, with every send's outcome

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import api.adapters.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_notifications",
        sa.Column("notification_id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=True),
        sa.Column("errcode", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("notification_id", name=op.f("pk_order_notifications")),
        sa.UniqueConstraint("order_id", "kind", name="uq_order_notifications_order_id_kind"),
    )
    op.create_index("ix_order_notifications_status", "order_notifications", ["status"])


def downgrade() -> None:
    op.drop_index("ix_order_notifications_status", table_name="order_notifications")
    op.drop_table("order_notifications")
