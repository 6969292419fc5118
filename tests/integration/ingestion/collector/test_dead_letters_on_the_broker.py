"""Events that break the tracking plan are kept on the dead-letter topic and can be replayed once it is fixed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi.testclient import TestClient

from ingestion.collector.app import create_app
from ingestion.collector.settings import CollectorSettings
from ingestion.contract import tracking_plan
from ingestion.contract.event import PSEUDONYM_PREFIX, TrackedEvent, event_values
from ingestion.dead_letters import read_dead_letters, replay, select
from shoploop.broker import embedded_broker
from shoploop.kafka import KafkaSettings, Topics, ensure_topics

pytestmark = pytest.mark.integration

WRITE_KEY = "sl_dlq_test_key"


@pytest.fixture
def kafka() -> Iterator[KafkaSettings]:
    # A broker of its own: the test reads whole topics.
    with embedded_broker() as bootstrap:
        settings = KafkaSettings(bootstrap_servers=bootstrap, default_partitions=2)
        ensure_topics(settings)
        yield settings


async def _event_message_ids(settings: KafkaSettings, expected: int) -> list[str]:
    consumer = AIOKafkaConsumer(
        Topics.EVENTS.name,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"test-{uuid.uuid4()}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen: list[str] = []
    try:
        for _ in range(20):
            batches = await consumer.getmany(timeout_ms=500)
            seen += [
                orjson.loads(r.value)["message_id"]
                for records in batches.values()
                for r in records
                if r.value
            ]
            if len(seen) >= expected:
                break
    finally:
        await consumer.stop()
    return seen


def test_an_unplanned_event_waits_in_the_dead_letter_topic_and_is_replayed_once_the_plan_knows_it(
    kafka: KafkaSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    wishlist = {
        "type": "track",
        "event": "Product Added to Wishlist",
        "anonymousId": "device-lily",
        "messageId": "m-wish",
        "timestamp": "2026-11-22T03:00:00+00:00",
        "properties": {"product_id": "85123A"},
    }
    viewed = {**wishlist, "event": "Product Viewed", "messageId": "m-view"}
    wrong_type = {
        **wishlist,
        "event": "Product Viewed",
        "messageId": "m-bad",
        "properties": {"product_id": 85123},
    }
    settings = CollectorSettings(write_keys={"miniprogram": WRITE_KEY}, kafka=kafka)
    with TestClient(create_app(settings)) as collector:
        response = collector.post(
            "/v1/batch",
            json={
                "batch": [viewed, wishlist, wrong_type],
                "writeKey": WRITE_KEY,
                "context": {"ip": "1.2.3.4"},
            },
        )
    assert response.status_code == 200

    letters = asyncio.run(read_dead_letters(kafka))
    assert sorted((letter.reason_code, letter.payload["messageId"]) for letter in letters) == [
        ("unplanned_event", "m-wish"),
        ("wrong_type", "m-bad"),
    ]
    assert asyncio.run(_event_message_ids(kafka, 1)) == ["m-view"]

    monkeypatch.setitem(
        tracking_plan.TRACKING_PLAN,
        "Product Added to Wishlist",
        tracking_plan.EventSpec(
            "Product Added to Wishlist",
            "wishlist",
            "a product was saved for later",
            tracking_plan.ProductEvent,
        ),
    )
    report = asyncio.run(replay(kafka, select(letters, reason_code="unplanned_event")))
    assert (report.replayed, report.still_failing) == (1, [])

    again = asyncio.run(replay(kafka, letters))
    assert again.replayed == 1
    assert [letter.reason_code for letter in again.still_failing] == ["wrong_type"]

    # Replayed twice, carried with its messageId: the warehouse's de-duplication keeps one.
    assert sorted(asyncio.run(_event_message_ids(kafka, 3))) == ["m-view", "m-wish", "m-wish"]


async def _events(settings: KafkaSettings, expected: int) -> list[TrackedEvent]:
    consumer = AIOKafkaConsumer(
        Topics.EVENTS.name,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"test-{uuid.uuid4()}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen: list[TrackedEvent] = []
    try:
        for _ in range(20):
            batches = await consumer.getmany(timeout_ms=500)
            seen += [
                TrackedEvent.from_json(value)
                for records in batches.values()
                for record in records
                if record.value
                for value in event_values(record.value)
            ]
            if len(seen) >= expected:
                break
    finally:
        await consumer.stop()
    return seen


def test_a_replayed_letter_is_pseudonymised_and_keyed_by_the_shoppers_person_like_any_event(
    kafka: KafkaSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    login = {"type": "identify", "anonymousId": "device-lily", "userId": "u-lily", "messageId": "m-login"}
    wishlist = {
        "type": "track",
        "event": "Product Added to Wishlist",
        "userId": "u-lily",
        "messageId": "m-wish",
        "properties": {"product_id": "85123A"},
        "context": {"wechat": {"openid": "o16wA0b4lily", "scene": 1007}},
    }
    settings = CollectorSettings(write_keys={"miniprogram": WRITE_KEY}, kafka=kafka)
    with TestClient(create_app(settings)) as collector:
        response = collector.post("/v1/batch", json={"batch": [login, wishlist], "writeKey": WRITE_KEY})
    assert response.status_code == 200
    monkeypatch.setitem(
        tracking_plan.TRACKING_PLAN,
        "Product Added to Wishlist",
        tracking_plan.EventSpec("Product Added to Wishlist", "wishlist", "saved", tracking_plan.ProductEvent),
    )

    report = asyncio.run(replay(kafka, asyncio.run(read_dead_letters(kafka)), collector=settings))

    assert report.replayed == 1
    [replayed] = [event for event in asyncio.run(_events(kafka, 2)) if event.message_id == "m-wish"]
    assert replayed.person_id == "device-lily"
    openid = replayed.context["wechat"]["openid"]
    assert openid.startswith(PSEUDONYM_PREFIX)
    assert "o16wA0b4lily" not in replayed.to_json().decode()
