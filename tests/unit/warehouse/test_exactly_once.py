"""The sink writes each message once however often Kafka delivers it, whichever worker holds its partition, and
compaction keeps every row once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pytest

from streams.sink.agents import batch_origin, decode_order_events, write_new_order_events
from streams.sink.events import write_new_events
from warehouse.compaction import compact_partition
from warehouse.dedup import LakeIds
from warehouse.lake import (
    EVENTS_SCHEMA,
    ORDER_BOOK_PARTITION_KEY,
    PARTITION_KEY,
    KafkaOrigin,
    events_glob,
    order_book_glob,
)

RECEIVED = datetime(2024, 11, 11, 2, 0, tzinfo=UTC)


def _paid(event_id: str, order_id: str, at: str = "2024-11-11T02:06:10+00:00") -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "event": "OrderPaid",
            "key": order_id,
            "occurred_at": at,
            "order_id": order_id,
            "user_id": "u-lily",
            "total_fen": 510,
            "transaction_id": f"tx-{order_id}",
        }
    )


def _ids(order_book_dir: Path) -> list[str]:
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select event_id from read_parquet(?) order by event_id", [order_book_glob(order_book_dir)]
        ).fetchall()
    return [row[0] for row in rows]


def _seen(order_book_dir: Path) -> LakeIds:
    return LakeIds(order_book_dir, id_column="event_id", partition_key=ORDER_BOOK_PARTITION_KEY)


def test_an_event_delivered_again_after_a_crash_is_not_written_twice(tmp_path: Path) -> None:
    events, broken = decode_order_events([_paid("ob-1", "o-1"), _paid("ob-2", "o-2")], received_at=RECEIVED)
    assert broken == []
    write_new_order_events(tmp_path, _seen(tmp_path), events)

    # A new process (the sink restarted) knows nothing but the lake, and gets both events again plus a new one.
    again, _ = decode_order_events(
        [_paid("ob-2", "o-2"), _paid("ob-1", "o-1"), _paid("ob-3", "o-3"), _paid("ob-3", "o-3")],
        received_at=RECEIVED,
    )
    written, files = write_new_order_events(tmp_path, _seen(tmp_path), again)

    assert (written, len(files)) == (1, 1)
    assert _ids(tmp_path) == ["ob-1", "ob-2", "ob-3"]


def test_a_retry_just_after_midnight_is_caught_in_the_previous_days_partition(tmp_path: Path) -> None:
    seen = _seen(tmp_path)
    first, _ = decode_order_events([_paid("ob-9", "o-9", "2024-11-11T23:59:59+00:00")], received_at=RECEIVED)
    write_new_order_events(tmp_path, seen, first)
    # Same id, but the (hypothetical) retry is dated after midnight: the day before is checked too.
    later, _ = decode_order_events([_paid("ob-9", "o-9", "2024-11-12T00:00:01+00:00")], received_at=RECEIVED)
    assert write_new_order_events(tmp_path, _seen(tmp_path), later)[0] == 0


def test_an_undecodable_outbox_message_is_set_aside_with_its_reason() -> None:
    events, broken = decode_order_events([b"not json", b'{"event_id": "x"}'], received_at=RECEIVED)
    assert events == []
    assert [reason.split(":")[0] for _, reason in broken] == ["JSONDecodeError", "KeyError"]


def test_compaction_merges_small_files_and_deletes_them_only_after_the_grace_period(tmp_path: Path) -> None:
    seen = _seen(tmp_path)
    for number in range(8):
        events, _ = decode_order_events([_paid(f"ob-{number}", f"o-{number}")], received_at=RECEIVED)
        write_new_order_events(tmp_path, seen, events)
    partition = tmp_path / f"{ORDER_BOOK_PARTITION_KEY}=2024-11-11"

    result = compact_partition(
        partition, id_column="event_id", order_column="received_at", grace_s=60, now=1000.0
    )

    assert (result.merged_files, result.rows, result.deleted_files) == (8, 8, 0)
    # Readers that listed the small files a moment ago can still open them; rows are duplicated meanwhile.
    assert len(list(partition.glob("*.parquet"))) == 9
    assert sorted(set(_ids(tmp_path))) == [f"ob-{n}" for n in range(8)]

    later = compact_partition(partition, id_column="event_id", order_column="received_at", grace_s=0)

    assert later.deleted_files == 8 and later.written is None
    assert [path.name for path in partition.glob("*.parquet")] == [result.written.name]  # type: ignore[union-attr]
    assert _ids(tmp_path) == [f"ob-{n}" for n in range(8)]


# Events: each file records the Kafka partitions its rows came from, and a worker checks a batch only against the
# files that may hold copies of it (warehouse.lake.KafkaOrigin). Lily's events are keyed to partition 1 of 4.
LILY = KafkaOrigin(frozenset({1}), 4)


def _lily_viewed(message_id: str) -> pa.Table:
    received = datetime(2024, 11, 11, 2, 0, tzinfo=UTC)
    row = {
        "message_id": message_id,
        "type": "track",
        "event": "Product Viewed",
        "person_id": "p-lily",
        "timestamp": received,
        "original_timestamp": received,
        "received_at": received,
        "channel": "search",
        "source": "mini-program",
        "properties": "{}",
        "traits": "{}",
        "context": "{}",
    }
    return pa.Table.from_pylist([row], schema=EVENTS_SCHEMA)


def _events_seen(events_dir: Path) -> LakeIds:
    return LakeIds(events_dir, id_column="message_id", partition_key=PARTITION_KEY)


def _message_ids(events_dir: Path) -> list[str]:
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select message_id from read_parquet(?) order by all", [events_glob(events_dir)]
        ).fetchall()
    return [row[0] for row in rows]


def test_a_worker_given_a_partition_in_a_rebalance_finds_what_its_previous_owner_wrote(
    tmp_path: Path,
) -> None:
    first_owner, next_owner = _events_seen(tmp_path), _events_seen(tmp_path)
    write_new_events(tmp_path, next_owner, _lily_viewed("m-bob"), origin=KafkaOrigin(frozenset({2, 3}), 4))
    write_new_events(tmp_path, first_owner, _lily_viewed("m-lily"), origin=KafkaOrigin(frozenset({0, 1}), 4))

    # The first owner crashed before committing; partition 1 now belongs to the other worker, which gets it again.
    written, _ = write_new_events(
        tmp_path, next_owner, _lily_viewed("m-lily"), origin=KafkaOrigin(frozenset({1, 2, 3}), 4)
    )

    assert written == 0
    assert _message_ids(tmp_path) == ["m-bob", "m-lily"]


def test_a_worker_does_not_read_the_files_of_partitions_it_does_not_hold(tmp_path: Path) -> None:
    day = tmp_path / f"{PARTITION_KEY}=2024-11-11"
    day.mkdir()
    # Another worker's file from partition 3: unreadable here, so reading it would fail the write.
    (day / "part-20241111T020000000000-0123456789ab.kafka-8-of-4.parquet").write_bytes(b"not parquet")

    written, files = write_new_events(tmp_path, _events_seen(tmp_path), _lily_viewed("m-lily"), origin=LILY)

    assert written == 1
    assert [KafkaOrigin.of_file(file.name) for file in files] == [LILY]
    with pytest.raises(pa.ArrowInvalid):  # a batch from partition 3 does read it
        write_new_events(
            tmp_path, _events_seen(tmp_path), _lily_viewed("m-ada"), origin=KafkaOrigin(frozenset({3}), 4)
        )


def test_a_file_that_records_no_partitions_is_checked_by_every_worker(tmp_path: Path) -> None:
    write_new_events(tmp_path, _events_seen(tmp_path), _lily_viewed("m-lily"))  # a backfill: origin unknown

    written, _ = write_new_events(tmp_path, _events_seen(tmp_path), _lily_viewed("m-lily"), origin=LILY)

    assert written == 0


def test_a_retry_after_the_topic_gained_partitions_is_caught_in_a_file_written_before(tmp_path: Path) -> None:
    # With 2 partitions Lily's key went to partition 0; with 4 the same key hashes to partition 2.
    write_new_events(
        tmp_path, _events_seen(tmp_path), _lily_viewed("m-lily"), origin=KafkaOrigin(frozenset({0}), 2)
    )

    written, _ = write_new_events(
        tmp_path, _events_seen(tmp_path), _lily_viewed("m-lily"), origin=KafkaOrigin(frozenset({2}), 4)
    )

    assert written == 0


def test_a_compacted_partition_still_catches_a_redelivery_once_the_small_files_are_gone(
    tmp_path: Path,
) -> None:
    seen = _events_seen(tmp_path)
    for number in range(8):
        write_new_events(tmp_path, seen, _lily_viewed(f"m-{number}"), origin=LILY)
    partition = tmp_path / f"{PARTITION_KEY}=2024-11-11"
    compact_partition(partition, id_column="message_id", order_column="received_at", min_files=8, now=0.0)
    compact_partition(partition, id_column="message_id", order_column="received_at", grace_s=0)
    assert len(list(partition.glob("*.parquet"))) == 1

    # The merged file records its sources' partitions: Lily's worker, and one that knows another partition count,
    # check it; a worker holding only partition 3 of 4 (which no copy of Lily's messages can reach) does not.
    (merged,) = partition.glob("*.parquet")
    assert KafkaOrigin.of_file(merged.name) == LILY
    for holder in (LILY, KafkaOrigin(frozenset({0}), 2)):
        written, _ = write_new_events(tmp_path, _events_seen(tmp_path), _lily_viewed("m-5"), origin=holder)
        assert written == 0
    assert _message_ids(tmp_path) == [f"m-{n}" for n in range(8)]


def test_a_batch_whose_partition_count_the_consumer_does_not_know_is_checked_against_every_file() -> None:
    assert batch_origin({0, 3}, 4) == KafkaOrigin(frozenset({0, 3}), 4)
    assert batch_origin({0, 3}, None) is None
    assert batch_origin({0, 5}, 4) is None  # the topic grew and this consumer's metadata has not caught up
