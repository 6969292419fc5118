"""When the broker is down the collector answers 503 (clients keep and retry); when it is back, nothing is lost;
shut down, it leaves no connection to the broker behind."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi.testclient import TestClient

from ingestion.collector.app import create_app
from ingestion.collector.settings import CollectorSettings
from ingestion.contract.event import event_values
from shoploop.broker import broker_command, free_port, wait_until_listening
from shoploop.kafka import KafkaSettings, Topics, ensure_topics
from tests.support.stack import connections_to

pytestmark = pytest.mark.integration

WRITE_KEY = "sl_outage_key"


def _start_broker(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        broker_command("127.0.0.1", port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_until_listening("127.0.0.1", port)
    return process


def _batch(*message_ids: str) -> dict[str, object]:
    return {
        "writeKey": WRITE_KEY,
        "batch": [
            {
                "type": "track",
                "event": "Product Viewed",
                "anonymousId": "device-lily",
                "messageId": message_id,
                "properties": {"product_id": "85123A"},
            }
            for message_id in message_ids
        ],
    }


async def _message_ids(settings: KafkaSettings, expected: int) -> set[str]:
    consumer = AIOKafkaConsumer(
        Topics.EVENTS.name,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"outage-{uuid.uuid4()}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen: set[str] = set()
    try:
        for _ in range(30):
            batches = await consumer.getmany(timeout_ms=500)
            seen |= {
                orjson.loads(value)["message_id"]
                for rs in batches.values()
                for r in rs
                for value in event_values(r.value or b"")
            }
            if len(seen) >= expected:
                break
    finally:
        await consumer.stop()
    return seen


def test_the_collector_answers_503_while_the_broker_is_down_and_delivers_the_retry_once_it_is_back() -> None:
    port = free_port()
    kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}", default_partitions=2)
    broker = _start_broker(port)
    settings = CollectorSettings(write_keys={"miniprogram": WRITE_KEY}, kafka=kafka, publish_timeout_s=2.0)
    try:
        ensure_topics(kafka)
        with TestClient(create_app(settings)) as collector:
            assert collector.post("/v1/batch", json=_batch("before-1")).status_code == 200

            broker.kill()
            broker.wait()
            refused = collector.post("/v1/batch", json=_batch("during-1", "during-2"))
            assert refused.status_code == 503
            assert refused.json()["code"] == "kafka_unavailable"

            # The broker comes back (the embedded one starts empty, as a new cluster would).
            broker = _start_broker(port)
            ensure_topics(kafka)
            deadline = time.monotonic() + 60
            while (
                status := collector.post("/v1/batch", json=_batch("during-1", "during-2")).status_code
            ) != 200:
                assert status == 503
                assert time.monotonic() < deadline, "the collector never recovered"
                time.sleep(0.5)

        # Shut down, the collector holds no connection to the broker: its producer is closed, not left to a
        # garbage collection that a failed publish's traceback (still referring to it) postpones.
        assert connections_to(port) == 0
        assert asyncio.run(_message_ids(kafka, 2)) == {"during-1", "during-2"}
    finally:
        broker.terminate()
        broker.wait()
