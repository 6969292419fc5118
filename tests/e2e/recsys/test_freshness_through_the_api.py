"""A new add-to-cart on the events topic changes that shopper's 猜你喜欢 over HTTP within seconds, no retrain."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from ingestion.contract.event import TrackedEvent
from recsys.registry import ModelRegistry


def product_added(user_id: str, product_id: str) -> TrackedEvent:
    now = datetime.now(UTC)
    return TrackedEvent(
        message_id=uuid.uuid4().hex,
        type="track",
        event="Product Added",
        person_id=f"anon-{user_id}",
        anonymous_id=f"anon-{user_id}",
        user_id=user_id,
        timestamp=now,
        original_timestamp=now,
        sent_at=now,
        received_at=now,
        scene=1007,
        channel="share_single_chat",
        source="miniprogram",
        properties={"product_id": product_id, "quantity": 1},
    )


async def publish(bootstrap: str, event: TrackedEvent) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("shoploop.events", event.to_json(), key=event.person_id.encode())
    finally:
        await producer.stop()


def guess_you_like(client: httpx.Client) -> list[dict[str, Any]]:
    answer = client.get("/v1/recommendations", params={"n": 3})
    assert answer.status_code == 200, answer.text
    assert answer.json()["source"] == "model"
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_a_new_add_to_cart_changes_that_shoppers_recommendations_within_seconds_without_retraining(
    fresh_stack: Any, new_shopper: tuple[httpx.Client, str], kafka_bootstrap: str
) -> None:
    client, user_id = new_shopper
    registry = ModelRegistry(fresh_stack.settings.recsys.resolved_registry_dir())
    runs_before = len(registry.runs())
    before = guess_you_like(client)
    # a newcomer gets the hot list: the clothing aisle has twice the shoppers
    assert [item["product_id"] for item in before] == ["p-cap", "p-socks", "p-tee"]
    assert {(item["reason"], item["reason_code"]) for item in before} == {("近期热销", "popular")}

    asyncio.run(publish(kafka_bootstrap, product_added(user_id, "p-bowl")))
    sent = time.monotonic()
    after = before
    while time.monotonic() - sent < 5.0 and after == before:
        time.sleep(0.05)
        after = guess_you_like(client)

    assert time.monotonic() - sent < 5.0, "recommendations did not change within 5 s"
    recommended = [item["product_id"] for item in after]
    assert recommended[:2] == ["p-mug", "p-plate"] or recommended[:2] == ["p-plate", "p-mug"]
    assert "p-bowl" not in recommended  # already in the cart
    assert after[0]["reason"] == "因为你把Panda bowl加入了购物车"  # the shop's language by default
    assert (after[0]["reason_code"], after[0]["reason_params"]) == (
        "added_to_cart",
        {"product": "Panda bowl", "product_id": "p-bowl"},
    )
    assert len(registry.runs()) == runs_before  # no retraining happened
