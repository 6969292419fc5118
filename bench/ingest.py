"""Ingestion benchmark: the collector under load on loopback, beside the raw Kafka producer as its ceiling.

    .venv/bin/python -m bench.ingest [--duration-s 20] [--connections 16] [--workers 2]

What it does, all on this machine:
1. starts a fresh embedded broker (Tansu, memory) on a free port;
2. measures the ceiling: aiokafka producing the same enriched events, one message per event, acks=all;
3. starts the real collector (`shoploop collector`, uvicorn) and the real sink (`shoploop sink`) as processes;
4. a separate load-generator process posts 100-event Segment batches over N concurrent connections and
   reports accepted events/s and request latency p50/p99;
5. end-to-end visibility: marker batches sent at a calm rate, timed from the collector's 200 until every
   event of the batch is queryable in the lake with DuckDB; p50/p95.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson

from ingestion.contract.event import enrich
from ingestion.contract.segment import SegmentMessage
from shoploop.broker import embedded_broker, free_port, wait_until_listening
from shoploop.kafka import KafkaSettings, Topics, ensure_topics
from warehouse.lake import events_glob

WRITE_KEY = "sl_demo_miniprogram_key"
BATCH_SIZE = 100


def _message(person: int, sequence: int) -> dict[str, Any]:
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


def _batch_body(seed: int) -> bytes:
    messages = [
        _message(person=(seed * 7 + i) % 5000, sequence=seed * BATCH_SIZE + i) for i in range(BATCH_SIZE)
    ]
    return orjson.dumps({"batch": messages, "sentAt": datetime.now(UTC).isoformat(), "writeKey": WRITE_KEY})


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


async def _raw_producer_rate(bootstrap: str, seconds: float) -> float:
    """Events/s aiokafka reaches producing the collector's own enriched events, one message each."""
    from aiokafka import AIOKafkaProducer

    received_at = datetime.now(UTC)
    events = [
        enrich(
            SegmentMessage.model_validate(_message(i, i)),
            received_at=received_at,
            batch_sent_at=None,
            batch_context=None,
            source="miniprogram",
        )
        for i in range(5000)
    ]
    records = [(event.person_id.encode(), event.to_json()) for event in events]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await producer.start()
    sent = 0
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            futures = [await producer.send(Topics.EVENTS.name, value, key=key) for key, value in records]
            await asyncio.gather(*futures)
            sent += len(records)
    finally:
        await producer.stop()
    return sent / (time.perf_counter() - started)


async def _load(
    url: str, connections: int, seconds: float, bodies: list[bytes]
) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    accepted = 0
    refused = 0
    # Fast connections may wrap around the bodies and re-send some; the lake keeps each event once.
    distinct_sent: set[int] = set()
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker(offset: int) -> None:
            nonlocal accepted, refused
            index = offset
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(
                    "/v1/batch",
                    content=bodies[index % len(bodies)],
                    headers={"Content-Type": "application/json"},
                )
                latencies.append(time.perf_counter() - started)
                if response.status_code == 200:
                    accepted += BATCH_SIZE
                    distinct_sent.add(index % len(bodies))
                else:
                    refused += 1
                index += connections

        await asyncio.gather(*(worker(offset) for offset in range(connections)))
    return accepted, latencies, refused, len(distinct_sent) * BATCH_SIZE


def _load_process(
    url: str, connections: int, seconds: float, batches: int, results: multiprocessing.Queue[Any]
) -> None:
    # Distinct messageIds in every batch (made before the clock starts), so the lake holds every event.
    bodies = [_batch_body(seed) for seed in range(batches)]
    results.put(asyncio.run(_load(url, connections, seconds, bodies)))


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
            body = orjson.loads(_batch_body(10_000 + seed))
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration-s", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="collector (uvicorn) worker processes")
    parser.add_argument("--visibility-samples", type=int, default=20)
    parser.add_argument(
        "--batches", type=int, default=6000, help="distinct 100-event batches the loader cycles"
    )
    args = parser.parse_args()

    shoploop = str(Path(sys.executable).parent / "shoploop")
    with embedded_broker() as bootstrap, tempfile.TemporaryDirectory() as data_dir:
        kafka = KafkaSettings(bootstrap_servers=bootstrap)
        ensure_topics(kafka)
        ceiling = asyncio.run(_raw_producer_rate(bootstrap, seconds=min(10.0, args.duration_s)))

        port = free_port()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "SHOPLOOP_WAREHOUSE_DATA_DIR": data_dir,
            "SHOPLOOP_COLLECTOR_RATE_LIMIT_PER_S": "1000000",
            "SHOPLOOP_STREAMS_SINK_FLUSH_S": "0.5",
        }
        collector = subprocess.Popen(
            [shoploop, "collector", "--port", str(port), "--workers", str(args.workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        sink = subprocess.Popen(
            [shoploop, "sink"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_listening("127.0.0.1", port)
            results: multiprocessing.Queue[Any] = multiprocessing.Queue()
            loader = multiprocessing.Process(
                target=_load_process, args=(url, args.connections, args.duration_s, args.batches, results)
            )
            loader.start()
            accepted, latencies, refused, distinct = results.get(timeout=args.duration_s + 300)
            loader.join()
            rate = accepted / args.duration_s
            print(f"collector accepted {accepted:,} events in {args.duration_s:.0f} s", flush=True)
            # The sink drains the load first; visibility is then measured at a calm rate.
            glob = events_glob(Path(data_dir) / "lake" / "events")
            drained_s = _drain(glob, distinct, timeout_s=600)
            delays = _visibility(url, glob, args.visibility_samples)
        finally:
            for process in (collector, sink):
                process.terminate()
                process.wait(timeout=20)

    print(
        f"collector workers: {args.workers}, connections: {args.connections}, duration: {args.duration_s:.0f} s"
    )
    print(f"ceiling  aiokafka producer, one message per event: {ceiling:>10,.0f} events/s")
    print(
        f"collector accepted (HTTP 200, acked by Kafka):     {rate:>10,.0f} events/s"
        f"   ratio to ceiling {rate / ceiling:.2f}"
    )
    print(
        f"collector latency per 100-event batch: p50 {_percentile(latencies, 0.5) * 1000:.1f} ms,"
        f" p99 {_percentile(latencies, 0.99) * 1000:.1f} ms   (refused: {refused})"
    )
    print(f"sink: the load's backlog was in the lake {drained_s:.1f} s after the load ended")
    print(
        f"end-to-end visibility (200 → queryable in the lake): p50 {statistics.median(delays):.2f} s,"
        f" p95 {_percentile(delays, 0.95):.2f} s over {len(delays)} batches"
    )


if __name__ == "__main__":
    main()
