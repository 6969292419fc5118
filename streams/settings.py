"""Streams settings; env prefix SHOPLOOP_STREAMS_ (Kafka: KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shoploop.kafka import KafkaSettings
from warehouse.settings import WarehouseSettings


class StreamsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPLOOP_STREAMS_", extra="ignore")

    # The sink writes one Parquet file per this many records (a record holds one event, or a collector request's
    # events for one partition), or per flush interval, whichever comes first. Each
    # batch costs ~5.5 ms of CPU whatever its size (DuckDB's from_json set-up, the Parquet write); 20,000 halves
    # that against 10,000 and stays within the stream buffer (2 x agent_batch_size). At calm rates the flush
    # interval, not the size, bounds how soon events are in the lake.
    sink_batch_size: int = 20_000
    sink_flush_s: float = 2.0
    # The events sink reads with a plain aiokafka consumer (group `shoploop-sink-events`), not a Faust stream.
    # A fetch may wait this long for data when the topic is calm (bounds what reading adds to visibility) ...
    sink_fetch_max_wait_ms: int = 100
    # ... and returns up to this much a partition and in all: large enough that a backlog arrives in a few
    # fetches per batch (aiokafka's defaults, 1 MB a partition, cost 8-18 % of the fetch rate on Tansu here).
    sink_max_partition_fetch_bytes: int = 8 * 1024 * 1024
    sink_fetch_max_bytes: int = 32 * 1024 * 1024
    # The stateful agents take events in batches of up to this many, at least this often.
    agent_batch_size: int = 20_000
    agent_flush_s: float = 1.0
    # The streams role's young-generation GC threshold (Python's default is 700): a decisions batch allocates
    # objects for every input, and at 700 the collector ran every few inputs (~10-15% of the batch's CPU).
    gc_young_threshold: int = 50_000
    web_port: int = 6066
    # Event time: how long to wait for out-of-order events before deciding (the watermark's lag).
    allowed_lateness_s: float = 30.0
    # A partition that delivered nothing for this long (processing time) no longer holds the watermark back.
    idle_partition_s: float = 5.0
    # Shop-wide cap on pushes per person per local day, across all automations.
    daily_push_cap: int = 2
    shop_timezone: str = "Asia/Shanghai"
    # The WeChat server API the subscribe messages go to (the loopback sandbox in the demo).
    wechat_api_base_url: str = "http://127.0.0.1:9480"
    wechat_appid: str = "wxd0000000shoploop"
    wechat_app_secret: SecretStr = SecretStr("dev-app-secret-not-for-production")
    wechat_timeout_s: float = 5.0
    # The order core answers who a push goes to (events carry pseudonymised openids only).
    order_core_url: str = "http://127.0.0.1:8001"
    order_core_token: SecretStr = SecretStr("dev-internal-token-not-for-production")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
