"""The sink writes each message once however often Kafka delivers it, and compaction keeps every row once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson

from streams.sink.agents import decode_order_events, write_new_order_events
from warehouse.compaction import compact_partition
from warehouse.dedup import LakeIds
from warehouse.lake import ORDER_BOOK_PARTITION_KEY, order_book_glob

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
