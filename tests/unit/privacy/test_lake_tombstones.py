"""The lake's tombstones keep an erased shopper's rows out of the lake after `privacy forget` ran: the sink and
compaction drop them, while other shoppers and the same device coming back as a new person are kept."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from shoploop.tombstone import Tombstone
from streams.sink.events import write_new_events
from warehouse.compaction import compact_table
from warehouse.dedup import LakeIds
from warehouse.erasure import LakeErasures, write_tombstone, writing_to_lake
from warehouse.lake import EVENTS_SCHEMA, PARTITION_KEY, events_glob

ERASED_AT = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
# Lily was person "phone-lily" (her phone's anonymousId) and logged in as u-lily.
LILY = Tombstone(
    erased_at=ERASED_AT,
    people_until=ERASED_AT + timedelta(minutes=10),
    person_ids=frozenset({"phone-lily"}),
    ids=frozenset({"phone-lily", "u-lily"}),
)


def _viewed(
    message_id: str, *, person: str, device: str, user_id: str | None = None, received_at: datetime
) -> dict[str, object]:
    return {
        "message_id": message_id,
        "type": "track",
        "event": "Product Viewed",
        "person_id": person,
        "anonymous_id": device,
        "user_id": user_id,
        "timestamp": received_at,
        "original_timestamp": received_at,
        "received_at": received_at,
        "channel": "search",
        "source": "miniprogram",
        "properties": "{}",
        "traits": "{}",
        "context": "{}",
    }


def _table(*rows: dict[str, object]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=EVENTS_SCHEMA)


def _lake_ids(events_dir: Path) -> list[str]:
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select message_id from read_parquet(?) order by message_id", [events_glob(events_dir)]
        ).fetchall()
    return [str(row[0]) for row in rows]


def _sink_write(lake: Path, erasures: LakeErasures, table: pa.Table) -> int:
    events_dir = lake / "events"
    seen = LakeIds(events_dir, id_column="message_id", partition_key=PARTITION_KEY)
    written, _ = write_new_events(events_dir, seen, table, erasures=erasures)
    return written


def test_the_sink_drops_an_erased_shoppers_events_and_keeps_her_device_coming_back_as_a_new_person(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    write_tombstone(lake, LILY)
    erasures = LakeErasures(lake)
    batch = _table(
        # On Kafka before the erasure: keyed by her person, or carrying her ids under another person id.
        _viewed(
            "m-before", person="phone-lily", device="phone-lily", received_at=ERASED_AT - timedelta(seconds=5)
        ),
        _viewed("m-merged", person="p-old", device="tablet", user_id="u-lily", received_at=ERASED_AT),
        # Served by a collector worker that had not yet read the erasure log: the old person id.
        _viewed(
            "m-window", person="phone-lily", device="phone-lily", received_at=ERASED_AT + timedelta(seconds=1)
        ),
        # Her device as a new person (a worker that had applied the erasure), and the same id after the window.
        _viewed("m-new", person="p-new", device="phone-lily", received_at=ERASED_AT + timedelta(seconds=2)),
        _viewed(
            "m-later", person="phone-lily", device="phone-lily", received_at=ERASED_AT + timedelta(hours=1)
        ),
        _viewed("m-ming", person="phone-ming", device="phone-ming", received_at=ERASED_AT),
    )

    written = _sink_write(lake, erasures, batch)

    assert written == 3
    assert (erasures.dropped_last, erasures.dropped_total) == (3, 3)
    assert _lake_ids(lake / "events") == ["m-later", "m-ming", "m-new"]


def test_the_sink_reads_a_tombstone_written_after_it_started(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    erasures = LakeErasures(lake)

    def lily_viewed(message_id: str) -> pa.Table:
        before = ERASED_AT - timedelta(seconds=1)
        return _table(_viewed(message_id, person="phone-lily", device="phone-lily", received_at=before))

    assert _sink_write(lake, erasures, lily_viewed("m-1")) == 1
    write_tombstone(lake, LILY)

    assert _sink_write(lake, erasures, lily_viewed("m-2")) == 0
    assert erasures.dropped_total == 1


def test_a_tombstone_waits_for_the_lake_write_in_progress(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    written = threading.Event()

    def erase() -> None:
        write_tombstone(lake, LILY)
        written.set()

    with writing_to_lake(lake):
        eraser = threading.Thread(target=erase)
        eraser.start()
        time.sleep(0.2)
        # The sink's file is not in place yet: the erasure must not list the lake before it is.
        assert not written.is_set()
    eraser.join(timeout=10)
    assert written.is_set()


def test_compaction_leaves_out_an_erased_shoppers_rows(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    events_dir = lake / "events"
    seen = LakeIds(events_dir, id_column="message_id", partition_key=PARTITION_KEY)
    for number in range(4):
        for person in ("phone-lily", "phone-ming"):
            row = _viewed(f"m-{person}-{number}", person=person, device=person, received_at=ERASED_AT)
            write_new_events(events_dir, seen, _table(row))
    # The erasure ran while a compaction was reading these files: the tombstone is there when it merges.
    write_tombstone(lake, LILY)

    (result,) = compact_table(events_dir, id_column="message_id", order_column="received_at", grace_s=0)

    assert (result.merged_files, result.rows) == (8, 4)
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select distinct person_id from read_parquet(?)", [str(result.written)]
        ).fetchall()
    assert rows == [("phone-ming",)]
