"""products a shopper hid from their recommendations

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import api.adapters.tables

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hidden_products",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("hidden_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.product_id"], name=op.f("fk_hidden_products_product_id_products")
        ),
        sa.PrimaryKeyConstraint("user_id", "product_id", name=op.f("pk_hidden_products")),
    )


def downgrade() -> None:
    op.drop_table("hidden_products")
