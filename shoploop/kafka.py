"""Kafka facts every deployable shares: where the cluster is, which topics exist and how they are created."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Where the Kafka cluster is. The embedded broker is the default; production sets KAFKA_BOOTSTRAP_SERVERS."""

    model_config = SettingsConfigDict(env_prefix="SHOPLOOP_KAFKA_", extra="ignore", populate_by_name=True)

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "SHOPLOOP_KAFKA_BOOTSTRAP_SERVERS"),
    )
    default_partitions: int = 4
    replication_factor: int = 1

    @property
    def faust_broker_url(self) -> str:
        return ";".join(f"kafka://{server.strip()}" for server in self.bootstrap_servers.split(","))


@dataclass(frozen=True)
class TopicSpec:
    name: str
    compacted: bool = False


class Topics:
    """Every topic ShopLoop uses, in one place."""

    # Accepted tracking events, enriched by the collector, keyed by person id.
    EVENTS = TopicSpec("shoploop.events")
    # Events that broke the tracking plan, with a reason code and their original payload.
    EVENTS_DEAD_LETTER = TopicSpec("shoploop.events.dlq")

    # Per-minute live metrics from the streams, as additive deltas keyed by minute.
    LIVE_MINUTES = TopicSpec("shoploop.metrics.minutely")

    # The order core's domain events (OrderPlaced, OrderPaid, …) relayed from its transactional outbox.
    ORDERS = TopicSpec("shoploop.orders")

    # Automation and reward rules, the latest version per rule id (published by the back office).
    AUTOMATION_RULES = TopicSpec("shoploop.automation.rules", compacted=True)
    # What the streams decided, keyed by person (triggers) or by the thing decided on.
    TRIGGERS = TopicSpec("shoploop.streams.triggers")
    PUSHES = TopicSpec("shoploop.streams.pushes")
    ATTRIBUTIONS = TopicSpec("shoploop.streams.attributions")
    SHARES = TopicSpec("shoploop.streams.shares")
    # Commands for the order core: reward coupons to grant, accounts to freeze for review.
    REWARD_COMMANDS = TopicSpec("shoploop.streams.reward-commands")
    ACCOUNT_FLAGS = TopicSpec("shoploop.streams.account-flags")
    STREAMS_DEAD_LETTER = TopicSpec("shoploop.streams.dlq")
    # `privacy forget`'s erasures, for the streams to erase their own state (streams/erasure.py).
    PRIVACY_ERASURES = TopicSpec("shoploop.privacy.erasures")

    ALL: tuple[TopicSpec, ...] = (
        EVENTS,
        EVENTS_DEAD_LETTER,
        LIVE_MINUTES,
        ORDERS,
        AUTOMATION_RULES,
        TRIGGERS,
        PUSHES,
        ATTRIBUTIONS,
        SHARES,
        REWARD_COMMANDS,
        ACCOUNT_FLAGS,
        STREAMS_DEAD_LETTER,
        PRIVACY_ERASURES,
    )


def ensure_topics(
    settings: KafkaSettings, topics: tuple[TopicSpec, ...] = Topics.ALL, *, timeout_s: float = 60.0
) -> None:
    """Create the topics that do not exist yet, waiting for the cluster to answer first."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, client_id="shoploop-admin")
            break
        except (KafkaError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    try:
        existing = set(admin.list_topics())
        for spec in topics:
            if spec.name in existing:
                continue
            configs = {"cleanup.policy": "compact"} if spec.compacted else {}
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(
                    [
                        NewTopic(
                            spec.name,
                            num_partitions=settings.default_partitions,
                            replication_factor=settings.replication_factor,
                            topic_configs=configs,
                        )
                    ]
                )
    finally:
        admin.close()


def wait_for_kafka(settings: KafkaSettings, *, timeout_s: float = 60.0) -> None:
    """Block until the cluster accepts a connection and answers for metadata."""
    ensure_topics(settings, (), timeout_s=timeout_s)
