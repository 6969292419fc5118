"""An erasure's tombstone is pruned once no message of the erased shopper can reach a lake writer any more: after
the person window, the dead-letter replay bound, two topic lifetimes (an event, then what the streams decided from
it) and a margin — and only on a cluster that enforces the topics' retention. Until then it keeps filtering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from ingestion.collector.intake import DeadLetter
from ingestion.dead_letters import is_replayable
from shoploop.kafka import KafkaSettings, TopicRetention
from warehouse.compaction import compact_table
from warehouse.erasure import (
    LakeErasures,
    Tombstone,
    TombstoneLifetime,
    is_tombstone_prunable,
    prune_tombstones,
    read_tombstones,
    tombstone_expires_at,
    tombstone_lifetime,
    write_tombstone,
)
from warehouse.lake import EVENTS_SCHEMA

ERASED_AT = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=10)
# Events kept 7 days, dead letters 14, segments closed daily; one day of margin.
RETENTION = TopicRetention(
    retention=timedelta(days=7), dead_letter_retention=timedelta(days=14), segment=timedelta(days=1)
)
LIFETIME = TombstoneLifetime.of(RETENTION, margin=timedelta(days=1))
# Window + dead-letter replay + two topics' retention and segment time + margin.
EXPIRES_AT = ERASED_AT + WINDOW + timedelta(days=14) + 2 * timedelta(days=8) + timedelta(days=1)


def _tombstone(erased_at: datetime, *ids: str) -> Tombstone:
    return Tombstone(
        erased_at=erased_at,
        people_until=erased_at + WINDOW,
        person_ids=frozenset(ids[:1]),
        ids=frozenset(ids),
    )


LILY = _tombstone(ERASED_AT, "phone-lily", "u-lily")


def test_a_tombstone_expires_after_the_window_the_dead_letter_replay_two_topic_lives_and_the_margin() -> None:
    assert tombstone_expires_at(LILY, LIFETIME) == datetime(2027, 1, 7, 3, 10, tzinfo=UTC) == EXPIRES_AT


def test_a_tombstone_is_kept_until_the_moment_it_expires_and_pruned_from_then_on() -> None:
    assert not is_tombstone_prunable(LILY, now=ERASED_AT, lifetime=LIFETIME)
    assert not is_tombstone_prunable(LILY, now=EXPIRES_AT - timedelta(microseconds=1), lifetime=LIFETIME)
    assert is_tombstone_prunable(LILY, now=EXPIRES_AT, lifetime=LIFETIME)


@pytest.mark.parametrize(
    "longer",
    [
        TombstoneLifetime(timedelta(days=9), timedelta(days=14), timedelta(days=1)),  # longer topic retention
        TombstoneLifetime(
            timedelta(days=8), timedelta(days=30), timedelta(days=1)
        ),  # longer dead-letter replay
        TombstoneLifetime(timedelta(days=8), timedelta(days=14), timedelta(days=2)),  # larger margin
    ],
)
def test_each_longer_bound_keeps_the_tombstone_longer(longer: TombstoneLifetime) -> None:
    assert not is_tombstone_prunable(LILY, now=EXPIRES_AT, lifetime=longer)


def test_a_longer_person_window_keeps_the_tombstone_longer() -> None:
    late = Tombstone(LILY.erased_at, LILY.people_until + timedelta(hours=1), LILY.person_ids, LILY.ids)
    assert not is_tombstone_prunable(late, now=EXPIRES_AT, lifetime=LIFETIME)


def test_tombstones_are_kept_for_good_when_the_cluster_does_not_enforce_retention() -> None:
    assert tombstone_lifetime(KafkaSettings(is_retention_enforced=False)) is None
    enforced = tombstone_lifetime(KafkaSettings(is_retention_enforced=True, topic_retention_ms=3_600_000))
    assert enforced is not None
    assert enforced.record_life == timedelta(hours=1) + timedelta(days=1)


def test_a_dead_letter_older_than_the_dead_letter_retention_is_not_replayed() -> None:
    now = ERASED_AT + timedelta(days=20)

    def letter(received_at: datetime) -> DeadLetter:
        return DeadLetter(
            "unplanned_event", "not in the plan", {"messageId": "m-1"}, "miniprogram", received_at
        )

    retention = RETENTION.dead_letter_retention
    assert is_replayable(letter(now - timedelta(days=13)), now=now, dead_letter_retention=retention)
    assert is_replayable(letter(now - retention), now=now, dead_letter_retention=retention)
    assert not is_replayable(
        letter(now - retention - timedelta(seconds=1)), now=now, dead_letter_retention=retention
    )


def _viewed(message_id: str, *, person: str, received_at: datetime) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "message_id": message_id,
                "type": "track",
                "event": "Product Viewed",
                "person_id": person,
                "anonymous_id": person,
                "user_id": None,
                "timestamp": received_at,
                "original_timestamp": received_at,
                "received_at": received_at,
                "channel": "search",
                "source": "miniprogram",
                "properties": "{}",
                "traits": "{}",
                "context": "{}",
            }
        ],
        schema=EVENTS_SCHEMA,
    )


def test_pruning_removes_only_expired_tombstones_and_a_pruned_one_no_longer_filters(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_tombstone(lake, LILY)
    # Ming was erased a week after Lily: his tombstone has not expired when hers has.
    ming = _tombstone(ERASED_AT + timedelta(days=7), "phone-ming")
    write_tombstone(lake, ming)
    erasures = LakeErasures(lake)
    old_lily_event = _viewed("m-lily", person="phone-lily", received_at=ERASED_AT - timedelta(seconds=1))
    old_ming_event = _viewed("m-ming", person="phone-ming", received_at=ming.erased_at - timedelta(seconds=1))
    assert erasures.drop_erased(old_lily_event).num_rows == 0

    pruned = prune_tombstones(lake, lifetime=LIFETIME, now=EXPIRES_AT)

    assert len(pruned) == 1
    assert read_tombstones(lake) == [ming]
    # The sink that had loaded both notices the pruning: Lily's tombstone filters no more, Ming's still does.
    assert erasures.drop_erased(old_lily_event).num_rows == 1
    assert erasures.drop_erased(old_ming_event).num_rows == 0
    assert prune_tombstones(lake, lifetime=LIFETIME, now=EXPIRES_AT) == []


def test_compaction_prunes_expired_tombstones_only_when_the_cluster_enforces_retention(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    write_tombstone(lake, LILY)
    later = EXPIRES_AT + timedelta(days=1)
    day = timedelta(days=1) // timedelta(milliseconds=1)

    compact_table(
        lake / "events", id_column="message_id", order_column="received_at", kafka=KafkaSettings(), now=later
    )
    assert read_tombstones(lake) == [LILY]

    enforced = KafkaSettings(
        is_retention_enforced=True,
        topic_retention_ms=7 * day,
        dead_letter_retention_ms=14 * day,
        topic_segment_ms=day,
    )
    compact_table(
        lake / "events", id_column="message_id", order_column="received_at", kafka=enforced, now=later
    )
    assert read_tombstones(lake) == []
