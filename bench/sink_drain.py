"""Sink drain benchmark: how fast the real `shoploop sink` clears a backlog, beside a plain aiokafka consumer
fetching the same topic (the ceiling of the broker's fetch) and the lake path alone on the same records.

    .venv/bin/python -m bench.sink_drain [--events 400000] [--rounds 1] [--code DIR ...] [--venv DIR ...]
                                         [--port 19500] [--skip-ceiling]

What it does, all on this machine, once per round and per `--code` (default: this checkout):
1. starts a fresh embedded broker (Tansu, memory) and fills `shoploop.events` with N events as the collector
   writes them: per 100-event request, one JSON-lines record per partition (`records_by_partition(bundle=True)`),
   keyed by person; librdkafka produces them, acks=all;
2. the ceiling: a plain aiokafka consumer (no group, no Faust) reads every record back, with aiokafka's
   defaults and with the fetch sizes the sink is configured with;
3. the lake path on those records: `EventDecoder.decode` + `write_new_events` in batches of `sink_batch_size`
   events, as the sink takes them, into a scratch lake (no Kafka);
4. the real sink: `shoploop sink` started as a process (with `PYTHONPATH=DIR` when `--code` is given) on a
   fresh broker holding the same records, timed until the lake holds all N rows (row counts from the Parquet
   footers, every 0.2 s); reported from the process's start, and after the first file landed (start-up, group
   join and the first file's rows left out: the rate at which the rest of the backlog drains).

With `--venv` (repeatable) the real sink is started from each of those virtualenvs' `bin/shoploop` in turn, for
each `--code`: e.g. a venv with its modules byte-compiled against one without `.pyc` files (this machine sets
PYTHONDONTWRITEBYTECODE, so such a venv compiles every module from source at each start).

Figures are events/s; every one is also given as a ratio to the aiokafka ceiling of the same round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
from confluent_kafka import Producer

from bench.ingest import BATCH_SIZE, load_batch
from ingestion.collector.publisher import records_by_partition
from ingestion.contract.event import enrich
from ingestion.contract.segment import SegmentMessage
from shoploop.broker import embedded_broker
from shoploop.kafka import KafkaSettings, Topics, ensure_topics
from shoploop.processes import stop_process

REQUEST_EVENTS = BATCH_SIZE


def collector_records(events: int, partition_count: int) -> list[tuple[int, bytes | None, bytes]]:
    """(partition, key, value) records for `events` enriched events, bundled per 100-event request as the
    collector produces them. 200 distinct requests are enriched; the rest are copies with fresh messageIds."""
    received_at = datetime.now(UTC)
    templates: list[list[tuple[bytes, bytes, bytes]]] = []
    for seed in range(200):
        request = []
        for message in load_batch(seed):
            event = enrich(
                SegmentMessage.model_validate(message),
                received_at=received_at,
                batch_sent_at=received_at,
                batch_context=None,
                source="miniprogram",
            )
            request.append((event.person_id.encode(), event.to_json(), str(message["messageId"]).encode()))
        templates.append(request)
    records: list[tuple[int, bytes | None, bytes]] = []
    for index in range(events // REQUEST_EVENTS):
        copies: list[tuple[bytes, bytes]] = [
            (key, value.replace(message_id, str(uuid.uuid4()).encode()))
            for key, value, message_id in templates[index % len(templates)]
        ]
        for partition, bundle in records_by_partition(copies, partition_count, bundle=True).items():
            records.extend((partition, key, value) for key, value in bundle)
    return records


def fill(bootstrap: str, records: list[tuple[int, bytes | None, bytes]]) -> float:
    """Produce the records (acks=all) and wait for every acknowledgement; returns seconds taken."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "linger.ms": 5,
            "message.max.bytes": 2 * 1024 * 1024,
            "queue.buffering.max.kbytes": 1024 * 1024,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    started = time.perf_counter()
    for partition, key, value in records:
        while True:
            try:
                producer.produce(Topics.EVENTS.name, value, key, partition=partition)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    if producer.flush(120) != 0:
        raise RuntimeError("the broker did not acknowledge every record")
    return time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class Fetched:
    seconds: float
    records: int
    events: int
    bytes: int


async def _aiokafka_fetch(
    bootstrap: str, total_records: int, **settings: object
) -> tuple[Fetched, list[bytes]]:
    """A plain aiokafka consumer, no group: every partition from the beginning until all records are read."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **settings)
    await consumer.start()
    try:
        numbers = consumer.partitions_for_topic(Topics.EVENTS.name) or set()
        partitions = [TopicPartition(Topics.EVENTS.name, p) for p in sorted(numbers)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        values: list[bytes] = []
        started = time.perf_counter()
        while len(values) < total_records:
            batches = await consumer.getmany(timeout_ms=1000)
            for messages in batches.values():
                values.extend(message.value for message in messages if message.value is not None)
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
    events = sum(value.count(b"\n") + 1 for value in values)
    return Fetched(seconds, len(values), events, sum(map(len, values))), values


def lake_path(values: list[bytes], batch_records: int, lake: Path) -> float:
    """Seconds the sink's lake path takes on these records: decode + exactly-once write, `batch_records` a batch."""
    from streams.sink.events import EventDecoder, write_new_events
    from warehouse.dedup import LakeIds
    from warehouse.lake import PARTITION_KEY

    events_dir = lake / "events"
    seen = LakeIds(events_dir, id_column="message_id", partition_key=PARTITION_KEY)
    decoder = EventDecoder()
    decoder.decode(values[:1])  # first-call imports (pyarrow.compute loads pandas) are not the lake path
    started = time.perf_counter()
    for start in range(0, len(values), batch_records):
        decoded = decoder.decode(values[start : start + batch_records])
        write_new_events(events_dir, seen, decoded.table)
    seconds = time.perf_counter() - started
    decoder.close()
    return seconds


class LakeRows:
    """Rows in the lake's events folder, from the Parquet footers of files not counted yet (cheap to poll)."""

    def __init__(self, events_dir: Path) -> None:
        self._events_dir = events_dir
        self._counted: dict[Path, int] = {}

    def total(self) -> int:
        if self._events_dir.exists():
            for path in self._events_dir.rglob("part-*.parquet"):
                if path not in self._counted:
                    try:
                        self._counted[path] = pq.read_metadata(path).num_rows
                    except OSError:
                        continue
        return sum(self._counted.values())


@dataclass(frozen=True, slots=True)
class Drained:
    seconds: float  # from the process's start to the last row
    first_row_s: float  # from the process's start to the first row
    first_rows: int  # rows landed at the first poll that saw any
    cpu_s: float


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def real_sink(
    bootstrap: str,
    events: int,
    data_dir: Path,
    *,
    code: str | None,
    venv: str | None,
    env_overrides: dict[str, str],
    timeout_s: float,
) -> Drained:
    """Start `shoploop sink` (from `venv`, else this interpreter's venv) and time it until the lake holds `events`
    rows."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SHOPLOOP_WAREHOUSE_DATA_DIR": str(data_dir),
        **env_overrides,
    }
    if code:
        env["PYTHONPATH"] = code
    rows = LakeRows(data_dir / "lake" / "events")
    shoploop = str(Path(venv) / "bin" / "shoploop" if venv else Path(sys.executable).parent / "shoploop")
    started = time.perf_counter()
    # Run in the scratch folder, where Faust puts its data folder too.
    sink = subprocess.Popen(
        [shoploop, "sink"], env=env, cwd=data_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    first_row_s = None
    first_rows = 0
    try:
        while True:
            landed = rows.total()
            now = time.perf_counter() - started
            if landed and first_row_s is None:
                first_row_s, first_rows = now, landed
            if landed >= events:
                cpu = _cpu_s(sink.pid)
                return Drained(now, first_row_s or now, first_rows, cpu)
            if now > timeout_s:
                raise TimeoutError(f"the sink landed {landed:,} of {events:,} events in {timeout_s:.0f} s")
            if sink.poll() is not None:
                raise RuntimeError(f"the sink exited with {sink.returncode}")
            time.sleep(0.2)
    finally:
        stop_process(sink, grace_s=20)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--code",
        action="append",
        default=[],
        help="a checkout whose streams/ code the sink runs (PYTHONPATH); repeat to alternate several in each round",
    )
    parser.add_argument(
        "--venv",
        action="append",
        default=[],
        help="a virtualenv whose `bin/shoploop` starts the sink; repeat to alternate several for each --code",
    )
    parser.add_argument("--port", type=int, default=19500, help="the embedded broker's port")
    parser.add_argument("--timeout-s", type=float, default=300.0)
    parser.add_argument(
        "--sink-env", action="append", default=[], help="NAME=VALUE for the sink process (repeatable)"
    )
    parser.add_argument("--skip-ceiling", action="store_true", help="only the real sink")
    args = parser.parse_args()
    env_overrides = dict(item.split("=", 1) for item in args.sink_env)
    codes: list[str | None] = list(args.code) or [None]
    venvs: list[str | None] = list(args.venv) or [None]

    kafka_partitions = KafkaSettings().default_partitions
    prepared = time.perf_counter()
    records = collector_records(args.events, kafka_partitions)
    events = args.events // REQUEST_EVENTS * REQUEST_EVENTS
    record_bytes = sum(len(value) for _, _, value in records)
    print(
        f"{events:,} events in {len(records):,} records ({record_bytes / len(records) / 1024:.1f} KB,"
        f" {events / len(records):.1f} events a record), {kafka_partitions} partitions;"
        f" prepared in {time.perf_counter() - prepared:.1f} s",
        flush=True,
    )
    from streams.settings import StreamsSettings

    sink_batch = StreamsSettings().sink_batch_size
    results: dict[str, list[float]] = {}

    def note(name: str, rate: float, ceiling: float) -> None:
        results.setdefault(name, []).append(rate)
        print(f"  {name:<58} {rate:>10,.0f} events/s   ratio to ceiling {rate / ceiling:.3f}", flush=True)

    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number}", flush=True)
        ceiling = float("nan")
        if not args.skip_ceiling:
            with embedded_broker(port=args.port) as bootstrap:
                ensure_topics(KafkaSettings(bootstrap_servers=bootstrap))
                fill_s = fill(bootstrap, records)
                print(f"  filled in {fill_s:.1f} s ({events / fill_s:,.0f} events/s)", flush=True)
                fetched, values = asyncio.run(
                    _aiokafka_fetch(bootstrap, len(records), max_partition_fetch_bytes=16 * 1024 * 1024)
                )
                defaults, _ = asyncio.run(_aiokafka_fetch(bootstrap, len(records)))
                faustlike, _ = asyncio.run(
                    _aiokafka_fetch(
                        bootstrap,
                        len(records),
                        max_partition_fetch_bytes=4 * 1024 * 1024,
                        fetch_max_wait_ms=1500,
                    )
                )
            assert fetched.events == events, (fetched.events, events)
            ceiling = events / fetched.seconds
            note("aiokafka consumer, 16 MB a partition (the ceiling)", ceiling, ceiling)
            note(
                "aiokafka consumer, aiokafka's defaults (1 MB a partition)",
                events / defaults.seconds,
                ceiling,
            )
            note(
                "aiokafka consumer, Faust's fetch settings (4 MB, 1.5 s wait)",
                events / faustlike.seconds,
                ceiling,
            )
            # Batches of `sink_batch_size` events, as the sink takes them.
            batch_records = max(1, sink_batch * len(records) // events)
            with tempfile.TemporaryDirectory(prefix="sink-drain-") as scratch:
                lake_s = lake_path(values, batch_records, Path(scratch))
            note(f"lake path alone (decode + write, {sink_batch:,} events a batch)", events / lake_s, ceiling)
            del values
        for code, venv in ((code, venv) for code in codes for venv in venvs):
            label = (code or "this checkout") + (f", {venv}" if venv else "")
            with (
                embedded_broker(port=args.port) as bootstrap,
                tempfile.TemporaryDirectory(prefix="sink-drain-") as data,
            ):
                ensure_topics(KafkaSettings(bootstrap_servers=bootstrap))
                fill(bootstrap, records)
                drained = real_sink(
                    bootstrap,
                    events,
                    Path(data),
                    code=code,
                    venv=venv,
                    env_overrides=env_overrides,
                    timeout_s=args.timeout_s,
                )
            print(
                f"  real sink ({label}): all rows in {drained.seconds:.1f} s from start, first row at"
                f" {drained.first_row_s:.1f} s, CPU {drained.cpu_s:.1f} s ({drained.cpu_s / events * 1e6:.1f} µs/event)",
                flush=True,
            )
            note(f"real sink, from start ({label})", events / drained.seconds, ceiling)
            after_first = drained.seconds - drained.first_row_s
            if after_first > 0:
                # Start-up, group join and the first file left out: the rate at which the backlog then drains.
                note(
                    f"real sink, after its first file ({label})",
                    (events - drained.first_rows) / after_first,
                    ceiling,
                )
    if args.rounds > 1:
        print("medians over the rounds:")
        for name, rates in results.items():
            print(f"  {name:<58} {statistics.median(rates):>10,.0f} events/s")


if __name__ == "__main__":
    main()
