"""Compaction keeps the lake to a few files without rewriting a growing day again and again, merges only files of
one Kafka origin group, runs over every table the sink writes, and leaves every row once after a crash."""

from __future__ import annotations

import math
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pyarrow as pa
import pytest

import warehouse.compaction as compaction
from streams.sink.events import write_new_events
from warehouse.compaction import (
    CompactionPolicy,
    LakeFile,
    compact_lake,
    compact_partition,
    compaction_lock,
    origin_groups,
    plan_merges,
    run_periodically,
)
from warehouse.dedup import LakeIds
from warehouse.lake import (
    EVENTS_SCHEMA,
    PARTITION_KEY,
    PUSHES_SCHEMA,
    KafkaOrigin,
    OrderBookEvent,
    write_order_events,
    write_partition,
)
from warehouse.settings import WarehouseSettings

RECEIVED = datetime(2024, 11, 11, 2, 0, tzinfo=UTC)
NOW = 1_000_000.0
POLICY = CompactionPolicy(min_files=4, closed_after_s=3600.0, grace_s=60.0)
LILY = KafkaOrigin(frozenset({1}), 4)


def _sink_file(number: int, *, tier: int = 0, tag: str = "kafka-2-of-4", age_s: float = 0.0) -> LakeFile:
    prefix = "part" if tier == 0 else f"compact-t{tier}"
    return LakeFile(f"{prefix}-{number:08d}-abc.{tag}.parquet", NOW - age_s)


# -- the plan (pure) -------------------------------------------------------------------------------------------


def test_a_tier_of_min_files_sink_files_is_merged_into_one_file_of_the_next_tier() -> None:
    files = [_sink_file(n) for n in range(4)]

    (merge,) = plan_merges(files, policy=POLICY, now=NOW)

    assert merge.sources == tuple(f.name for f in files)
    assert merge.tier == 1
    assert merge.origin == LILY


def test_the_merged_file_of_an_open_partition_is_left_alone_when_a_few_new_files_arrive() -> None:
    files = [_sink_file(0, tier=1), *(_sink_file(n) for n in range(1, 4))]
    assert plan_merges(files, policy=POLICY, now=NOW) == []


def test_a_partition_that_received_nothing_for_an_hour_is_merged_into_one_file() -> None:
    files = [_sink_file(0, tier=2, age_s=7200), _sink_file(1, tier=1, age_s=5000), _sink_file(2, age_s=3600)]

    (merge,) = plan_merges(files, policy=POLICY, now=NOW)

    assert len(merge.sources) == 3 and merge.tier == 3


def test_files_of_workers_holding_different_partitions_are_merged_apart_and_keep_their_origin() -> None:
    # Worker A held partitions 0 and 2 (batches of either or both), worker B partition 1; two files without origin.
    worker_a = [
        _sink_file(n, tag=tag) for n, tag in enumerate(["kafka-1-of-4", "kafka-5-of-4", "kafka-4-of-4"])
    ]
    worker_b = [_sink_file(10 + n, tag="kafka-2-of-4") for n in range(2)]
    untagged = [LakeFile(f"part-{n}.parquet", NOW) for n in range(2)]

    groups = origin_groups([*worker_a, *worker_b, *untagged])

    assert sorted(sorted(f.name for f in group) for group in groups) == sorted(
        sorted(f.name for f in group) for group in (worker_a, worker_b, untagged)
    )
    merges = plan_merges([*worker_a, *worker_b, *untagged], policy=CompactionPolicy(min_files=2), now=NOW)
    assert {m.origin for m in merges} == {KafkaOrigin(frozenset({0, 2}), 4), LILY, None}


def test_over_a_busy_day_each_row_is_rewritten_once_per_tier_and_the_partition_stays_small() -> None:
    """A sink file every 2 s for a day, compaction every minute: the bytes rewritten grow as n·log(n), not n²."""
    min_files, per_minute, minutes = 8, 30, 24 * 60
    policy = CompactionPolicy(min_files=min_files, closed_after_s=3600.0)
    rows: dict[str, int] = {}
    rewritten = most_files = 0
    for minute in range(minutes):
        for number in range(per_minute):
            rows[f"part-{minute:05d}{number:03d}-x.kafka-1-of-1.parquet"] = 1000
        now = 60.0 * (minute + 1)
        files = [LakeFile(name, now) for name in rows]
        for merge in plan_merges(files, policy=policy, now=now):
            merged = sum(rows.pop(name) for name in merge.sources)
            rewritten += merged
            rows[f"compact-t{merge.tier}-{minute:05d}-{merge.tier}.kafka-1-of-1.parquet"] = merged
        most_files = max(most_files, len(rows))

    day_rows = minutes * per_minute * 1000
    tiers = math.ceil(math.log(minutes * per_minute, min_files))
    assert sum(rows.values()) == day_rows
    assert rewritten <= tiers * day_rows
    assert most_files <= tiers * min_files + per_minute


# -- over real files -------------------------------------------------------------------------------------------


def _views(ids: list[str], *, person: str = "lily") -> pa.Table:
    rows = [
        {
            "message_id": message_id,
            "type": "track",
            "event": "Product Viewed",
            "person_id": person,
            "anonymous_id": f"phone-{person}",
            "user_id": None,
            "timestamp": RECEIVED,
            "original_timestamp": RECEIVED,
            "sent_at": RECEIVED,
            "received_at": RECEIVED + timedelta(seconds=number),
            "scene": 1007,
            "channel": "share_single_chat",
            "source": "mini-program",
            "properties": '{"product_id": "85123A"}',
            "traits": "{}",
            "context": "{}",
        }
        for number, message_id in enumerate(ids)
    ]
    return pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA)


def _ids(table_dir: Path, column: str = "message_id") -> list[str]:
    with duckdb.connect() as connection:
        rows = connection.execute(
            f"select {column} from read_parquet(?) order by all", [str(table_dir / "*=*" / "*.parquet")]
        ).fetchall()
    return [row[0] for row in rows]


def _seen(events_dir: Path) -> LakeIds:
    return LakeIds(events_dir, id_column="message_id", partition_key=PARTITION_KEY)


def _sink_writes(events_dir: Path, batches: int, *, per_batch: int = 3) -> list[str]:
    seen = _seen(events_dir)
    ids = []
    for batch in range(batches):
        batch_ids = [f"m-{batch}-{n}" for n in range(per_batch)]
        write_new_events(events_dir, seen, _views(batch_ids), origin=LILY)
        ids += batch_ids
    return sorted(ids)


def _push(push_id: str, *, fact: str) -> dict[str, object]:
    return {
        "push_id": push_id,
        "rule_id": "abandoned-cart",
        "rule_version": 1,
        "person_id": "lily",
        "user_id": "u-lily",
        "is_holdout": False if fact == "decided" else None,
        "decided_at": RECEIVED,
        "sent_at": RECEIVED if fact == "sent" else None,
        "opened_at": RECEIVED if fact == "opened" else None,
        "template_id": "tpl-cart",
        "received_at": RECEIVED,
    }


def _write_every_table(settings: WarehouseSettings, files: int) -> None:
    _sink_writes(settings.events_dir, files)
    for number in range(files):
        order = OrderBookEvent(
            event_id=f"ob-{number}",
            event="OrderPaid",
            key=f"o-{number}",
            occurred_at=RECEIVED,
            order_id=f"o-{number}",
            user_id="u-lily",
            payload="{}",
            received_at=RECEIVED,
        )
        write_order_events(settings.order_book_dir, [order])
        facts = [_push(f"push-{number}", fact=fact) for fact in ("decided", "sent", "opened")]
        write_partition(settings.pushes_dir, "2024-11-11", pa.Table.from_pylist(facts, schema=PUSHES_SCHEMA))


def _parquet_count(table_dir: Path) -> int:
    return len(list(table_dir.glob("*=*/*.parquet")))


def test_one_round_compacts_the_events_the_order_book_and_the_pushes(tmp_path: Path) -> None:
    settings = WarehouseSettings(data_dir=tmp_path, compaction_min_files=4, compaction_grace_s=60)
    _write_every_table(settings, files=4)

    results = compact_lake(settings)

    assert results is not None
    assert {table: sum(r.merges for r in per) for table, per in results.items()} == {
        "events": 1,
        "order_book": 1,
        "pushes": 1,
    }
    # Pushes have no row id: the decision, the send and the open of each push all stay (once, after the grace).
    later = datetime.now(UTC) + timedelta(seconds=61)
    compact_lake(settings, now=later)
    assert _ids(settings.order_book_dir, "event_id") == [f"ob-{n}" for n in range(4)]
    assert _ids(settings.events_dir) == sorted(f"m-{b}-{n}" for b in range(4) for n in range(3))
    assert sorted(_ids(settings.pushes_dir, "push_id")) == sorted(
        f"push-{n}" for n in range(4) for _ in range(3)
    )
    assert [
        _parquet_count(d) for d in (settings.events_dir, settings.order_book_dir, settings.pushes_dir)
    ] == [
        1,
        1,
        1,
    ]


def test_the_compaction_loop_keeps_compacting_every_table_until_stopped(tmp_path: Path) -> None:
    settings = WarehouseSettings(data_dir=tmp_path, compaction_min_files=2, compaction_grace_s=60)
    stop = threading.Event()
    loop = threading.Thread(target=run_periodically, args=(settings,), kwargs={"every_s": 0.05, "stop": stop})
    loop.start()
    try:
        _write_every_table(settings, files=6)
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while any(
            not list(d.glob("*=*/compact-t*.parquet"))
            for d in (settings.events_dir, settings.order_book_dir, settings.pushes_dir)
        ):
            assert datetime.now(UTC) < deadline, "the loop did not compact every table"
            stop.wait(0.05)
    finally:
        stop.set()
        loop.join(timeout=20)
    assert not loop.is_alive()


def test_a_second_compaction_skips_its_round_while_one_holds_the_lake(tmp_path: Path) -> None:
    settings = WarehouseSettings(data_dir=tmp_path, compaction_min_files=4, compaction_grace_s=60)
    _write_every_table(settings, files=4)
    with compaction_lock(settings.lake_dir) as is_held:
        assert is_held
        assert compact_lake(settings) is None
    assert compact_lake(settings) is not None


# -- crashes and races -----------------------------------------------------------------------------------------


class SimulatedCrash(BaseException):
    """The process dies here: nothing after it runs, not even `except Exception` handlers."""


def _crashing_os(after_replaces: int) -> SimpleNamespace:
    """The module's `os`, whose `replace` kills the compaction after `after_replaces` renames went through."""
    done = [0]

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        if done[0] == after_replaces:
            raise SimulatedCrash
        done[0] += 1
        os.replace(source, target)

    calls = {name: getattr(os, name) for name in dir(os) if not name.startswith("__")}
    return SimpleNamespace(**{**calls, "replace": replace})


@pytest.mark.parametrize("after_replaces", [0, 1])
def test_a_compaction_killed_at_any_step_loses_no_row_and_leaves_none_twice_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after_replaces: int
) -> None:
    events_dir = tmp_path / "events"
    expected = _sink_writes(events_dir, batches=8)
    partition = events_dir / f"{PARTITION_KEY}=2024-11-11"
    merge = {"id_column": "message_id", "order_column": "received_at", "min_files": 4, "grace_s": 60}

    # Killed after the merged file is written, before (0) or after (1) its manifest is renamed into place.
    monkeypatch.setattr(compaction, "os", _crashing_os(after_replaces))
    with pytest.raises(SimulatedCrash):
        compact_partition(partition, **merge)  # type: ignore[arg-type]
    monkeypatch.undo()

    # Right after the crash: every row is there (maybe twice, which staging absorbs)...
    assert sorted(set(_ids(events_dir))) == expected
    # ...and once the compactor is back (the partition still written to) and the grace period has passed, every
    # row is there once, and what the crash left behind is gone.
    restarted = time.time()
    for later in (restarted, restarted + 61, restarted + 122):
        compact_partition(partition, now=later, **merge)  # type: ignore[arg-type]
    assert _ids(events_dir) == expected
    assert [p.name for p in partition.iterdir() if p.name.startswith(".")] == []


def test_a_sink_racing_a_compaction_writes_every_message_once(tmp_path: Path) -> None:
    """A sink keeps writing (and restarted workers get batches again) while a compactor merges and deletes."""
    events_dir = tmp_path / "events"
    partition = events_dir / f"{PARTITION_KEY}=2024-11-11"
    stop = threading.Event()
    errors: list[BaseException] = []

    def compact_continuously() -> None:
        while not stop.is_set():
            try:
                if partition.is_dir():
                    compact_partition(
                        partition,
                        id_column="message_id",
                        order_column="received_at",
                        min_files=2,
                        grace_s=0.5,
                    )
            except BaseException as error:  # any failure is what this test looks for
                errors.append(error)
                return

    compactor = threading.Thread(target=compact_continuously)
    compactor.start()
    written_total = 0
    seen = _seen(events_dir)
    try:
        for batch in range(60):
            if batch % 5 == 0:
                seen = _seen(events_dir)  # a worker restarted: it knows only what the lake holds
            batch_ids = [f"m-{batch}-{n}" for n in range(5)]
            # Re-delivered: the last batch (its file just written), and one long merged and deleted by now.
            redelivered = [
                f"m-{earlier}-{n}" for earlier in (batch - 1, batch - 20) if earlier >= 0 for n in range(5)
            ]
            written, _ = write_new_events(events_dir, seen, _views([*redelivered, *batch_ids]), origin=LILY)
            written_total += written
            time.sleep(0.05)
    finally:
        stop.set()
        compactor.join(timeout=30)

    assert errors == []
    assert written_total == 60 * 5
    assert len(set(_ids(events_dir))) == 60 * 5


def test_shoploop_lake_compact_merges_every_table_once_and_says_what_it_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from shoploop.cli import app

    settings = WarehouseSettings(data_dir=tmp_path)
    _write_every_table(settings, files=8)
    monkeypatch.setenv("SHOPLOOP_WAREHOUSE_DATA_DIR", str(tmp_path))

    result = CliRunner().invoke(app, ["lake", "compact"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "events: 8 files merged into 1, 0 superseded files deleted",
        "order_book: 8 files merged into 1, 0 superseded files deleted",
        "pushes: 8 files merged into 1, 0 superseded files deleted",
    ]
