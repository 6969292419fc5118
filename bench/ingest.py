"""Ingestion benchmark: the collector under load on loopback, beside the raw Kafka producer as its ceiling.

    .venv/bin/python -m bench.ingest [--duration-s 20] [--connections 16] [--workers 2] [--sink concurrent]

What it does, all on this machine:
1. starts a fresh embedded broker (Tansu, memory) on a free port;
2. measures the ceiling: the collector's Kafka publisher alone (confluent-kafka, librdkafka) producing the
   load's enriched events with the collector's record granularity (one JSON-lines record per partition and
   100-event request, 16 requests in flight, each waiting for its acks), and, for reference, aiokafka doing
   the same (the producer the collector used before);
3. starts the real collector (`shoploop collector`, uvicorn) and the real sink (`shoploop sink`) as processes;
4. a separate load-generator process posts 100-event Segment batches over N concurrent keep-alive
   connections (a lean HTTP/1.1 client, so that the loader takes little of the cores it shares with the
   collector) and reports accepted events/s and request latency p50/p99;
5. the CPU each process used during the load, read from /proc, says where the two cores went;
6. end-to-end visibility: marker batches sent at a calm rate, timed from the collector's 200 until every
   event of the batch is queryable in the lake with DuckDB; p50/p95.

`--sink` says when the sink runs: `concurrent` (default, like a single-host deployment), `niced` (beside the
load at a lower CPU priority) or `after` (started once the load has ended, to show the collector alone).

Two ways to load the collector:
- closed loop (default): each connection sends its next batch as soon as the previous one is answered. This
  finds the most the collector accepts; with N connections the latency is N / (requests per second) by Little's
  law, i.e. the latency at saturation, where the wait behind the other connections' requests dominates.
- open loop (`--rate EVENTS_PER_S`): the connections send batches on a fixed schedule that totals the offered
  rate (50,000 events/s = 500 batches/s, batch j at j / 500 s, on connection j mod N), and each request's latency
  is counted from its SCHEDULED send time. A connection whose previous request is still unanswered sends late,
  and the delay counts, so a collector that falls behind shows it in the latencies (no coordinated omission). Every
  scheduled batch is sent (up to `--drain-s` after the schedule ends); this is the latency of N connections
  carrying the offered rate, as a fleet of clients that do not slow down when the collector does.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
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
from typing import Any

import duckdb
import httpx
import orjson

from ingestion.collector.publisher import ConfluentEventPublisher, records_by_partition
from ingestion.contract.event import enrich
from ingestion.contract.segment import SegmentMessage
from shoploop.broker import embedded_broker, free_port, wait_until_listening
from shoploop.kafka import KafkaSettings, Topics, ensure_topics
from warehouse.lake import events_glob

WRITE_KEY = "sl_demo_miniprogram_key"
BATCH_SIZE = 100
PEOPLE = 5000
SINK_MODES = ("concurrent", "niced", "after")


def load_message(person: int, sequence: int) -> dict[str, Any]:
    """One event of the load: a Product Viewed from a mini-program, as the SDK sends it."""
    return {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": f"bench-device-{person}",
        "messageId": str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).isoformat(),
        "properties": {
            "product_id": f"{85000 + sequence % 500}",
            "sku": f"{85000 + sequence % 500}-RED",
            "name": "WHITE HANGING HEART T-LIGHT HOLDER",
            "category": "灯饰香薰",
            "price": 26.85,
            "quantity": 1,
            "cart_id": f"cart-{person}",
        },
        "context": {
            "wechat": {"scene": 1007},
            "library": {"name": "shoploop-miniprogram", "version": "0.1.0"},
            "device": {"model": "iPhone 15", "brand": "Apple"},
            "os": {"name": "iOS", "version": "18.1"},
            "network": {"type": "wifi"},
            "locale": "zh_CN",
        },
    }


def load_batch(seed: int) -> list[dict[str, Any]]:
    """The messages of the load's batch number `seed`: 100 events of 100 devices."""
    return [
        load_message(person=(seed * 7 + i) % PEOPLE, sequence=seed * BATCH_SIZE + i)
        for i in range(BATCH_SIZE)
    ]


def _batch_body(seed: int) -> bytes:
    return orjson.dumps(
        {"batch": load_batch(seed), "sentAt": datetime.now(UTC).isoformat(), "writeKey": WRITE_KEY}
    )


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


# --- the ceiling: aiokafka alone -------------------------------------------------------------------------


def _enriched_requests(requests: int) -> list[list[tuple[bytes, bytes]]]:
    """The (key, value) records the collector produces for `requests` of the load's batches."""
    received_at = datetime.now(UTC)
    return [
        [
            (event.person_id.encode(), event.to_json())
            for event in (
                enrich(
                    SegmentMessage.model_validate(message),
                    received_at=received_at,
                    batch_sent_at=received_at,
                    batch_context=None,
                    source="miniprogram",
                )
                for message in load_batch(seed)
            )
        ]
        for seed in range(requests)
    ]


async def _producer_rate(bootstrap: str, seconds: float, *, bundled: bool, in_flight: int) -> float:
    """Events/s aiokafka reaches with acks=all, `in_flight` requests at a time, each waiting for its acks.

    Bundled: each 100-event request becomes one JSON-lines record per partition, as the collector sends
    them. Not bundled: one record per event.
    """
    from aiokafka import AIOKafkaProducer

    requests = _enriched_requests(200)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await producer.start()
    partition_count = len(await producer.partitions_for(Topics.EVENTS.name))
    sendable = [records_by_partition(records, partition_count, bundle=bundled) for records in requests]
    sent = 0
    deadline = time.perf_counter() + seconds

    async def requester(offset: int) -> None:
        nonlocal sent
        index = offset
        while time.perf_counter() < deadline:
            futures = [
                await producer.send(Topics.EVENTS.name, value, key=key, partition=partition)
                for partition, records in sendable[index % len(sendable)].items()
                for key, value in records
            ]
            await asyncio.gather(*futures)
            sent += BATCH_SIZE
            index += in_flight

    started = time.perf_counter()
    try:
        await asyncio.gather(*(requester(offset) for offset in range(in_flight)))
    finally:
        await producer.stop()
    return sent / (time.perf_counter() - started)


async def _publisher_rate(bootstrap: str, seconds: float, *, in_flight: int) -> float:
    """Events/s the collector's own publisher (confluent-kafka) reaches alone: the same bundled records,
    `in_flight` requests at a time, each waiting for every acknowledgement."""
    requests = _enriched_requests(200)
    publisher = ConfluentEventPublisher(KafkaSettings(bootstrap_servers=bootstrap), timeout_s=5.0)
    await publisher.start()
    sent = 0
    deadline = time.perf_counter() + seconds

    async def requester(offset: int) -> None:
        nonlocal sent
        index = offset
        while time.perf_counter() < deadline:
            await publisher.publish(Topics.EVENTS.name, requests[index % len(requests)], bundle=True)
            sent += BATCH_SIZE
            index += in_flight

    started = time.perf_counter()
    try:
        await asyncio.gather(*(requester(offset) for offset in range(in_flight)))
    finally:
        await publisher.stop()
    return sent / (time.perf_counter() - started)


# --- the load generator ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadResult:
    accepted: int
    refused: dict[int, int]
    latencies_s: list[float]
    distinct_accepted: int


async def _read_response(reader: asyncio.StreamReader) -> int:
    """The status of one HTTP/1.1 response, its body read off the keep-alive connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise RuntimeError("the collector answered without Content-Length; this client needs it")
    await reader.readexactly(length)
    return status


async def _load(host: str, port: int, connections: int, seconds: float, requests: list[bytes]) -> LoadResult:
    """Post the prepared requests over `connections` keep-alive connections until the time is up.

    A plain HTTP/1.1 client over asyncio streams: a general client (httpx) spends several hundred
    microseconds of CPU per request, which here would be taken from the collector's two cores.
    """
    latencies: list[float] = []
    accepted = 0
    refused: dict[int, int] = {}
    # Fast connections may wrap around the bodies and re-send some; the lake keeps each event once.
    distinct_sent: set[int] = set()
    deadline = time.perf_counter() + seconds

    async def connection(offset: int) -> None:
        nonlocal accepted
        reader, writer = await asyncio.open_connection(host, port)
        index = offset
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(requests[index % len(requests)])
                status = await _read_response(reader)
                latencies.append(time.perf_counter() - started)
                if status == 200:
                    accepted += BATCH_SIZE
                    distinct_sent.add(index % len(requests))
                else:
                    refused[status] = refused.get(status, 0) + 1
                index += connections
        finally:
            writer.close()

    await asyncio.gather(*(connection(offset) for offset in range(connections)))
    return LoadResult(accepted, refused, latencies, len(distinct_sent) * BATCH_SIZE)


@dataclass(frozen=True, slots=True)
class OpenLoadResult:
    scheduled: int
    accepted: int
    refused: dict[int, int]
    latencies_s: list[float]
    """From each answered request's scheduled send time to its answer."""
    service_s: list[float]
    """From the moment each request was actually written to its answer (what a closed-loop client sees)."""
    late: int
    """Requests due while their connection still waited for the previous answer, so sent after their time."""
    unsent: int
    """Scheduled requests never written: the drain limit passed first."""
    span_s: float
    """From the first scheduled send to the last answer."""
    distinct_accepted: int


async def _open_load(
    host: str,
    port: int,
    connections: int,
    seconds: float,
    requests: list[bytes],
    *,
    events_per_s: float,
    drain_s: float,
) -> OpenLoadResult:
    """Send batches on a fixed schedule totalling `events_per_s`; latency from the scheduled send time.

    Batch j is due at start + j * BATCH_SIZE / events_per_s on connection j mod `connections` (HTTP/1.1 keep-alive,
    one request at a time per connection, as Segment clients send). A connection still waiting for its previous
    answer sends as soon as it has it, and the request's latency includes the time it was overdue.
    """
    total = round(events_per_s * seconds / BATCH_SIZE)
    gap = BATCH_SIZE / events_per_s
    latencies: list[float] = []
    service: list[float] = []
    accepted = 0
    late = 0
    unsent = 0
    refused: dict[int, int] = {}
    distinct_sent: set[int] = set()
    last_answer = 0.0
    opened = await asyncio.gather(*(asyncio.open_connection(host, port) for _ in range(connections)))
    clock = time.perf_counter
    start = clock() + 0.05
    hard_stop = start + seconds + drain_s

    async def connection(offset: int) -> None:
        nonlocal accepted, late, unsent, last_answer
        reader, writer = opened[offset]
        answered = start
        try:
            for index in range(offset, total, connections):
                due = start + index * gap
                if answered > due:
                    late += 1  # the previous request on this connection was answered after this one was due
                while (now := clock()) < due:
                    await asyncio.sleep(due - now)
                if now > hard_stop:
                    unsent += len(range(index, total, connections))
                    return
                writer.write(requests[index % len(requests)])
                status = await _read_response(reader)
                answered = clock()
                latencies.append(answered - due)
                service.append(answered - now)
                last_answer = max(last_answer, answered)
                if status == 200:
                    accepted += BATCH_SIZE
                    distinct_sent.add(index % len(requests))
                else:
                    refused[status] = refused.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(connection(offset) for offset in range(connections)))
    return OpenLoadResult(
        scheduled=total,
        accepted=accepted,
        refused=refused,
        latencies_s=latencies,
        service_s=service,
        late=late,
        unsent=unsent,
        span_s=last_answer - start,
        distinct_accepted=len(distinct_sent) * BATCH_SIZE,
    )


def _http_request(host: str, port: int, body: bytes) -> bytes:
    head = (
        f"POST /v1/batch HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _load_process(
    host: str,
    port: int,
    connections: int,
    seconds: float,
    batches: int,
    started: Any,
    results: multiprocessing.Queue[Any],
    events_per_s: float | None = None,
    drain_s: float = 10.0,
) -> None:
    import uvloop

    # Distinct messageIds in every batch (made before the clock starts), so the lake holds every event.
    requests = [_http_request(host, port, _batch_body(seed)) for seed in range(batches)]
    started.set()
    if events_per_s is None:
        results.put(uvloop.run(_load(host, port, connections, seconds, requests)))
    else:
        results.put(
            uvloop.run(
                _open_load(
                    host, port, connections, seconds, requests, events_per_s=events_per_s, drain_s=drain_s
                )
            )
        )


# --- CPU accounting --------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _tree(pid: int) -> list[int]:
    """The process and all its descendants (uvicorn's workers, multiprocessing helpers)."""
    pids = [pid]
    for child in _children(pid):
        pids += _tree(child)
    return pids


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds the live processes have used so far."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


# --- visibility ------------------------------------------------------------------------------------------


def _lake_count(glob: str, message_ids: list[str]) -> int:
    try:
        with duckdb.connect() as connection:
            row = connection.execute(
                "select count(distinct message_id) from read_parquet(?) where message_id in (select unnest(?))",
                [glob, message_ids],
            ).fetchone()
    except duckdb.IOException:
        return 0
    return int(row[0]) if row else 0


def _lake_total(glob: str) -> int:
    try:
        with duckdb.connect() as connection:
            row = connection.execute("select count(*) from read_parquet(?)", [glob]).fetchone()
    except duckdb.IOException:
        return 0
    return int(row[0]) if row else 0


def _drain(glob: str, expected: int, *, timeout_s: float) -> float:
    """Seconds until the sink has landed at least `expected` events (the load's messageIds repeat)."""
    started = time.perf_counter()
    while _lake_total(glob) < expected:
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError(f"the sink landed {_lake_total(glob):,} of {expected:,} events")
        time.sleep(0.5)
    return time.perf_counter() - started


def _visibility(url: str, glob: str, samples: int) -> list[float]:
    delays = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for seed in range(samples):
            body = orjson.loads(_batch_body(10_000_000 + seed))
            message_ids = [message["messageId"] for message in body["batch"]]
            response = client.post("/v1/batch", json=body)
            accepted_at = time.perf_counter()
            assert response.status_code == 200, response.text
            while _lake_count(glob, message_ids) < len(message_ids):
                if time.perf_counter() - accepted_at > 60:
                    raise TimeoutError("a marker batch did not reach the lake within 60 s")
                time.sleep(0.05)
            delays.append(time.perf_counter() - accepted_at)
            time.sleep(0.3)
    return delays


# --- the run ---------------------------------------------------------------------------------------------


def _ms(values: list[float], fraction: float) -> str:
    return f"{_percentile(values, fraction) * 1000:.1f}"


def _print_closed_loop(result: LoadResult) -> None:
    latencies = result.latencies_s
    print(
        f"collector latency per 100-event batch: p50 {_ms(latencies, 0.5)} ms,"
        f" p99 {_ms(latencies, 0.99)} ms   (refused, by status: {result.refused or 'none'})"
    )
    over_target = sum(1 for latency in latencies if latency >= 0.050)
    print(
        f"  tail: p90 {_ms(latencies, 0.9)} ms, p99.9 {_ms(latencies, 0.999)} ms,"
        f" max {max(latencies) * 1000:.1f} ms; {over_target} of {len(latencies)} requests"
        f" ({over_target / len(latencies):.2%}) took 50 ms or more"
    )


def _print_open_loop(result: OpenLoadResult, seconds: float) -> None:
    latencies = result.latencies_s
    offered = result.scheduled * BATCH_SIZE / seconds
    print(
        f"open loop: offered {offered:,.0f} events/s ({result.scheduled:,} batches in {seconds:.0f} s),"
        f" answered {len(latencies):,}, never sent (drain limit) {result.unsent:,},"
        f" refused by status: {result.refused or 'none'}"
    )
    print(
        f"collector latency per 100-event batch, from its scheduled send time: p50 {_ms(latencies, 0.5)} ms,"
        f" p90 {_ms(latencies, 0.9)} ms, p99 {_ms(latencies, 0.99)} ms, p99.9 {_ms(latencies, 0.999)} ms,"
        f" max {max(latencies) * 1000:.1f} ms"
    )
    over_target = sum(1 for latency in latencies if latency >= 0.050)
    print(
        f"  {over_target} of {len(latencies)} requests ({over_target / len(latencies):.2%}) took 50 ms or more;"
        f" {result.late} ({result.late / result.scheduled:.2%}) were due while their connection still waited for"
        " the previous answer (sent late)"
    )
    service = result.service_s
    print(
        f"  from the actual send (hides the time a late request waited to be sent): p50 {_ms(service, 0.5)} ms,"
        f" p99 {_ms(service, 0.99)} ms, max {max(service) * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration-s", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="collector (uvicorn) worker processes")
    parser.add_argument(
        "--visibility-samples",
        type=int,
        default=20,
        help="marker batches timed to the lake; 0 measures the collector only (no sink drain, no visibility)",
    )
    parser.add_argument(
        "--batches", type=int, default=6000, help="distinct 100-event batches the loader cycles"
    )
    parser.add_argument("--ceiling-s", type=float, default=5.0, help="seconds each producer ceiling runs")
    parser.add_argument("--sink", choices=SINK_MODES, default="concurrent", help="when the sink runs")
    parser.add_argument(
        "--new-devices",
        action="store_true",
        help="start the load with an identity graph that knows none of its devices (first sightings)",
    )
    parser.add_argument(
        "--warm-one-worker",
        action="store_true",
        help="warm up over one connection, so that only one worker's identity cache knows the load's devices",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        metavar="EVENTS_PER_S",
        help="open loop: offer this many events/s on a fixed schedule, latency from each batch's scheduled send"
        " time (default: closed loop, each connection sends again as soon as it is answered)",
    )
    parser.add_argument(
        "--drain-s",
        type=float,
        default=10.0,
        help="open loop: how long after the schedule ends overdue batches are still sent",
    )
    args = parser.parse_args()

    shoploop = str(Path(sys.executable).parent / "shoploop")
    host = "127.0.0.1"
    with embedded_broker() as bootstrap, tempfile.TemporaryDirectory() as data_dir:
        kafka = KafkaSettings(bootstrap_servers=bootstrap)
        ensure_topics(kafka)
        ceiling = asyncio.run(_publisher_rate(bootstrap, args.ceiling_s, in_flight=args.connections))
        aiokafka_rate = asyncio.run(
            _producer_rate(bootstrap, args.ceiling_s, bundled=True, in_flight=args.connections)
        )

        port = free_port()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "SHOPLOOP_WAREHOUSE_DATA_DIR": data_dir,
            "SHOPLOOP_COLLECTOR_RATE_LIMIT_PER_S": "1000000",
            "SHOPLOOP_COLLECTOR_IDENTITY_DATABASE_URL": f"sqlite:///{data_dir}/identity.db",
            "SHOPLOOP_STREAMS_SINK_FLUSH_S": "0.5",
        }
        sink_command = [shoploop, "sink"]
        if args.sink == "niced":
            sink_command = ["nice", "-n", "10", *sink_command]
        collector = subprocess.Popen(
            [shoploop, "collector", "--port", str(port), "--workers", str(args.workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        sinks: list[subprocess.Popen[bytes]] = []

        def start_sink() -> None:
            sinks.append(
                subprocess.Popen(sink_command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )

        if args.sink != "after":
            start_sink()
        url = f"http://{host}:{port}"
        try:
            wait_until_listening(host, port)
            # Warm up: the collector's workers open their producers and the sink joins its group.
            warm_up_seeds = [20_000_000 + seed for seed in range(4 * args.workers)]
            if not args.new_devices:
                # Every device of the load seen once: the identity graph knows them all, as it knows a shop's
                # returning shoppers, and the load measures the steady state rather than the first sightings.
                warm_up_seeds += list(range(0, PEOPLE // 7 + 1, 14))  # seed s holds devices 7s … 7s + 99
            # One keep-alive connection per worker: the collector hands new connections to its workers in turn,
            # so each worker sees every warm-up batch and holds the load's devices in its own identity cache, as
            # the workers of a collector that has been running do. (Until 2026-12-06 night the warm-up used one
            # connection, and all but one worker met the load's devices for the first time during the load;
            # --warm-one-worker does that again.)
            warm_up_connections = 1 if args.warm_one_worker else args.workers
            clients = [httpx.Client(base_url=url, timeout=30) for _ in range(warm_up_connections)]
            try:
                for seed in warm_up_seeds:
                    for client in clients:
                        response = client.post(
                            "/v1/batch",
                            content=_batch_body(seed),
                            headers={"Content-Type": "application/json"},
                        )
                        assert response.status_code == 200, response.text
            finally:
                for client in clients:
                    client.close()
            warm_up_events = len(warm_up_seeds) * warm_up_connections * BATCH_SIZE
            started = multiprocessing.Event()
            results: multiprocessing.Queue[Any] = multiprocessing.Queue()
            loader = multiprocessing.Process(
                target=_load_process,
                args=(host, port, args.connections, args.duration_s, args.batches, started, results),
                kwargs={"events_per_s": args.rate, "drain_s": args.drain_s},
            )
            loader.start()
            assert loader.pid is not None
            started.wait(timeout=600)
            groups: dict[str, list[int]] = {
                "collector": _tree(collector.pid),
                "sink": [pid for sink in sinks for pid in _tree(sink.pid)],
                "load generator": [loader.pid],
            }
            known = {pid for pids in groups.values() for pid in pids}
            groups["broker"] = [pid for pid in _tree(os.getpid())[1:] if pid not in known]
            cpu_before = {name: _cpu_s(pids) for name, pids in groups.items()}
            load_started = time.perf_counter()
            # The loader is still sending: its result arrives when the time is up.
            time.sleep(args.duration_s)
            cpu_after = {name: _cpu_s(pids) for name, pids in groups.items()}
            cpu_window_s = time.perf_counter() - load_started
            result: LoadResult | OpenLoadResult = results.get(timeout=300)
            loader.join()
            # Open loop: the accepted events over the time from the first scheduled send to the last answer.
            span_s = (
                max(args.duration_s, result.span_s) if isinstance(result, OpenLoadResult) else args.duration_s
            )
            rate = result.accepted / span_s
            print(f"collector accepted {result.accepted:,} events in {span_s:.1f} s", flush=True)
            drained_s, delays = None, []
            if args.visibility_samples > 0:
                if args.sink == "after":
                    start_sink()
                # The sink drains the load first; visibility is then measured at a calm rate.
                glob = events_glob(Path(data_dir) / "lake" / "events")
                drained_s = _drain(glob, result.distinct_accepted + warm_up_events, timeout_s=900)
                delays = _visibility(url, glob, args.visibility_samples)
        finally:
            for process in (collector, *sinks):
                process.terminate()
                process.wait(timeout=20)

    print(
        f"collector workers: {args.workers}, connections: {args.connections}, duration: {args.duration_s:.0f} s,"
        f" sink: {args.sink}, devices: {'new to the identity graph' if args.new_devices else 'known'},"
        f" warm-up over {'one connection' if args.warm_one_worker else 'a connection per worker'},"
        f" load: {'closed loop' if args.rate is None else f'open loop at {args.rate:,.0f} events/s'}"
    )
    print(f"ceiling  collector's publisher alone (confluent-kafka):   {ceiling:>10,.0f} events/s")
    print(f"         aiokafka, same records (reference):              {aiokafka_rate:>10,.0f} events/s")
    print(
        f"collector accepted (HTTP 200, acked by Kafka):           {rate:>10,.0f} events/s"
        f"   ratio to ceiling {rate / ceiling:.2f}"
    )
    if isinstance(result, OpenLoadResult):
        _print_open_loop(result, args.duration_s)
    else:
        _print_closed_loop(result)
    cpu = {name: (cpu_after[name] - cpu_before[name]) / cpu_window_s for name in groups}
    print(
        "CPU during the load (cores): "
        + ", ".join(f"{name} {cores:.2f}" for name, cores in cpu.items())
        + f"; total {sum(cpu.values()):.2f} of {os.cpu_count()}"
    )
    if drained_s is None:
        print("sink and end-to-end visibility: not measured (--visibility-samples 0)")
        return
    print(f"sink: the load's backlog was in the lake {drained_s:.1f} s after the load ended")
    print(
        f"end-to-end visibility (200 → queryable in the lake): p50 {statistics.median(delays):.2f} s,"
        f" p95 {_percentile(delays, 0.95):.2f} s over {len(delays)} batches"
    )


if __name__ == "__main__":
    main()
