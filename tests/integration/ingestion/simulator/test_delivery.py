"""The simulator's delivery against a real local HTTP server: refused batches are kept and retried."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ingestion.contract.segment import SegmentMessage
from ingestion.simulator.catalogue import load_catalogue
from ingestion.simulator.delivery import Delivery
from ingestion.simulator.runner import run
from ingestion.simulator.settings import SimulatorSettings
from ingestion.simulator.shoppers import simulate_journeys


def _messages(count: int) -> list[dict[str, Any]]:
    messages = simulate_journeys(
        load_catalogue(), shoppers=20, seed=11, start=datetime(2024, 6, 1, tzinfo=UTC)
    )
    assert len(messages) >= count
    return messages[:count]


def _deliver_all(delivery: Delivery, *, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while delivery.pending_messages:
        assert time.monotonic() < deadline, "delivery did not finish"
        delivery.deliver()
        time.sleep(0.01)


def test_a_batch_refused_with_503_is_retried_and_delivered_once_the_collector_accepts(
    recording_collector: Any,
) -> None:
    recording_collector.refusals = [503, 503]
    messages = _messages(150)
    with httpx.Client(timeout=5) as client:
        delivery = Delivery(
            client,
            url=f"{recording_collector.url}/v1/batch",
            write_key="sl_test_key",
            initial_backoff_s=0.02,
            max_backoff_s=0.1,
        )
        delivery.add(messages)
        delivery.seal()
        _deliver_all(delivery)

    refused_ids = [message["messageId"] for message in recording_collector.refused_messages()]
    accepted_ids = [message["messageId"] for message in recording_collector.accepted_messages()]
    assert len(recording_collector.refused) == 2
    assert refused_ids[:100] == [message["messageId"] for message in messages[:100]]
    assert accepted_ids == [message["messageId"] for message in messages]
    assert delivery.delivered_messages == 150
    assert all(body["writeKey"] == "sl_test_key" and body["sentAt"] for body in recording_collector.accepted)
    assert [len(body["batch"]) for body in recording_collector.accepted] == [100, 50]


def test_a_batch_refused_with_a_client_error_is_kept_rather_than_dropped(recording_collector: Any) -> None:
    recording_collector.refusals = [400, 429]
    messages = _messages(30)
    with httpx.Client(timeout=5) as client:
        delivery = Delivery(
            client,
            url=f"{recording_collector.url}/v1/batch",
            write_key="k",
            initial_backoff_s=0.02,
            max_backoff_s=0.1,
        )
        delivery.add(messages)
        delivery.seal()
        _deliver_all(delivery)
    assert [message["messageId"] for message in recording_collector.accepted_messages()] == [
        message["messageId"] for message in messages
    ]
    assert delivery.refused_attempts == 2


def test_events_survive_a_collector_that_is_not_listening_yet() -> None:
    from shoploop.broker import free_port

    with httpx.Client(timeout=1) as client:
        delivery = Delivery(
            client, url=f"http://127.0.0.1:{free_port()}/v1/batch", write_key="k", initial_backoff_s=0.01
        )
        delivery.add(_messages(5))
        delivery.seal()
        delivery.deliver()
    assert delivery.pending_messages == 5
    assert delivery.refused_attempts == 1


def test_the_runner_posts_valid_shopper_traffic_in_real_time_and_stops_after_its_duration(
    recording_collector: Any,
) -> None:
    recording_collector.refusals = [503]
    settings = SimulatorSettings(
        collector_url=recording_collector.url,
        write_key="sl_demo_miniprogram_key",
        shoppers=40,
        seed=3,
        duration_s=2.5,
        mean_think_s=0.3,
        arrival_ramp_s=0.5,
        initial_backoff_s=0.05,
        flush_interval_s=0.2,
        use_order_core=False,  # this test is about delivery; never reach for a real :8001
    )
    started = time.monotonic()
    run(settings)
    elapsed = time.monotonic() - started

    accepted = recording_collector.accepted_messages()
    refused = recording_collector.refused_messages()
    assert elapsed < 2.5 + 5
    assert len(accepted) > 100
    assert len({message["messageId"] for message in accepted}) == len(accepted)
    assert {message["messageId"] for message in refused} <= {message["messageId"] for message in accepted}
    for message in accepted:
        SegmentMessage.model_validate(message)
    now = datetime.now(UTC)
    assert all(datetime.fromisoformat(message["timestamp"]) <= now for message in accepted)
    assert {message["event"] for message in accepted if message["type"] == "track"} >= {
        "Mini Program Launched",
        "Product Viewed",
    }


def test_the_runner_stops_cleanly_when_asked_to_and_flushes_what_it_has(recording_collector: Any) -> None:
    # A few shoppers and no periodic flush: the batch never fills, so only the flush on stop sends it.
    settings = SimulatorSettings(
        collector_url=recording_collector.url,
        shoppers=3,
        seed=5,
        mean_think_s=0.2,
        arrival_ramp_s=0.2,
        flush_interval_s=600,
        use_order_core=False,
    )
    stop = threading.Event()
    worker = threading.Thread(target=run, args=(settings,), kwargs={"stop": stop})
    worker.start()
    time.sleep(1.5)
    assert recording_collector.accepted_messages() == []
    stopped_at = datetime.now(UTC)
    stop.set()
    worker.join(timeout=15)

    assert not worker.is_alive()
    accepted = recording_collector.accepted_messages()
    assert 0 < len(accepted) < 100
    assert all(
        datetime.fromisoformat(message["timestamp"]) <= stopped_at + timedelta(seconds=0.2)
        for message in accepted
    )
