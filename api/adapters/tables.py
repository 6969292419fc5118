"""The schema, as SQLAlchemy Core tables. Alembic migrations under api/migrations create it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns timezone-aware UTC, also on SQLite which drops the offset."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; ShopLoop timestamps are timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("openid", String(64), nullable=False, unique=True),
    Column("unionid", String(64)),
    # WeChat's session_key: kept server-side only, never serialised into a response.
    Column("session_key", String(128), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_login_at", UtcDateTime(), nullable=False),
)

staff = Table(
    "staff",
    metadata,
    Column("staff_id", String(40), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    # sha256 of the bearer token: a database leak does not leak live tokens.
    Column("token_hash", String(64), primary_key=True),
    Column("subject_id", String(40), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

categories = Table(
    "categories",
    metadata,
    Column("category_id", String(40), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
)

products = Table(
    "products",
    metadata,
    Column("product_id", String(40), primary_key=True),
    Column("category_id", String(40), ForeignKey("categories.category_id"), nullable=False),
    Column("title", String(128), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("is_listed", Boolean, nullable=False, default=True),
    Column("sales_count", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_products_category_id", "category_id"),
)

skus = Table(
    "skus",
    metadata,
    Column("sku_id", String(40), primary_key=True),
    Column("product_id", String(40), ForeignKey("products.product_id"), nullable=False),
    Column("colour", String(32), nullable=False, default=""),
    Column("size", String(16), nullable=False, default=""),
    Column("price_fen", BigInteger, nullable=False),
    # Reserved atomically with UPDATE ... WHERE stock >= qty; never negative.
    Column("stock", Integer, nullable=False),
    Index("ix_skus_product_id", "product_id"),
)

cart_items = Table(
    "cart_items",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("sku_id", String(40), ForeignKey("skus.sku_id"), primary_key=True),
    Column("quantity", Integer, nullable=False),
    Column("added_at", UtcDateTime(), nullable=False),
)

addresses = Table(
    "addresses",
    metadata,
    Column("address_id", String(40), primary_key=True),
    Column("user_id", String(40), nullable=False, index=True),
    Column("key_id", String(32), nullable=False),
    # AES-256-GCM ciphertexts (base64 nonce+ciphertext+tag), bound to the row by associated data.
    Column("recipient_ct", Text, nullable=False),
    Column("phone_ct", Text, nullable=False),
    Column("detail_ct", Text, nullable=False),
    Column("province", String(32), nullable=False),
    Column("city", String(32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

coupon_campaigns = Table(
    "coupon_campaigns",
    metadata,
    Column("campaign_id", String(40), primary_key=True),
    Column("title", String(64), nullable=False),
    Column("threshold_fen", BigInteger, nullable=False, default=0),
    Column("discount_fen", BigInteger, nullable=False, default=0),
    Column("percent_off", Integer, nullable=False, default=0),
    Column("max_discount_fen", BigInteger),
    Column("total_quantity", Integer, nullable=False),
    Column("claimed_count", Integer, nullable=False, default=0),
    Column("valid_from", UtcDateTime(), nullable=False),
    Column("valid_until", UtcDateTime(), nullable=False),
    Column("is_claimable", Boolean, nullable=False, default=True),
)

coupons = Table(
    "coupons",
    metadata,
    Column("coupon_id", String(40), primary_key=True),
    Column("campaign_id", String(40), ForeignKey("coupon_campaigns.campaign_id"), nullable=False),
    Column("user_id", String(40), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("source", String(32), nullable=False),
    # Claims are unique per campaign and shopper; reward commands are unique by their command id.
    Column("claim_ref", String(128), nullable=False, unique=True),
    Column("used_order_id", String(40)),
    Column("claimed_at", UtcDateTime(), nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(32), primary_key=True),
    Column("user_id", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("discount_fen", BigInteger, nullable=False),
    Column("total_fen", BigInteger, nullable=False),
    Column("coupon_id", String(40)),
    Column("idempotency_key", String(64)),
    Column("address_id", String(40)),
    Column("transaction_id", String(64)),
    Column("prepay_id", String(64)),
    Column("tracking_no", String(64)),
    Column("refunded_fen", BigInteger, nullable=False, default=0),
    Column("status_before_refund", String(20)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("paid_at", UtcDateTime()),
    # Set when the order is a seat in a group buy (拼团); added by migration 0002.
    Column("group_buy_id", String(32)),
    # Optimistic concurrency: every save is UPDATE ... WHERE version = :loaded_version.
    Column("version", Integer, nullable=False, default=0),
    UniqueConstraint("user_id", "idempotency_key", name="uq_orders_user_id_idempotency_key"),
    Index("ix_orders_user_id_created_at", "user_id", "created_at"),
    Index("ix_orders_status_expires_at", "status", "expires_at"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", String(32), ForeignKey("orders.order_id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku_id", String(40), nullable=False),
    Column("product_id", String(40), nullable=False),
    Column("title", String(128), nullable=False),
    Column("unit_price_fen", BigInteger, nullable=False),
    Column("quantity", Integer, nullable=False),
)

refunds = Table(
    "refunds",
    metadata,
    Column("refund_id", String(32), primary_key=True),
    Column("order_id", String(32), ForeignKey("orders.order_id"), nullable=False, index=True),
    Column("user_id", String(40), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("reason", String(128), nullable=False),
    # requested → processing → succeeded | failed; rejected by staff.
    Column("status", String(16), nullable=False),
    Column("wechat_refund_id", String(64)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

payment_notifications = Table(
    "payment_notifications",
    metadata,
    # WeChat's notification id: a replayed notification is recognised and changes nothing.
    Column("notification_id", String(64), primary_key=True),
    Column("event_type", String(32), nullable=False),
    Column("out_trade_no", String(32), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("event_name", String(32), nullable=False),
    Column("key", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("published_at", UtcDateTime()),
    Index("ix_outbox_published_at", "published_at"),
)


group_buy_deals = Table(
    "group_buy_deals",
    metadata,
    Column("deal_id", String(32), primary_key=True),
    Column("sku_id", String(40), ForeignKey("skus.sku_id"), nullable=False),
    Column("group_price_fen", BigInteger, nullable=False),
    Column("group_size", Integer, nullable=False),
    Column("window_s", Integer, nullable=False),
    Column("valid_from", UtcDateTime(), nullable=False),
    Column("valid_until", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

group_buys = Table(
    "group_buys",
    metadata,
    Column("group_id", String(32), primary_key=True),
    Column("deal_id", String(32), ForeignKey("group_buy_deals.deal_id"), nullable=False),
    Column("sku_id", String(40), nullable=False),
    Column("leader_user_id", String(40), nullable=False),
    Column("group_size", Integer, nullable=False),
    Column("group_price_fen", BigInteger, nullable=False),
    # open → completed | failed
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    # Optimistic concurrency: two friends racing for the last seat cannot both get it.
    Column("version", Integer, nullable=False, default=0),
    Index("ix_group_buys_status_expires_at", "status", "expires_at"),
)

group_buy_members = Table(
    "group_buy_members",
    metadata,
    Column("group_id", String(32), ForeignKey("group_buys.group_id"), primary_key=True),
    Column("user_id", String(40), primary_key=True),
    Column("order_id", String(32), nullable=False),
    Column("is_paid", Boolean, nullable=False, default=False),
    Column("joined_at", UtcDateTime(), nullable=False),
)

order_notifications = Table(
    "order_notifications",
    metadata,
    Column("notification_id", String(32), primary_key=True),
    Column("order_id", String(32), nullable=False),
    Column("user_id", String(40), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    # pending → sending → sent | no_quota | failed (see api.domain.notifications.SendStatus)
    Column("status", String(16), nullable=False),
    Column("template_id", String(64)),
    Column("errcode", Integer),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime()),
    # One message per order and kind, however often the payment or refund is confirmed.
    UniqueConstraint("order_id", "kind", name="uq_order_notifications_order_id_kind"),
    Index("ix_order_notifications_status", "status"),
)
