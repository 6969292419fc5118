"""Order-core settings; env prefix SHOPLOOP_API_ (Kafka: KAFKA_BOOTSTRAP_SERVERS).

Defaults run the embedded stack (SQLite under var/, the loopback WeChat sandbox). Every secret has a
development default that the class refuses when `environment` is not development.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from recsys.settings import RecsysSettings
from shoploop.kafka import KafkaSettings, Topics

DEV_MARKER = "dev-"
DEV_MERCHANT_KEY_PATH = Path("var/api/dev-merchant-key.pem")
SANDBOX_URL = "http://127.0.0.1:9480"


class PlaceholderSecret(ValueError):
    """A development placeholder secret was configured outside development."""


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPLOOP_API_", env_nested_delimiter="__", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///var/api/shoploop.db"
    # Our own session tokens; WeChat's session_key never leaves the server.
    session_ttl_s: int = 7 * 24 * 3600

    wechat_appid: str = "wxd0000000shoploop"
    wechat_app_secret: SecretStr = SecretStr("dev-app-secret-not-for-production")
    # Bearer token of ShopLoop's own services (the streams' push sender asks for a recipient's openid).
    internal_token: SecretStr = SecretStr("dev-internal-token-not-for-production")
    # The production clients differ from the sandbox only by these two base URLs and the credentials.
    wechat_api_base_url: str = SANDBOX_URL
    wechat_pay_base_url: str = SANDBOX_URL
    wechat_pay_mchid: str = "1900000109"
    wechat_pay_merchant_serial: str = "DEV5F2A6D0C8E0B3A7C1D9E4F2A8B6C0D4E2F1A3B"
    # PEM file of the merchant's RSA private key; in development it is generated on first use.
    wechat_pay_private_key_path: Path = DEV_MERCHANT_KEY_PATH
    wechat_pay_apiv3_key: SecretStr = SecretStr("dev-apiv3-key-000000000000000000")
    # The platform public key; when unset it is downloaded from /v3/certificates and decrypted.
    wechat_pay_platform_public_key_path: Path | None = None
    wechat_pay_platform_serial: str | None = None
    # Base URL WeChat Pay posts notifications to (https in production; the sandbox accepts loopback http).
    # Where WeChat Pay posts notifications: this app's own address (`shoploop api` listens on 8001).
    notify_base_url: str = "http://127.0.0.1:8001"
    notification_max_skew_s: int = 300
    wechat_timeout_s: float = 5.0

    # Address fields are AES-256-GCM encrypted; key id → base64 32-byte key. Rotate by adding a key,
    # making it active, then running api.addresses.rotate_address_keys.
    address_keys: dict[str, SecretStr] = Field(
        default_factory=lambda: {"dev-1": SecretStr("ZGV2LWFkZHJlc3Mta2V5LTAwMDAwMDAwMDAwMDAwMDA=")}
    )
    address_active_key_id: str = "dev-1"

    # Subscribe-message template ids per order notification (from the mini-program's console).
    subscribe_templates: dict[str, str] = Field(
        default_factory=lambda: {
            "order_paid": "TPL-ORDER-PAID",
            "order_shipped": "TPL-ORDER-SHIPPED",
            "order_refunded": "TPL-ORDER-REFUNDED",
        }
    )
    # How often queued subscribe messages are sent; 0 turns the sender off.
    notification_interval_s: float = 2.0

    payment_window_s: int = 30 * 60
    auto_close_interval_s: float = 60.0
    low_stock_threshold: int = 5
    login_rate_limit_per_minute: int = 30
    order_rate_limit_per_minute: int = 30

    # Recommendations come from recsys' registry (SHOPLOOP_RECSYS_REGISTRY_DIR); the live model is re-read
    # this often, so a newly trained model is served without a restart.
    recsys: RecsysSettings = Field(default_factory=RecsysSettings)
    recommender_reload_s: float = 300.0
    # The catalogue snapshot that narrows the model's candidates is re-read in the background this often;
    # each answer still checks listing and stock of the products it shows.
    recommender_shelf_max_age_s: float = Field(default=15.0, ge=0)
    # Freshness: read shoploop.events (when Kafka is in use, as for the outbox relay) and recompute a shopper's
    # vector from their latest views and add-to-carts, without retraining. Bounded: per shopper and shoppers.
    recommender_freshness_enabled: bool = True
    # Recommendation routes (on every page) trust a shopper token verified this recently without reading
    # the sessions table again; 0 checks the database on every request.
    recommender_token_cache_s: float = Field(default=30.0, ge=0)
    recommender_fresh_per_shopper: int = Field(default=50, ge=1)
    recommender_fresh_max_shoppers: int = Field(default=100_000, ge=1)
    events_topic: str = Topics.EVENTS.name

    # Reward commands from the streams (referral coupons); consumed when enabled, idempotent by command_id.
    reward_commands_topic: str = Topics.REWARD_COMMANDS.name
    reward_consumer_enabled: bool = True
    # Abnormal-account flags (防刷单) from the streams: each freezes the account until staff review it.
    account_flags_topic: str = Topics.ACCOUNT_FLAGS.name
    account_flag_consumer_enabled: bool = True

    outbox_relay_enabled: bool = True
    # Order-core background jobs (auto-close, notifications, reward and flag consumers, outbox relay). With
    # `shoploop api --workers N` only the first worker runs them; every worker serves requests and keeps its
    # own recommender freshness consumer.
    background_jobs_enabled: bool = True
    outbox_poll_interval_s: float = 1.0
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)

    @model_validator(mode="after")
    def _refuse_placeholders_outside_development(self) -> ApiSettings:
        if len(self.wechat_pay_apiv3_key.get_secret_value().encode()) != 32:
            raise ValueError("wechat_pay_apiv3_key must be 32 bytes")
        if self.environment == "development":
            return self
        placeholders = [
            name
            for name, value in (
                ("wechat_app_secret", self.wechat_app_secret.get_secret_value()),
                ("internal_token", self.internal_token.get_secret_value()),
                ("wechat_pay_apiv3_key", self.wechat_pay_apiv3_key.get_secret_value()),
                ("wechat_pay_merchant_serial", self.wechat_pay_merchant_serial),
                ("address_active_key_id", self.address_active_key_id),
            )
            if value.startswith(DEV_MARKER) or value.startswith("DEV")
        ]
        placeholders += [
            f"address_keys[{key_id}]" for key_id in self.address_keys if key_id.startswith(DEV_MARKER)
        ]
        if self.wechat_pay_private_key_path == DEV_MERCHANT_KEY_PATH:
            placeholders.append("wechat_pay_private_key_path")
        if placeholders:
            raise PlaceholderSecret(
                f"development placeholder secrets are not allowed in {self.environment}: {', '.join(placeholders)}"
            )
        return self

    @property
    def notify_url(self) -> str:
        return self.notify_base_url.rstrip("/") + "/v1/payments/wechat/notify"

    @property
    def refund_notify_url(self) -> str:
        return self.notify_base_url.rstrip("/") + "/v1/payments/wechat/refund-notify"
