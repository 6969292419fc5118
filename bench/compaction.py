"""What compaction buys a dbt build over a lake of the sink's small files, and what it costs.

A lake of `--events` synthetic events over two days (bench/warehouse.py's generator, with its order book) is
written the way the sink writes it: files of `--rows-per-file` rows each (the sink writes one per flush, every 2 s;
1,000 rows a file is 500 events/s), named with the Kafka origin of one worker holding four partitions. Then, in the
same run:

- DuckDB's raw scan of the events (every column, grouped by event and day: the ceiling), a full `dbt build` and an
  incremental one right after it (nothing new: the fixed cost of reading the lookback window), over the small
  files;
- one compaction round over the open partitions (tiers: `--min-files` files of a tier merged into one), then one
  over the closed partitions (each day into one file), with rows/s; the merged-away files deleted (past the grace);
- the same scan and builds over the compacted lake.

    python -m bench.compaction --events 1000000 --rows-per-file 1000
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from bench.warehouse import MEMORY_LIMIT, raw_scan_s, synthetic_batch
from warehouse.compaction import compact_lake
from warehouse.lake import ORDER_BOOK_PARTITION_KEY, PARTITION_KEY, KafkaOrigin, write_partition
from warehouse.publish import WarmDbt, build_and_publish
from warehouse.settings import WarehouseSettings

FIRST_DAY = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 2
ONE_WORKER = KafkaOrigin(frozenset({0, 1, 2, 3}), 4)


def write_small_files(table: pa.Table, table_dir: Path, *, key: str, column: str, rows_per_file: int) -> int:
    days = pc.strftime(table[column], format="%Y-%m-%d")
    files = 0
    for day in pc.unique(days).to_pylist():
        rows = table.filter(pc.equal(days, day))
        for start in range(0, rows.num_rows, rows_per_file):
            write_partition(
                table_dir, day, rows.slice(start, rows_per_file), partition_key=key, origin=ONE_WORKER
            )
            files += 1
    return files


def lake_files(settings: WarehouseSettings) -> int:
    return sum(len(list(d.glob("*=*/*.parquet"))) for d in (settings.events_dir, settings.order_book_dir))


def builds(settings: WarehouseSettings, warm_dbt: WarmDbt, label: str) -> None:
    scan = raw_scan_s(settings)
    started = time.perf_counter()
    assert build_and_publish(settings, full_refresh=True, warm_dbt=warm_dbt) == 0
    full = time.perf_counter() - started
    started = time.perf_counter()
    assert build_and_publish(settings, warm_dbt=warm_dbt) == 0
    incremental = time.perf_counter() - started
    print(
        f"{label}: {lake_files(settings):,} files; raw scan {scan:.2f} s; full build {full:.1f} s; "
        f"incremental build {incremental:.1f} s",
        flush=True,
    )


def compaction_round(settings: WarehouseSettings, *, now: datetime, label: str) -> None:
    started = time.perf_counter()
    results = compact_lake(settings, now=now)
    elapsed = time.perf_counter() - started
    assert results is not None
    rows = sum(r.rows for per in results.values() for r in per)
    merged = sum(r.merged_files for per in results.values() for r in per)
    written = sum(r.merges for per in results.values() for r in per)
    deleted = sum(r.deleted_files for per in results.values() for r in per)
    rate = f"{rows / elapsed:,.0f} rows/s" if rows else "-"
    print(
        f"compaction ({label}): {merged:,} files → {written:,}, {rows:,} rows written in {elapsed:.2f} s "
        f"({rate}); {deleted:,} merged-away files deleted",
        flush=True,
    )


def run(events: int, *, rows_per_file: int, min_files: int, keep: Path | None) -> None:
    root = keep or Path(tempfile.mkdtemp(prefix="bench-compaction-"))
    settings = WarehouseSettings(
        data_dir=root / f"data-{events}",
        build_memory_limit=MEMORY_LIMIT,
        compaction_min_files=min_files,
        compaction_memory_limit="2GB",
    )
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    batch = synthetic_batch(
        count=events,
        start=FIRST_DAY,
        span_s=DAYS * 86_400 - 600,
        seed=1,
        id_prefix="",
        shoppers=max(1_000, events // 25),
    )
    event_files = write_small_files(
        batch.events,
        settings.events_dir,
        key=PARTITION_KEY,
        column="received_at",
        rows_per_file=rows_per_file,
    )
    order_files = write_small_files(
        batch.order_book,
        settings.order_book_dir,
        key=ORDER_BOOK_PARTITION_KEY,
        column="occurred_at",
        rows_per_file=max(1, rows_per_file // 10),
    )
    print(
        f"== {events:,} events in {event_files:,} files, {batch.order_book.num_rows:,} order-book events in "
        f"{order_files:,} files; compaction min_files {min_files} ==",
        flush=True,
    )
    del batch
    warm_dbt = WarmDbt()
    # dbt's first build in a process loads the project (seconds): not timed.
    assert build_and_publish(settings, full_refresh=True, warm_dbt=warm_dbt) == 0
    builds(settings, warm_dbt, "small files")
    now = datetime.now(UTC)
    # Open partitions: the tiers (nothing is older than closed_after_s yet).
    compaction_round(
        settings.model_copy(update={"compaction_closed_after_s": 3600.0}), now=now, label="tiers"
    )
    # Closed partitions: each day into one file; then, past the grace, the merged-away files go.
    closed = settings.model_copy(update={"compaction_closed_after_s": 0.0})
    compaction_round(closed, now=now + timedelta(seconds=1), label="closed days")
    compaction_round(closed, now=now + timedelta(hours=1), label="after the grace")
    builds(settings, warm_dbt, "compacted")
    if keep is None:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rows-per-file", type=int, default=1_000)
    parser.add_argument("--min-files", type=int, default=8)
    parser.add_argument("--keep", type=Path, help="Write the lake here and leave it.")
    arguments = parser.parse_args()
    run(
        arguments.events,
        rows_per_file=arguments.rows_per_file,
        min_files=arguments.min_files,
        keep=arguments.keep,
    )


if __name__ == "__main__":
    main()
