"""Streams settings; env prefix SHOPLOOP_STREAMS_ (Kafka: KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shoploop.kafka import KafkaSettings
from warehouse.settings import WarehouseSettings


class StreamsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPLOOP_STREAMS_", extra="ignore")

    # The sink writes one Parquet file per this many events, or per flush interval, whichever comes first.
    sink_batch_size: int = 10_000
    sink_flush_s: float = 2.0
    # The stateful agents take events in batches of up to this many, at least this often.
    agent_batch_size: int = 5_000
    agent_flush_s: float = 1.0
    web_port: int = 6066
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
