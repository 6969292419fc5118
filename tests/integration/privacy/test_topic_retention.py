"""ShopLoop bounds how long a message can wait on the topics that feed the lake: `ensure_topics` sets retention and
segment time on every topic it creates (dead letters kept longer, for a replay after a fix) and brings topics
that already exist to them. An erasure's tombstone is pruned on that bound (warehouse/erasure.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafka.admin import KafkaAdminClient, NewTopic

from shoploop.broker import embedded_broker
from shoploop.kafka import KafkaSettings, Topics, TopicSpec, describe_topic_configs, ensure_topics
from tests.support.sink import HOST, broker_port

pytestmark = pytest.mark.integration

DAY_MS = 24 * 60 * 60 * 1000


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    with embedded_broker(HOST, broker_port()) as address:
        yield address


def _configs(bootstrap: str, names: list[str]) -> dict[str, dict[str, str | None]]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="test-retention")
    try:
        return describe_topic_configs(admin, names)
    finally:
        admin.close()


def test_new_topics_are_created_with_the_retention_and_segment_time_of_the_settings(bootstrap: str) -> None:
    settings = KafkaSettings(
        bootstrap_servers=bootstrap,
        default_partitions=1,
        topic_retention_ms=7 * DAY_MS,
        dead_letter_retention_ms=14 * DAY_MS,
        topic_segment_ms=DAY_MS,
    )
    ensure_topics(settings)

    configs = _configs(bootstrap, [spec.name for spec in Topics.ALL])
    for fed_to_the_lake in (Topics.EVENTS, Topics.ORDERS, Topics.TRIGGERS, Topics.PUSHES):
        assert configs[fed_to_the_lake.name]["retention.ms"] == str(7 * DAY_MS)
        assert configs[fed_to_the_lake.name]["segment.ms"] == str(DAY_MS)
    assert configs[Topics.EVENTS_DEAD_LETTER.name]["retention.ms"] == str(14 * DAY_MS)
    assert configs[Topics.EVENTS_DEAD_LETTER.name]["segment.ms"] == str(DAY_MS)
    assert configs[Topics.AUTOMATION_RULES.name]["cleanup.policy"] == "compact"
    assert "retention.ms" not in configs[Topics.AUTOMATION_RULES.name]


def test_topics_that_already_exist_are_brought_to_the_retention_of_the_settings(bootstrap: str) -> None:
    # Created by an older ShopLoop, with the cluster's defaults.
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="test-retention")
    try:
        admin.create_topics([NewTopic("shoploop.old.events", num_partitions=1, replication_factor=1)])
        admin.create_topics([NewTopic("shoploop.old.events.dlq", num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    old = (TopicSpec("shoploop.old.events"), TopicSpec("shoploop.old.events.dlq"))

    ensure_topics(
        KafkaSettings(
            bootstrap_servers=bootstrap,
            topic_retention_ms=3 * DAY_MS,
            dead_letter_retention_ms=30 * DAY_MS,
            topic_segment_ms=DAY_MS // 2,
        ),
        old,
    )

    configs = _configs(bootstrap, [spec.name for spec in old])
    assert configs["shoploop.old.events"]["retention.ms"] == str(3 * DAY_MS)
    assert configs["shoploop.old.events"]["segment.ms"] == str(DAY_MS // 2)
    assert configs["shoploop.old.events.dlq"]["retention.ms"] == str(30 * DAY_MS)
