"""Collector settings; env prefix SHOPLOOP_COLLECTOR_ (Kafka: KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shoploop.kafka import KafkaSettings


class CollectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPLOOP_COLLECTOR_", extra="ignore")

    # Source name → write key. Write keys identify a source, they are not secrets: clients embed them.
    write_keys: dict[str, str] = Field(default_factory=lambda: {"miniprogram": "sl_demo_miniprogram_key"})
    # How long a request may wait for the broker's acknowledgement before the collector answers 503.
    publish_timeout_s: float = 5.0
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)

    def source_for_write_key(self, write_key: str | None) -> str | None:
        if not write_key:
            return None
        for source, key in self.write_keys.items():
            if key == write_key:
                return source
        return None
