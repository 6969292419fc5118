"""abnormal-account review (防刷单): flags from the streams, freezes, the audit log

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import api.adapters.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_audit_log",
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=256), nullable=False),
        sa.Column("created_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_account_audit_log")),
    )
    with op.batch_alter_table("account_audit_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_account_audit_log_user_id_created_at", ["user_id", "created_at"], unique=False
        )
    op.create_table(
        "account_flags",
        sa.Column("flag_id", sa.String(length=96), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("flagged_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("received_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reviewed_by", sa.String(length=40), nullable=True),
        sa.Column("reviewed_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("flag_id", name=op.f("pk_account_flags")),
    )
    with op.batch_alter_table("account_flags", schema=None) as batch_op:
        batch_op.create_index("ix_account_flags_status", ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_flags_user_id"), ["user_id"], unique=False)
    op.create_table(
        "account_freezes",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("is_frozen", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=128), nullable=False),
        sa.Column("updated_by", sa.String(length=40), nullable=False),
        sa.Column("updated_at", api.adapters.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_account_freezes")),
    )


def downgrade() -> None:
    op.drop_table("account_freezes")
    with op.batch_alter_table("account_flags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_flags_user_id"))
        batch_op.drop_index("ix_account_flags_status")
    op.drop_table("account_flags")
    with op.batch_alter_table("account_audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_account_audit_log_user_id_created_at")
    op.drop_table("account_audit_log")
