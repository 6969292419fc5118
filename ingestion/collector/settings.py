"""Collector settings; env prefix SHOPLOOP_COLLECTOR_ (Kafka: KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shoploop.kafka import KafkaSettings

DEV_PSEUDONYM_KEY = "development-only-pseudonym-key-change-me"


class CollectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPLOOP_COLLECTOR_", extra="ignore")

    # Source name → write key. Write keys identify a source, they are not secrets: clients embed them.
    write_keys: dict[str, str] = Field(default_factory=lambda: {"miniprogram": "sl_demo_miniprogram_key"})
    # How long a request may wait for the broker's acknowledgement before the collector answers 503.
    publish_timeout_s: float = 5.0
    # How long librdkafka waits to fill a batch before it sends (linger.ms): longer sends fewer, larger produce
    # requests (less broker CPU), shorter acknowledges sooner. 5 measured better than 2 under bench/ingest.py: the
    # broker took less of the cores, and the extra wait hides in the event loop's queue (docs/benchmarks.md).
    kafka_linger_ms: float = 5.0
    # Requests per second a source may send before it gets 429 with Retry-After (Segment's limit is ~1,000).
    rate_limit_per_s: float = 1000.0
    rate_limit_per_source: dict[str, float] = Field(default_factory=dict)
    # HMAC key for the pseudonyms of openid, unionid and phone numbers (PIPL): set a secret in production.
    pseudonym_key: SecretStr = SecretStr(DEV_PSEUDONYM_KEY)
    environment: Literal["development", "test", "production"] = "development"
    # The identity graph (anonymousId/userId → person): SQLite embedded, PostgreSQL when workers span hosts.
    identity_database_url: str = "sqlite:///var/collector/identity.db"
    # How often each worker reads the erasure log and drops forgotten people from its identity cache.
    identity_forget_poll_s: float = 1.0
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)

    @model_validator(mode="after")
    def _refuses_placeholder_secrets_outside_development(self) -> CollectorSettings:
        if self.environment != "development" and self.pseudonym_key.get_secret_value() == DEV_PSEUDONYM_KEY:
            raise ValueError(
                "SHOPLOOP_COLLECTOR_PSEUDONYM_KEY is the development placeholder; set a secret of your own "
                f"to run in {self.environment}"
            )
        return self

    def source_for_write_key(self, write_key: str | None) -> str | None:
        if not write_key:
            return None
        for source, key in self.write_keys.items():
            if key == write_key:
                return source
        return None
