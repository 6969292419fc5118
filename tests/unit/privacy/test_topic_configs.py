"""The configs ShopLoop sets on its topics bound how long a message can wait on them."""

from __future__ import annotations

from datetime import timedelta

from shoploop.kafka import TopicRetention, Topics, configs_to_change, topic_configs

RETENTION = TopicRetention(
    retention=timedelta(days=7), dead_letter_retention=timedelta(days=14), segment=timedelta(days=1)
)


def test_the_events_topic_keeps_records_for_the_retention_and_closes_segments_daily() -> None:
    assert topic_configs(Topics.EVENTS, RETENTION) == {
        "cleanup.policy": "delete",
        "retention.ms": "604800000",
        "segment.ms": "86400000",
    }


def test_dead_letters_are_kept_for_their_own_longer_retention_so_they_can_be_replayed_after_a_fix() -> None:
    assert topic_configs(Topics.EVENTS_DEAD_LETTER, RETENTION)["retention.ms"] == "1209600000"
    assert topic_configs(Topics.STREAMS_DEAD_LETTER, RETENTION)["retention.ms"] == "1209600000"


def test_a_compacted_topic_keeps_its_latest_values_without_a_retention() -> None:
    assert topic_configs(Topics.AUTOMATION_RULES, RETENTION) == {"cleanup.policy": "compact"}


def test_a_record_can_be_read_for_up_to_retention_plus_segment_time() -> None:
    assert RETENTION.longest_record_life == timedelta(days=8)


def test_only_the_configs_that_differ_from_the_topics_are_changed() -> None:
    wanted = {"cleanup.policy": "delete", "retention.ms": "604800000", "segment.ms": "86400000"}
    current = {"cleanup.policy": "delete", "retention.ms": "-1", "max.message.bytes": "1048588"}

    assert configs_to_change(wanted, current) == {"retention.ms": "604800000", "segment.ms": "86400000"}
    assert configs_to_change(wanted, wanted) == {}
