"""Kafka facts every deployable shares: where the cluster is, which topics exist and how they are created."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from kafka.admin import KafkaAdminClient

log = structlog.get_logger(__name__)

_DAY_MS = 24 * 60 * 60 * 1000


class KafkaSettings(BaseSettings):
    """Where the Kafka cluster is. The embedded broker is the default; production sets KAFKA_BOOTSTRAP_SERVERS."""

    model_config = SettingsConfigDict(env_prefix="SHOPLOOP_KAFKA_", extra="ignore", populate_by_name=True)

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "SHOPLOOP_KAFKA_BOOTSTRAP_SERVERS"),
    )
    default_partitions: int = 4
    replication_factor: int = 1
    # How long the topics keep records (`retention.ms`; dead-letter topics their own, long enough to replay after a
    # fix) and how long a segment stays open (`segment.ms`: a record lives up to retention + segment time). Set on
    # every topic ShopLoop creates, and brought back to these on existing ones, by `ensure_topics`; compacted
    # topics keep their latest value per key and get neither.
    topic_retention_ms: int = Field(default=7 * _DAY_MS, gt=0)
    dead_letter_retention_ms: int = Field(default=14 * _DAY_MS, gt=0)
    topic_segment_ms: int = Field(default=1 * _DAY_MS, gt=0)
    # Whether the cluster deletes records past their retention. The embedded broker (Tansu 0.6, in memory) stores
    # the settings but keeps every record until it stops, so this is false by default; a Kafka cluster sets it
    # true, and only then does the warehouse prune erasure tombstones (docs/warehouse.md, "Erasure").
    is_retention_enforced: bool = False

    @property
    def retention(self) -> TopicRetention:
        return TopicRetention(
            retention=timedelta(milliseconds=self.topic_retention_ms),
            dead_letter_retention=timedelta(milliseconds=self.dead_letter_retention_ms),
            segment=timedelta(milliseconds=self.topic_segment_ms),
        )

    @property
    def faust_broker_url(self) -> str:
        return ";".join(f"kafka://{server.strip()}" for server in self.bootstrap_servers.split(","))


@dataclass(frozen=True)
class TopicSpec:
    name: str
    compacted: bool = False

    @property
    def is_dead_letter(self) -> bool:
        """Dead-letter topics are named `<topic>.dlq`."""
        return self.name.endswith(".dlq")


@dataclass(frozen=True, slots=True)
class TopicRetention:
    """How long ShopLoop's topics keep a record: `retention` (dead-letter topics: `dead_letter_retention`) once
    its segment is closed, and a segment closes at most `segment` after its first record — so a record can be
    read for up to retention + segment after it was written, never longer on a cluster that enforces them."""

    retention: timedelta
    dead_letter_retention: timedelta
    segment: timedelta

    @property
    def longest_record_life(self) -> timedelta:
        """The longest a record of a non-dead-letter topic can still be read after it was written."""
        return self.retention + self.segment


def topic_configs(spec: TopicSpec, retention: TopicRetention) -> dict[str, str]:
    """The configs ShopLoop sets on a topic."""
    if spec.compacted:
        return {"cleanup.policy": "compact"}
    kept = retention.dead_letter_retention if spec.is_dead_letter else retention.retention
    return {
        "cleanup.policy": "delete",
        "retention.ms": str(_whole_ms(kept)),
        "segment.ms": str(_whole_ms(retention.segment)),
    }


def configs_to_change(wanted: Mapping[str, str], current: Mapping[str, str | None]) -> dict[str, str]:
    """The wanted configs a topic does not have yet (a config the broker does not report counts as different)."""
    return {name: value for name, value in wanted.items() if current.get(name) != value}


def _whole_ms(span: timedelta) -> int:
    return int(span.total_seconds() * 1000)


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
    # Shoppers' own 注销 (order-core outbox, keyed by user id) for `shoploop privacy worker`; no lake sink reads it.
    PRIVACY_ERASURE_REQUESTS = TopicSpec("shoploop.privacy.erasure-requests")
    # Messages on the requests topic the privacy worker could not read, with a reason code and their payload.
    PRIVACY_ERASURE_REQUESTS_DEAD_LETTER = TopicSpec("shoploop.privacy.erasure-requests.dlq")

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
        PRIVACY_ERASURE_REQUESTS,
        PRIVACY_ERASURE_REQUESTS_DEAD_LETTER,
    )


def ensure_topics(
    settings: KafkaSettings, topics: tuple[TopicSpec, ...] = Topics.ALL, *, timeout_s: float = 60.0
) -> None:
    """Create the topics that do not exist yet with ShopLoop's configs (`topic_configs`), and bring existing
    ones to them, waiting for the cluster to answer first. A cluster that refuses a config is logged
    (`kafka_topic_configs_not_applied`), not fatal: the topics still work, only their retention is the cluster's."""
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
        wanted = {spec.name: topic_configs(spec, settings.retention) for spec in topics}

        def create(spec: TopicSpec, configs: dict[str, str]) -> None:
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

        for spec in topics:
            if spec.name in existing:
                continue
            try:
                create(spec, wanted[spec.name])
            except KafkaError as error:
                # A cluster that refuses the configs (a policy, an old broker) still gets the topic.
                log.warning("kafka_topic_configs_not_applied", topics=[spec.name], error=repr(error))
                create(spec, {"cleanup.policy": "compact"} if spec.compacted else {})
        if wanted:
            _apply_topic_configs(admin, wanted)
    finally:
        admin.close()


def describe_topic_configs(admin: KafkaAdminClient, names: list[str]) -> dict[str, dict[str, str | None]]:
    """Every config the cluster reports for each topic (name → value)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    # All configs, not named ones: the embedded broker drops the connection when asked for named configs.
    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, None) for name in names], config_filter="all"
    )
    by_topic = described.get("topic", {})
    return {
        name: {key: entry.get("value") for key, entry in by_topic.get(name, {}).items()} for name in names
    }


def _apply_topic_configs(admin: KafkaAdminClient, wanted: dict[str, dict[str, str]]) -> None:
    """Alter the topics whose configs differ from `wanted` (incrementally: other configs are left alone)."""
    from kafka.admin import ConfigResource, ConfigResourceType
    from kafka.errors import KafkaError

    try:
        current = describe_topic_configs(admin, sorted(wanted))
        changes = {
            name: change
            for name, configs in wanted.items()
            if (change := configs_to_change(configs, current[name]))
        }
        if not changes:
            return
        results = admin.alter_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, name, configs=change)
                for name, change in changes.items()
            ],
            raise_on_unknown=False,
        )
    except (KafkaError, OSError, ValueError) as error:
        log.warning("kafka_topic_configs_not_applied", topics=sorted(wanted), error=repr(error))
        return
    for name, result in results.get("topic", {}).items():
        if result == "OK":
            log.info("kafka_topic_configs_set", topic=name, configs=changes[name])
        else:
            log.warning("kafka_topic_configs_not_applied", topics=[name], error=str(result))


def wait_for_kafka(settings: KafkaSettings, *, timeout_s: float = 60.0) -> None:
    """Block until the cluster accepts a connection and answers for metadata."""
    ensure_topics(settings, (), timeout_s=timeout_s)
