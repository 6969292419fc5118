"""Warehouse benchmark: sink rows/s, full and incremental `dbt build`, dashboard queries, raw Parquet scan ceiling.

    .venv/bin/python -m bench.warehouse --events 1000000 --events 10000000

For each size: synthetic shoppers' events over 28 days in visits of 8 events (views, adds, checkouts, client
order reports) and a proportional order book (OrderPlaced + OrderPaid for every reported order, a refund for one
in twenty) are written straight into a fresh lake with the lake's own writer (`write_partition`, one file per day
as compaction leaves it). DuckDB runs with a memory limit of `MEMORY_LIMIT` (the machine is shared). Then, in the
same run:

- the sink's lake path: enriched events as Kafka values → `EventDecoder.decode` → exactly-once
  `write_new_events` in batches of the sink's `StreamsSettings.sink_batch_size` (`SHOPLOOP_STREAMS_SINK_BATCH_SIZE`;
  what the Faust agent does per batch, without Kafka), in one worker holding all four partitions of the topic and
  in two worker processes holding two each, the events split by shopper as Kafka's key split them (two consumers of
  one group; timed from both starting to both having written their last batch, and again to both processes' exit);
- the real Faust sink (`shoploop sink` on the embedded broker) on a smaller count, end to end from the first
  message produced until the lake holds them all;
- a full `dbt build` (`build_and_publish(full_refresh=True)`: models and data tests, no unit tests), with the
  dbt nodes it spent most on;
- an incremental build after a 5-minute batch is written (`build_and_publish`, starting from the published file,
  dbt kept warm as the periodic builder keeps it: `WarmDbt`, and from the copy of the published file the periodic
  builder prepares right after each publish: `prepare_next_build`, timed apart);
- every query of dashboards/queries.py against the published file, cold;
- DuckDB's raw scan of the same Parquet (every column read, grouped by event and day) as the ceiling.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.dedup import LakeIds
from warehouse.lake import (
    EVENTS_SCHEMA,
    ORDER_BOOK_PARTITION_KEY,
    ORDER_BOOK_SCHEMA,
    PARTITION_KEY,
    KafkaOrigin,
    events_glob,
    write_partition,
)
from warehouse.publish import BuildFile, WarmDbt, build_and_publish, prepare_next_build, project_fingerprint
from warehouse.settings import WarehouseSettings

DAYS = 28
FIRST_DAY = datetime(2024, 11, 1, tzinfo=UTC)
PRODUCTS = 500
SCENES = {
    1001: "discover_menu",
    1007: "share_single_chat",
    1008: "share_group_chat",
    1058: "official_account_article",
    1011: "qr_code",
}
EVENTS_PER_VISIT = 8
EVENT_MIX = {"Product Viewed": 0.62, "Product Added": 0.2, "Checkout Started": 0.1, "Order Completed": 0.08}


@dataclass(frozen=True, slots=True)
class Batch:
    events: pa.Table
    order_book: pa.Table


PARTS = frozenset({"sink", "builds", "incremental", "queries"})


def _strings(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), "")


def synthetic_batch(
    *, count: int, start: datetime, span_s: float, seed: int, id_prefix: str, shoppers: int
) -> Batch:
    """`count` events in visits spread evenly over `span_s` seconds from `start` (a shopper's visit is
    `EVENTS_PER_VISIT` events 20 s apart, as people browse in sessions), and the order book of their orders."""
    rng = np.random.default_rng(seed)
    visits = -(-count // EVENTS_PER_VISIT)
    visit_starts_us = rng.uniform(0, max(span_s - EVENTS_PER_VISIT * 20, 1) * 1e6, visits).astype(np.int64)
    visitors = rng.integers(0, shoppers, visits)
    visit_of_event = np.arange(count) // EVENTS_PER_VISIT
    step_us = (np.arange(count) % EVENTS_PER_VISIT) * 20_000_000
    offsets_us = visit_starts_us[visit_of_event] + step_us
    in_time_order = np.argsort(offsets_us, kind="stable")
    offsets_us = offsets_us[in_time_order]
    people = visitors[visit_of_event][in_time_order]
    received_us = np.int64(start.timestamp() * 1e6) + offsets_us
    received = pa.array(received_us, type=pa.timestamp("us", tz="UTC"))
    happened = pa.array(received_us - 1_000_000, type=pa.timestamp("us", tz="UTC"))
    names = np.array(list(EVENT_MIX))
    kinds = rng.choice(len(names), count, p=list(EVENT_MIX.values()))
    products = rng.integers(0, PRODUCTS, count)
    price_fen = 990 + (products % 50) * 200
    scene_choice = rng.integers(0, len(SCENES), count)
    scenes = np.array(list(SCENES))[scene_choice]
    channels = np.array(list(SCENES.values()))[scene_choice]
    numbers = np.arange(count)
    message_ids = _strings(f"{id_prefix}m-", numbers)
    order_ids = _strings(f"{id_prefix}o-", numbers)
    person_ids = _strings("p-", people)
    user_ids = _strings("u-", people)
    product_ids = _strings("sku-", products)
    price_yuan = pa.array(price_fen / 100).cast(pa.string())
    product_json = pc.binary_join_element_wise(
        '{"product_id":"', product_ids, '","price":', price_yuan, ',"quantity":1}', ""
    )
    is_order = kinds == list(EVENT_MIX).index("Order Completed")
    order_json = pc.binary_join_element_wise(
        '{"order_id":"',
        order_ids,
        '","total":',
        price_yuan,
        ',"revenue":',
        price_yuan,
        ',"products":[',
        product_json,
        "]}",
        "",
    )
    properties = pc.if_else(pa.array(is_order), order_json, product_json)
    context = pc.binary_join_element_wise('{"wechat":{"scene":', pa.array(scenes).cast(pa.string()), "}}", "")
    events = pa.Table.from_arrays(
        [
            message_ids,
            pa.array(np.full(count, "track")),
            pa.array(names[kinds]),
            person_ids,
            person_ids,
            user_ids,
            happened,
            happened,
            happened,
            received,
            pa.array(scenes.astype(np.int32)),
            pa.array(channels),
            pa.array(np.full(count, "mini-program")),
            properties,
            pa.array(np.full(count, "{}")),
            context,
        ],
        schema=EVENTS_SCHEMA,
    )
    mask = pa.array(is_order)
    return Batch(
        events=events,
        order_book=_order_book(
            events.filter(mask),
            order_ids=order_ids.filter(mask),
            skus=product_ids.filter(mask),
            totals=price_fen[is_order],
        ),
    )


def _order_book(orders: pa.Table, *, order_ids: pa.Array, skus: pa.Array, totals: np.ndarray) -> pa.Table:
    """OrderPlaced and OrderPaid for each reported order, RefundSucceeded for one in twenty: fen throughout."""
    count = orders.num_rows
    user_ids, at = orders["user_id"], orders["timestamp"]
    total = pa.array(totals).cast(pa.string())
    sku = skus
    at_iso = pc.strftime(at, format="%Y-%m-%dT%H:%M:%S+00:00")

    def rows(name: str, offset_s: int, extra: pa.Array, mask: np.ndarray | None = None) -> pa.Table:
        occurred = pa.array(
            pc.add(at.cast(pa.int64()), offset_s * 1_000_000).to_numpy(), type=pa.timestamp("us", tz="UTC")
        )
        event_ids = pc.binary_join_element_wise(order_ids, f"-{name}", "")
        payload = pc.binary_join_element_wise(
            '{"event_id":"',
            event_ids,
            f'","event":"{name}","key":"',
            order_ids,
            '","occurred_at":"',
            at_iso,
            '","order_id":"',
            order_ids,
            '","user_id":"',
            user_ids,
            '",',
            extra,
            "}",
            "",
        )
        table = pa.Table.from_arrays(
            [
                event_ids,
                pa.array(np.full(count, name)),
                order_ids,
                occurred,
                order_ids,
                user_ids,
                payload,
                pa.array(
                    pc.add(occurred.cast(pa.int64()), 1_000_000).to_numpy(), type=pa.timestamp("us", tz="UTC")
                ),
            ],
            schema=ORDER_BOOK_SCHEMA,
        )
        return table if mask is None else table.filter(pa.array(mask))

    placed = rows(
        "OrderPlaced",
        0,
        pc.binary_join_element_wise(
            '"total_fen":',
            total,
            ',"discount_fen":0,"coupon_id":null,"lines":[["',
            sku,
            '",1,',
            total,
            "]]",
            "",
        ),
    )
    paid = rows(
        "OrderPaid",
        30,
        pc.binary_join_element_wise('"total_fen":', total, ',"transaction_id":"wx-', order_ids, '"', ""),
    )
    refunded = rows(
        "RefundSucceeded",
        3600,
        pc.binary_join_element_wise('"refund_id":"rf-', order_ids, '","amount_fen":', total, ""),
        mask=np.arange(count) % 20 == 7,
    )
    return pa.concat_tables([placed, paid, refunded])


def write_lake(settings: WarehouseSettings, batch: Batch) -> tuple[float, list[Path]]:
    """Write a batch into the lake with the lake's writer, one file per day; returns seconds taken and the files."""
    started = time.perf_counter()
    files = []
    for table, table_dir, key, column in (
        (batch.events, settings.events_dir, PARTITION_KEY, "received_at"),
        (batch.order_book, settings.order_book_dir, ORDER_BOOK_PARTITION_KEY, "occurred_at"),
    ):
        days = pc.strftime(table[column], format="%Y-%m-%d")
        for day in pc.unique(days).to_pylist():
            files.append(
                write_partition(table_dir, day, table.filter(pc.equal(days, day)), partition_key=key)
            )
    return time.perf_counter() - started, files


def first_received_events(settings: WarehouseSettings, count: int) -> pa.Table:
    """The lake's first `count` events by received time: the sink's sample when the lake is reused (the same
    rows a fresh run takes from the generated batch, which is in received order)."""
    with duckdb.connect(config={"memory_limit": MEMORY_LIMIT}) as connection:
        table = connection.sql(
            "select * exclude (received_date) from read_parquet($glob, hive_partitioning = true) "
            "order by received_at, message_id limit $count",
            params={"glob": events_glob(settings.events_dir), "count": count},
        ).to_arrow_table()
    return table.select(EVENTS_SCHEMA.names).cast(EVENTS_SCHEMA)


def kafka_values(events: pa.Table) -> list[bytes]:
    """The events as the collector puts them on Kafka (enriched JSON, one message each)."""
    values = []
    for row in events.to_pylist():
        for name in ("timestamp", "original_timestamp", "sent_at", "received_at"):
            row[name] = row[name].isoformat()
        for name in ("properties", "traits", "context"):
            row[name] = orjson.loads(row[name])
        values.append(orjson.dumps(row))
    return values


def one_day(events: pa.Table) -> pa.Table:
    """The events received within one day, in their order, as a live sink gets them: every batch then lands in
    the same day's partition, whose files pile up into compaction's tiers (the generated lake spreads its events
    over `DAYS` days, about one sink batch a day)."""
    received = pa.array(
        [FIRST_DAY + timedelta(microseconds=n) for n in range(events.num_rows)],
        type=pa.timestamp("us", tz="UTC"),
    )
    return events.set_column(events.schema.get_field_index("received_at"), "received_at", received)


# The topic's partitions in the sink benches (ShopLoop's default `SHOPLOOP_KAFKA_DEFAULT_PARTITIONS`).
SINK_PARTITIONS = 4


def sink_batch_size() -> int:
    from streams.settings import StreamsSettings

    return StreamsSettings().sink_batch_size


def sink_path_rows_per_s(values: list[bytes], lake_dir: Path, *, batch_size: int) -> float:
    """What the sink agent does per batch, without Kafka: decode the record values, write what is new."""
    from streams.sink.events import EventDecoder, write_new_events

    events_dir = lake_dir / "events"
    seen = LakeIds(events_dir, id_column="message_id", partition_key=PARTITION_KEY)
    origin = KafkaOrigin(frozenset(range(SINK_PARTITIONS)), SINK_PARTITIONS)  # one worker holds them all
    decoder = EventDecoder()
    started = time.perf_counter()
    for first in range(0, len(values), batch_size):
        decoded = decoder.decode(values[first : first + batch_size])
        assert not decoded.broken
        write_new_events(events_dir, seen, decoded.table, origin=origin)
    elapsed = time.perf_counter() - started
    decoder.close()
    assert lake_count(events_dir) == len(values)
    return len(values) / elapsed


def parquet_writer_rows_per_s(events: pa.Table, lake_dir: Path, *, batch_size: int = 10_000) -> float:
    """The sink's ceiling: the lake's writer alone (`write_partition`, zstd Parquet, hidden then renamed) on the
    same events in the same batches, already decoded and known to be new."""
    events_dir = lake_dir / "events"
    started = time.perf_counter()
    for first in range(0, events.num_rows, batch_size):
        write_partition(events_dir, "2024-11-01", events.slice(first, batch_size))
    return events.num_rows / (time.perf_counter() - started)


def lake_count(events_dir: Path, *, distinct: bool = False) -> int:
    """Rows in the events lake; `distinct`: distinct message ids (while compaction's sources wait out their grace
    period beside the merged file, each of their rows is there twice)."""
    if not any(events_dir.glob("*/*.parquet")):
        return 0
    counted = "count(distinct message_id)" if distinct else "count(*)"
    with duckdb.connect() as connection:
        row = connection.execute(
            f"select {counted} from read_parquet(?)", [events_glob(events_dir)]
        ).fetchone()
    return int(row[0]) if row else 0


def faust_sink_rows_per_s(values: list[bytes], data_dir: Path) -> float:
    """The real `shoploop sink` worker on the embedded broker: first message produced → all in the lake."""
    from kafka import KafkaProducer

    from shoploop.broker import embedded_broker
    from shoploop.kafka import KafkaSettings, Topics, ensure_topics

    settings = WarehouseSettings(data_dir=data_dir)
    with embedded_broker() as bootstrap:
        ensure_topics(KafkaSettings(bootstrap_servers=bootstrap, default_partitions=2))
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "SHOPLOOP_WAREHOUSE_DATA_DIR": str(data_dir),
            "SHOPLOOP_STREAMS_SINK_FLUSH_S": "0.5",
        }
        sink = subprocess.Popen(
            [str(Path(sys.executable).parent / "shoploop"), "sink"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            producer = KafkaProducer(
                bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=1 << 20
            )
            producer.send(Topics.EVENTS.name, key=b"warm-up", value=values[0])
            producer.flush()
            deadline = time.monotonic() + 120
            while lake_count(settings.events_dir) < 1:  # the worker is up and consuming
                assert sink.poll() is None and time.monotonic() < deadline, "the sink did not start"
                time.sleep(0.2)
            started = time.perf_counter()
            for value in values[1:]:
                producer.send(Topics.EVENTS.name, value=value)
            producer.flush()
            while lake_count(settings.events_dir) < len(values):
                assert sink.poll() is None and time.monotonic() < deadline + 600, "the sink fell behind"
                time.sleep(0.2)
            producer.close()
            return (len(values) - 1) / (time.perf_counter() - started)
        finally:
            sink.terminate()
            sink.wait(timeout=30)


def dashboard_queries(warehouse: Path) -> dict[str, Callable[[], object]]:
    from dashboards import queries as q

    with duckdb.connect() as connection:
        connection.execute("attach ? as w (read_only)", [str(warehouse)])
        row = connection.execute("select min(session_date), max(session_date) from w.fct_sessions").fetchone()
    assert row is not None
    start, end = row
    last_week = end - timedelta(days=6)
    return {
        "warehouse_status": lambda: q.warehouse_status(warehouse),
        "funnel_options": lambda: q.funnel_options(warehouse),
        "funnel_daily": lambda: q.funnel_daily(warehouse, start=start, end=end),
        "data_dates": lambda: q.data_dates(warehouse),
        "period_totals": lambda: q.period_totals(warehouse, start=last_week, end=end),
        "daily_sales": lambda: q.daily_sales(warehouse, start=start, end=end),
        "retention_cohorts": lambda: q.retention_cohorts(warehouse, grain="week"),
        "repurchase": lambda: q.repurchase(warehouse),
        "product_performance": lambda: q.product_performance(warehouse, start=start, end=end),
        "product_dates": lambda: q.product_dates(warehouse),
        "rfm_segments": lambda: q.rfm_segments(warehouse),
        "interest_tags": lambda: q.interest_tags(warehouse),
        "active_hours": lambda: q.active_hours(warehouse),
        "regions": lambda: q.regions(warehouse, start=start, end=end),
        "referral_totals": lambda: q.referral_totals(warehouse, start=start, end=end),
        "referrals_daily": lambda: q.referrals_daily(warehouse, start=start, end=end),
        "top_sharers": lambda: q.top_sharers(warehouse, start=start, end=end),
        "share_trees": lambda: q.share_trees(warehouse, start=start, end=end),
        "experiments": lambda: q.experiments(warehouse),
        "live_minutes": lambda: q.live_minutes(warehouse, minutes=60),
        "pushes": lambda: q.pushes(warehouse),
        "audience_filter_options": lambda: q.audience_filter_options(warehouse),
        "audience_size": lambda: q.audience_size(warehouse, kind="win_back", delay_s=7 * 86_400),
        "most_active_shoppers": lambda: q.most_active_shoppers(warehouse),
    }


MEMORY_LIMIT = "6GB"


def raw_scan_s(settings: WarehouseSettings) -> float:
    """The ceiling: DuckDB reading every column of the same Parquet, grouped by event and received date."""
    started = time.perf_counter()
    with duckdb.connect(config={"memory_limit": MEMORY_LIMIT}) as connection:
        connection.execute(
            """
            select event, received_date, count(*), count(distinct person_id), sum(length(properties)),
                max(received_at)
            from read_parquet(?, hive_partitioning = true) group by all
            """,
            [events_glob(settings.events_dir)],
        ).fetchall()
    return time.perf_counter() - started


def _sink_worker(
    values: list[bytes], events_dir: str, partitions: frozenset[int], batch_size: int, *events: Any
) -> None:
    from streams.sink.events import EventDecoder, write_new_events

    ready, started, done = events
    seen = LakeIds(Path(events_dir), id_column="message_id", partition_key=PARTITION_KEY)
    origin = KafkaOrigin(partitions, SINK_PARTITIONS)
    decoder = EventDecoder()
    decoder.decode(values[:10])  # warm: DuckDB's JSON functions loaded
    ready.set()
    started.wait()
    for first in range(0, len(values), batch_size):
        table = decoder.decode(values[first : first + batch_size]).table
        write_new_events(Path(events_dir), seen, table, origin=origin)
    done.set()


def sink_two_workers_rows_per_s(
    values: list[bytes], lake_dir: Path, *, batch_size: int, compacted: bool = False
) -> tuple[float, float]:
    """Two sink processes, as two workers of one consumer group split the topic's partitions: the events are
    split by person into the partitions (a person's events are on one), each worker holds two of them and writes
    its share into the same lake."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    halves: list[list[bytes]] = [[], []]
    holds = [
        frozenset(range(0, SINK_PARTITIONS // 2)),
        frozenset(range(SINK_PARTITIONS // 2, SINK_PARTITIONS)),
    ]
    for value in values:
        partition = hash(orjson.loads(value)["person_id"]) % SINK_PARTITIONS
        halves[0 if partition in holds[0] else 1].append(value)
    start, ready, finished = (
        context.Event(),
        [context.Event(), context.Event()],
        [context.Event(), context.Event()],
    )
    events_dir = lake_dir / "events"
    workers = [
        context.Process(
            target=_sink_worker, args=(half, str(events_dir), held, batch_size, is_ready, start, done)
        )
        for half, held, is_ready, done in zip(halves, holds, ready, finished, strict=True)
    ]
    for worker in workers:
        worker.start()
    for is_ready in ready:
        assert is_ready.wait(timeout=120), "a sink worker did not start"
    began = time.perf_counter()
    start.set()
    # Timed to the last worker's last batch written, not to the processes' exit: the interpreters' teardown (tens
    # to hundreds of ms against a few hundred ms of work) is no part of a long-running sink's throughput.
    for done, worker in zip(finished, workers, strict=True):
        while not done.wait(timeout=0.05):
            assert worker.is_alive() or done.is_set(), "a sink worker died"
    elapsed = time.perf_counter() - began
    for worker in workers:
        worker.join()
    with_exit = time.perf_counter() - began
    assert all(worker.exitcode == 0 for worker in workers)
    assert lake_count(events_dir, distinct=compacted) == len(values)
    return len(values) / elapsed, len(values) / with_exit


# Events through the sink beside the compactor: enough for several compaction rounds while it writes.
COMPACTION_SAMPLE = 1_000_000
# Rounds of the compactor beside the sink in the comparison below: back to back (the deployable waits
# `compaction_interval_s`, 60 s by default), so the sink shares the cores with compaction all the time.
COMPACTION_ROUND_S = 0.2


def _compactor(data_dir: str, ready: Any, stop: Any, merged: Any) -> None:
    """The compactor process: `compact_lake` rounds over the lake under `data_dir` until `stop`, adding the files
    each round merged to `merged`."""
    from warehouse.compaction import compact_lake

    settings = WarehouseSettings(data_dir=Path(data_dir))
    compact_lake(settings)  # warm: modules and DuckDB loaded before the clock starts
    ready.set()
    while not stop.is_set():
        results = compact_lake(settings) or {}
        merged.value += sum(result.merged_files for table in results.values() for result in table)
        stop.wait(COMPACTION_ROUND_S)


def sink_beside_compactor_rows_per_s(
    values: list[bytes], data_dir: Path, *, batch_size: int
) -> tuple[float, int]:
    """The two sink workers into a fresh lake while a compactor process merges that lake's files (the deployable's
    policy: tiers of `compaction_min_files`) as they arrive; rows/s and files merged."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    shutil.rmtree(data_dir, ignore_errors=True)
    ready, stop, merged = context.Event(), context.Event(), context.Value("i", 0)
    compactor = context.Process(target=_compactor, args=(str(data_dir), ready, stop, merged))
    compactor.start()
    try:
        assert ready.wait(timeout=120), "the compactor did not start"
        lake_dir = WarehouseSettings(data_dir=data_dir).lake_dir
        rate, _ = sink_two_workers_rows_per_s(values, lake_dir, batch_size=batch_size, compacted=True)
    finally:
        stop.set()
        compactor.join(timeout=120)
    assert compactor.exitcode == 0, "the compactor failed"
    return rate, int(merged.value)


def slowest_nodes(settings: WarehouseSettings, *, top: int = 8) -> str:
    """The dbt nodes the last build spent most on (from dbt's run_results.json)."""
    results = orjson.loads((settings.data_dir / "dbt" / "target" / "run_results.json").read_bytes())[
        "results"
    ]
    timed = sorted(((r["execution_time"], r["unique_id"].split(".")[-1]) for r in results), reverse=True)
    total = sum(t for t, _ in timed)
    listed = ", ".join(f"{name} {t:.1f}" for t, name in timed[:top])
    return f"{len(timed)} nodes, {total:.1f} s in SQL; slowest: {listed}"


def full_build_copy(settings: WarehouseSettings) -> Path:
    """Where the builds part keeps its full build, per dbt project (an incremental build needs the same project)."""
    return settings.data_dir / f"bench-full-build-{project_fingerprint()}.duckdb"


def time_outside_nodes(settings: WarehouseSettings, build_s: float) -> str:
    """How a build's time splits: dbt's nodes (their summed execution times), the rest of dbt's run, and the
    build outside dbt's run (importing dbt and parsing the project on a process's first build, copying the
    published file when no copy was prepared, the last checkpoint, publishing)."""
    run = orjson.loads((settings.data_dir / "dbt" / "target" / "run_results.json").read_bytes())
    nodes_s = sum(r["execution_time"] for r in run["results"])
    dbt_s = float(run["elapsed_time"])
    return (
        f"{build_s:.2f} s = nodes {nodes_s:.2f} s + dbt around the nodes {dbt_s - nodes_s:.2f} s "
        f"+ outside dbt's run (import and parse if first, copy if not prepared, publish) {build_s - dbt_s:.2f} s"
    )


def restore_full_build(settings: WarehouseSettings, full_build: Path) -> None:
    """Publish a copy of the kept full build, as `build_and_publish` would have left it."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    copy = settings.warehouse_path.with_name("bench-restoring.duckdb")
    shutil.copyfile(full_build, copy)
    os.replace(copy, settings.warehouse_path)


def prepare_next_build_timed(settings: WarehouseSettings, build_file: BuildFile) -> str:
    """What `run_periodically` does right after each publish, while it waits for its next turn: copy the published
    file into its build file. Timed and printed, but not part of the next build's time."""
    started = time.perf_counter()
    prepared = prepare_next_build(settings, build_file)
    elapsed = time.perf_counter() - started
    return f"next build's copy prepared after publishing: {elapsed:.2f} s" if prepared else "no copy prepared"


def incremental_only(settings: WarehouseSettings, *, count: int, shoppers: int, batch_files: Path) -> None:
    """The incremental build alone, from the full build an earlier `--parts builds` run kept for this dbt project:
    seconds instead of the full build's minute, so main and a branch can alternate within one short CPU hold.
    dbt is warmed first by a build with no new events (itself timed: the fixed cost of an incremental build), then
    the full build is restored, the 5-minute batch written and the incremental build timed as in `builds`. As in
    `run_periodically`, the copy of the published file each build starts from is made after the publish before it
    (timed apart)."""
    full_build = full_build_copy(settings)
    if not full_build.exists():
        print(f"no kept full build for this dbt project at {full_build}: run with --parts builds first")
        return
    ceiling = raw_scan_s(settings)
    print(f"raw DuckDB scan of the lake (ceiling): {ceiling:.2f} s")
    print(f"dbt builds with {settings.build_threads} thread(s) (SHOPLOOP_WAREHOUSE_BUILD_THREADS)")
    warm_dbt = WarmDbt()
    with BuildFile(settings.build_dir) as build_file:
        restore_full_build(settings, full_build)
        started = time.perf_counter()
        assert build_and_publish(settings, warm_dbt=warm_dbt, build_file=build_file) == 0, (
            "warm-up build failed"
        )
        print(
            "incremental build with no new events (parses the project, warms dbt): "
            f"{time.perf_counter() - started:.1f} s"
        )
        restore_full_build(settings, full_build)
        print(f"  {prepare_next_build_timed(settings, build_file)}")
        started = time.perf_counter()
        assert build_and_publish(settings, warm_dbt=warm_dbt, build_file=build_file) == 0, (
            "no-op build failed"
        )
        noop_s = time.perf_counter() - started
        print(f"incremental build with no new events, dbt warm: {noop_s:.1f} s")
        print(f"  {time_outside_nodes(settings, noop_s)}")
        restore_full_build(settings, full_build)
        time_incremental_build(
            settings,
            warm_dbt,
            build_file,
            count=count,
            shoppers=shoppers,
            batch_files=batch_files,
            ceiling=ceiling,
            started_from="dbt kept warm, from the kept full build",
        )


def time_incremental_build(
    settings: WarehouseSettings,
    warm_dbt: WarmDbt,
    build_file: BuildFile,
    *,
    count: int,
    shoppers: int,
    batch_files: Path,
    ceiling: float,
    started_from: str,
) -> None:
    """Write five minutes of traffic at the lake's own average rate (at least 10,000 events, received now-ish)
    into the lake, then time the incremental build that takes them in (from the copy of the published file
    prepared after the last publish, as the periodic builder has it)."""
    batch_count = max(10_000, count * 300 // (DAYS * 86_400))
    newest = FIRST_DAY + timedelta(days=DAYS) - timedelta(seconds=600)
    five_minutes = synthetic_batch(
        count=batch_count, start=newest, span_s=300, seed=2, id_prefix="b-", shoppers=shoppers
    )
    _, written = write_lake(settings, five_minutes)
    batch_files.write_text("\n".join(str(path) for path in written))
    print(f"  {prepare_next_build_timed(settings, build_file)}")
    started = time.perf_counter()
    assert build_and_publish(settings, warm_dbt=warm_dbt, build_file=build_file) == 0, (
        "incremental build failed"
    )
    incremental_s = time.perf_counter() - started
    print(
        f"incremental dbt build after a 5-minute batch of {batch_count:,} events ({started_from}): "
        f"{incremental_s:.1f} s = {incremental_s / ceiling:.1f} x the raw scan"
    )
    print(f"  {slowest_nodes(settings)}")
    print(f"  {time_outside_nodes(settings, incremental_s)}")


def run(
    count: int,
    *,
    faust_count: int,
    keep: Path | None,
    reuse: bool = False,
    parts: frozenset[str] = PARTS,
) -> None:
    root = keep or Path(tempfile.mkdtemp(prefix="bench-warehouse-"))
    settings = WarehouseSettings(data_dir=root / f"data-{count}", build_memory_limit=MEMORY_LIMIT)
    complete = settings.data_dir / "bench-lake-complete"
    batch_files = settings.data_dir / "bench-batch-files"
    for sink_dir in ("sink", "sink2", "sinkc", "faust", "writer"):
        shutil.rmtree(root / f"{sink_dir}-{count}", ignore_errors=True)
    shoppers = max(1_000, count // 25)
    sample_count = min(count, 200_000)
    if reuse and complete.exists():
        # The lake of an earlier run with the same count; the last run's 5-minute batch is taken out again.
        for name in batch_files.read_text().split() if batch_files.exists() else []:
            Path(name).unlink(missing_ok=True)
        print(
            f"\n== {count:,} events, {shoppers:,} shoppers (lake reused from an earlier run: {complete}) =="
        )
        events_sample = first_received_events(settings, sample_count)
    else:
        shutil.rmtree(settings.data_dir, ignore_errors=True)
        started = time.perf_counter()
        batch = synthetic_batch(
            count=count, start=FIRST_DAY, span_s=DAYS * 86_400 - 600, seed=1, id_prefix="", shoppers=shoppers
        )
        generated_s = time.perf_counter() - started
        written_s, _ = write_lake(settings, batch)
        complete.write_text(f"{count} events, {batch.order_book.num_rows} order-book events\n")
        print(
            f"\n== {count:,} events, {batch.order_book.num_rows:,} order-book events, {shoppers:,} shoppers =="
        )
        print(
            f"generated in {generated_s:.1f} s; lake writer {count / written_s:,.0f} rows/s ({written_s:.1f} s)"
        )
        events_sample = batch.events.slice(0, sample_count)
        del batch

    if "sink" in parts:
        sample = kafka_values(events_sample)
        writer_rate = parquet_writer_rows_per_s(events_sample, root / f"writer-{count}")
        print(f"lake writer alone on the sink's sample (ceiling for the sink): {writer_rate:,.0f} rows/s")
        batch_size = sink_batch_size()
        sink_rate = sink_path_rows_per_s(sample, root / f"sink-{count}", batch_size=batch_size)
        print(
            f"sink lake path, one worker (decode + exactly-once write, batches of {batch_size:,}): "
            f"{sink_rate:,.0f} rows/s on {len(sample):,} events = {sink_rate / writer_rate:.2f} x the writer alone"
        )
        two_rate, two_rate_with_exit = sink_two_workers_rows_per_s(
            sample, root / f"sink2-{count}", batch_size=batch_size
        )
        print(
            f"sink lake path, two workers (2 cores, partitions split): {two_rate:,.0f} rows/s "
            f"= {two_rate / writer_rate:.2f} x the writer alone "
            f"({two_rate_with_exit:,.0f} rows/s timed to the processes' exit, as measured before 2026-12-06 night)"
        )
        compaction_sample = kafka_values(
            one_day(
                events_sample
                if count <= sample_count
                else first_received_events(settings, min(count, COMPACTION_SAMPLE))
            )
        )
        compaction_dir = root / f"sinkc-{count}"
        for attempt in (1, 2):
            shutil.rmtree(compaction_dir, ignore_errors=True)
            alone, _ = sink_two_workers_rows_per_s(
                compaction_sample, compaction_dir / "alone", batch_size=batch_size
            )
            beside, merged = sink_beside_compactor_rows_per_s(
                compaction_sample, compaction_dir / "beside", batch_size=batch_size
            )
            print(
                f"sink lake path, two workers, {len(compaction_sample):,} events, run {attempt}: alone "
                f"{alone:,.0f} rows/s; beside a compactor merging the same lake (rounds every "
                f"{COMPACTION_ROUND_S} s, {merged:,} files merged meanwhile) {beside:,.0f} rows/s "
                f"= {beside / alone:.2f} x alone"
            )
        shutil.rmtree(compaction_dir, ignore_errors=True)
        if faust_count:
            faust_rate = faust_sink_rows_per_s(sample[:faust_count], root / f"faust-{count}")
            print(
                f"real Faust sink (embedded broker, end to end): {faust_rate:,.0f} rows/s on {faust_count:,} events"
            )
    if "builds" in parts:
        ceiling = raw_scan_s(settings)
        print(f"raw DuckDB scan of the lake (ceiling): {ceiling:.2f} s")
        print(f"dbt builds with {settings.build_threads} thread(s) (SHOPLOOP_WAREHOUSE_BUILD_THREADS)")
        warm_dbt = WarmDbt()
        with BuildFile(settings.build_dir) as build_file:
            started = time.perf_counter()
            assert (
                build_and_publish(settings, full_refresh=True, warm_dbt=warm_dbt, build_file=build_file) == 0
            ), "full build failed"
            full_s = time.perf_counter() - started
            print(
                f"full dbt build (models + data tests): {full_s:.1f} s = {full_s / ceiling:.1f} x the raw scan"
            )
            print(f"  {slowest_nodes(settings)}")
            print(f"  {time_outside_nodes(settings, full_s)}")
            # Kept for `--parts incremental`, which starts again from this full build of the same dbt project.
            shutil.copyfile(settings.warehouse_path, full_build_copy(settings))
            time_incremental_build(
                settings,
                warm_dbt,
                build_file,
                count=count,
                shoppers=shoppers,
                batch_files=batch_files,
                ceiling=ceiling,
                started_from="dbt kept warm",
            )
        print(f"raw DuckDB scan of the lake (ceiling, again): {raw_scan_s(settings):.2f} s")
    if "incremental" in parts and "builds" not in parts:
        incremental_only(settings, count=count, shoppers=shoppers, batch_files=batch_files)
    if "queries" in parts and not settings.warehouse_path.exists():
        print(f"no published warehouse at {settings.warehouse_path}: run with --parts builds first")
    elif "queries" in parts:
        slowest = 0.0
        for name, query in dashboard_queries(settings.warehouse_path).items():
            started = time.perf_counter()
            query()
            elapsed = time.perf_counter() - started
            slowest = max(slowest, elapsed)
            print(f"  dashboard query {name:<24} {elapsed * 1000:7.0f} ms")
        print(f"slowest dashboard query: {slowest * 1000:.0f} ms")
    if keep is None:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def background_load(processes: int) -> Iterator[None]:
    """`processes` Python processes spinning on the CPU while the block runs: a loaded machine on demand (the
    sink, the collector and the dashboards share the builder's 2 cores in the demo), so a build can be timed under
    load in an exclusive hold instead of at whatever load the hour brings."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
        for _ in range(processes)
    ]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, action="append", help="lake sizes (repeatable); default 1M and 10M"
    )
    parser.add_argument("--faust-events", type=int, default=50_000, help="events through the real Faust sink")
    parser.add_argument("--keep", type=Path, help="keep the lakes and warehouses under this folder")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --keep: reuse a lake an earlier run generated there (its 5-minute batch is taken out first)",
    )
    parser.add_argument(
        "--parts",
        default=",".join(sorted(PARTS)),
        help="what to measure, comma-separated: sink (sink lake path and Faust sink), builds (full and "
        "incremental dbt build with the raw scan), incremental (the incremental build alone, from the full build "
        "an earlier builds run kept for the same dbt project), queries (dashboard queries on the published file); default all",
    )
    parser.add_argument(
        "--background-load",
        type=int,
        default=0,
        metavar="N",
        help="keep N processes spinning on the CPU during the whole run (a loaded machine); default 0",
    )
    args = parser.parse_args()
    parts = frozenset(part.strip() for part in args.parts.split(",") if part.strip())
    if unknown := parts - PARTS:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {sorted(PARTS)}")
    print(f"bench/warehouse.py on {os.cpu_count()} cores, {date.today().isoformat()}")
    if args.background_load:
        print(f"with {args.background_load} background processes spinning on the CPU")
    with background_load(args.background_load):
        for position, count in enumerate(args.events or [1_000_000, 10_000_000]):
            run(
                count,
                faust_count=args.faust_events if position == 0 else 0,
                keep=args.keep,
                reuse=args.reuse and args.keep is not None,
                parts=parts,
            )


if __name__ == "__main__":
    main()
