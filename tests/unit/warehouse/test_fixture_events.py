"""The bundled fixture must keep exercising what it is there for: retries and out-of-order arrivals."""

from __future__ import annotations

from collections import Counter

from warehouse.publish import load_fixture_events


def test_the_fixture_contains_retried_messages() -> None:
    counts = Counter(event.message_id for event in load_fixture_events())
    assert any(count > 1 for count in counts.values())


def test_the_fixture_contains_events_received_in_a_different_order_than_they_happened() -> None:
    events = load_fixture_events()
    by_arrival = [e.message_id for e in sorted(events, key=lambda e: e.received_at)]
    by_time = [e.message_id for e in sorted(events, key=lambda e: e.timestamp)]
    assert by_arrival != by_time


def test_the_fixture_has_an_order_reported_twice_and_money_with_cents() -> None:
    orders = [e for e in load_fixture_events() if e.event == "Order Completed"]
    order_ids = Counter(e.properties["order_id"] for e in orders)
    assert max(order_ids.values()) > 1
    assert any(e.properties["total"] == 19.99 for e in orders)
