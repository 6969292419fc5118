"""The schema, as SQLAlchemy Core tables. Alembic migrations under api/migrations create it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
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
    # The member-level (and member-day) share of discount_fen; added by migration 0004.
    Column("member_discount_fen", BigInteger, nullable=False, default=0),
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
    # The Kafka topic; NULL = shoploop.orders (domain events). Rows with a topic carry their message as is
    # (e.g. automation rules on the compacted rules topic); added by migration 0008.
    Column("topic", String(64)),
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


# -- membership (会员体系), migration 0004 -------------------------------------------------------------------
member_accounts = Table(
    "member_accounts",
    metadata,
    Column("user_id", String(40), primary_key=True),
    # Kept equal to the sum of the member's points_entries, in the same transaction as each entry.
    Column("points_balance", BigInteger, nullable=False, default=0),
    # Net spend (paid minus refunded) that decides the level.
    Column("spend_fen", BigInteger, nullable=False, default=0),
    Column("level", String(16), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

points_entries = Table(
    "points_entries",
    metadata,
    Column("entry_id", String(32), primary_key=True),
    Column("user_id", String(40), nullable=False),
    Column("delta", BigInteger, nullable=False),
    Column("reason", String(32), nullable=False),
    # What caused the entry (order_paid:<order id>, redeem:<redemption id>, …): unique, so never applied twice.
    Column("ref", String(96), nullable=False, unique=True),
    Column("balance_after", BigInteger, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_points_entries_user_id_created_at", "user_id", "created_at"),
)

member_day = Table(
    "member_day",
    metadata,
    # One row (config_id 'default'): the monthly member day the back office configures.
    Column("config_id", String(16), primary_key=True),
    Column("day_of_month", Integer, nullable=False),
    Column("extra_discount_percent", Integer, nullable=False),
    Column("points_multiplier", Integer, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("updated_by", String(40), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

point_rewards = Table(
    "point_rewards",
    metadata,
    Column("reward_id", String(32), primary_key=True),
    Column("title", String(64), nullable=False),
    # coupon: grants a coupon of campaign_id; gift: reserves one unit of sku_id, shipped by operators.
    Column("kind", String(8), nullable=False),
    Column("cost_points", Integer, nullable=False),
    Column("campaign_id", String(40)),
    Column("sku_id", String(40)),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

point_redemptions = Table(
    "point_redemptions",
    metadata,
    Column("redemption_id", String(32), primary_key=True),
    Column("user_id", String(40), nullable=False, index=True),
    Column("reward_id", String(32), nullable=False),
    Column("cost_points", Integer, nullable=False),
    Column("coupon_id", String(40)),
    # granted (coupon) | to_ship (gift)
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# -- abnormal-account review (防刷单), migration 0005 ------------------------------------------------------
account_flags = Table(
    "account_flags",
    metadata,
    # The streams' stable flag id: a redelivered flag is recognised and changes nothing.
    Column("flag_id", String(96), primary_key=True),
    Column("user_id", String(40), nullable=False, index=True),
    Column("reason", String(32), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("flagged_at", UtcDateTime(), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    # open → confirmed | dismissed
    Column("status", String(16), nullable=False),
    Column("reviewed_by", String(40)),
    Column("reviewed_at", UtcDateTime()),
    Index("ix_account_flags_status", "status"),
)

account_freezes = Table(
    "account_freezes",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("is_frozen", Boolean, nullable=False),
    Column("reason", String(128), nullable=False),
    Column("updated_by", String(40), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

account_audit_log = Table(
    "account_audit_log",
    metadata,
    Column("entry_id", String(32), primary_key=True),
    Column("user_id", String(40), nullable=False),
    # flagged | frozen | unfrozen | confirmed | dismissed
    Column("action", String(16), nullable=False),
    # "streams" or the staff member's username.
    Column("actor", String(64), nullable=False),
    Column("note", String(256), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_account_audit_log_user_id_created_at", "user_id", "created_at"),
)

# -- 砍价 bargains, migration 0006 -----------------------------------------------------------------------
bargain_deals = Table(
    "bargain_deals",
    metadata,
    Column("deal_id", String(32), primary_key=True),
    Column("sku_id", String(40), ForeignKey("skus.sku_id"), nullable=False),
    Column("floor_price_fen", BigInteger, nullable=False),
    # About how many friends it takes to reach the floor.
    Column("expected_cuts", Integer, nullable=False),
    Column("window_s", Integer, nullable=False),
    Column("valid_until", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

bargains = Table(
    "bargains",
    metadata,
    Column("bargain_id", String(32), primary_key=True),
    Column("deal_id", String(32), ForeignKey("bargain_deals.deal_id"), nullable=False),
    Column("user_id", String(40), nullable=False),
    Column("sku_id", String(40), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("seed", String(64), nullable=False),
    Column("start_price_fen", BigInteger, nullable=False),
    Column("floor_price_fen", BigInteger, nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("expected_cuts", Integer, nullable=False),
    Column("cut_count", Integer, nullable=False, default=0),
    Column("order_id", String(32)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    # Optimistic concurrency: two friends cutting at once cannot both apply the same cut number.
    Column("version", Integer, nullable=False, default=0),
    Index("ix_bargains_user_id", "user_id"),
)

bargain_cuts = Table(
    "bargain_cuts",
    metadata,
    Column("bargain_id", String(32), ForeignKey("bargains.bargain_id"), primary_key=True),
    Column("cut_no", Integer, primary_key=True),
    Column("helper_user_id", String(40), nullable=False),
    Column("helper_openid", String(64), nullable=False),
    Column("helper_unionid", String(64)),
    Column("device_id", String(64), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("cut_at", UtcDateTime(), nullable=False),
    # One cut per friend: per account, per device and per WeChat identity.
    UniqueConstraint("bargain_id", "helper_user_id", name="uq_bargain_cuts_bargain_id_helper_user_id"),
    UniqueConstraint("bargain_id", "device_id", name="uq_bargain_cuts_bargain_id_device_id"),
    UniqueConstraint("bargain_id", "helper_openid", name="uq_bargain_cuts_bargain_id_helper_openid"),
)

# -- experiments, stores, favourites and footprints, migration 0007 ------------------------------------
experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    # JSON [[variant, weight], …]; weights are shares of traffic in per-mille of the whole.
    Column("variants", Text, nullable=False),
    Column("target_metric", String(64), nullable=False),
    # draft → running → stopped
    Column("status", String(16), nullable=False),
    Column("starts_at", UtcDateTime()),
    Column("stops_at", UtcDateTime()),
    Column("created_by", String(40), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

stores = Table(
    "stores",
    metadata,
    Column("store_id", String(40), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("address", String(256), nullable=False, default=""),
    # Local (Asia/Shanghai) opening hours, "HH:MM"; closes_at before opens_at means open past midnight.
    Column("opens_at", String(5), nullable=False),
    Column("closes_at", String(5), nullable=False),
    Column("offer", String(128), nullable=False, default=""),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_stores_latitude", "latitude"),
)

favourites = Table(
    "favourites",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("product_id", String(40), ForeignKey("products.product_id"), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

footprints = Table(
    "footprints",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("product_id", String(40), ForeignKey("products.product_id"), primary_key=True),
    Column("view_count", Integer, nullable=False, default=1),
    Column("last_viewed_at", UtcDateTime(), nullable=False),
    Index("ix_footprints_user_id_last_viewed_at", "user_id", "last_viewed_at"),
)

# -- automation rules, migration 0008 --------------------------------------------------------------------
automation_rules = Table(
    "automation_rules",
    metadata,
    Column("rule_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    # The rule as published (JSON of streams.automations.rules.Rule).
    Column("body", Text, nullable=False),
    Column("updated_by", String(40), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# -- recommendations a shopper hid, migration 0009 -------------------------------------------------------
hidden_products = Table(
    "hidden_products",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("product_id", String(40), ForeignKey("products.product_id"), primary_key=True),
    Column("hidden_at", UtcDateTime(), nullable=False),
)
