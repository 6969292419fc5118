from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingestion.contract.event import TrackedEvent
from streams.inputs import Activity
from streams.metrics.live import LiveTally, MinuteDelta

NOON = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
COUNTS = ("events", "new_shoppers", "product_views", "cart_adds", "checkouts", "orders", "gmv_fen")


def _event(person: str, name: str, at: datetime, **properties: object) -> TrackedEvent:
    return TrackedEvent(
        message_id=f"{person}-{name}-{at.isoformat()}",
        type="track",
        event=name,
        person_id=person,
        anonymous_id=person,
        user_id=None,
        timestamp=at,
        original_timestamp=at,
        sent_at=None,
        received_at=at,
        scene=1007,
        channel="share_single_chat",
        source="miniprogram",
        properties=dict(properties),
    )


def _sum(deltas: list[MinuteDelta], minute: datetime) -> dict[str, int]:
    total: dict[str, int] = {}
    for delta in deltas:
        if delta.minute != minute:
            continue
        for name in COUNTS:
            total[name] = total.get(name, 0) + getattr(delta, name)
    return total


def test_a_shopper_counts_once_per_minute_however_the_batches_fall() -> None:
    tally = LiveTally()
    first = tally.tally([_event("lily", "Product Viewed", NOON), _event("lily", "Product Added", NOON)])
    second = tally.tally([_event("lily", "Checkout Started", NOON + timedelta(seconds=30))])
    totals = _sum(first + second, NOON)
    assert totals["new_shoppers"] == 1
    assert [totals[name] for name in ("events", "product_views", "cart_adds", "checkouts")] == [3, 1, 1, 1]


def test_events_fall_into_the_minute_of_their_event_time_not_of_their_arrival() -> None:
    late = _event("ming", "Product Viewed", NOON - timedelta(minutes=3))
    deltas = LiveTally().tally([_event("lily", "Product Viewed", NOON), late])
    assert [delta.minute for delta in deltas] == [NOON - timedelta(minutes=3), NOON]


def test_an_order_adds_its_revenue_in_fen() -> None:
    deltas = LiveTally().tally([_event("lily", "Order Completed", NOON, revenue=128.9, total=138.9)])
    assert (deltas[0].orders, deltas[0].gmv_fen) == (1, 12890)


def test_a_delta_survives_the_trip_through_json() -> None:
    delta = MinuteDelta(minute=NOON, events=3, new_shoppers=1, orders=1, gmv_fen=12890)
    assert MinuteDelta.from_json(delta.to_json()) == delta


def test_shoppers_of_minutes_older_than_the_retention_are_forgotten() -> None:
    tally = LiveTally(retention=timedelta(minutes=10))
    tally.tally([_event("lily", "Product Viewed", NOON)])
    tally.tally([_event("ming", "Product Viewed", NOON + timedelta(minutes=30))])
    late_again = tally.tally([_event("lily", "Product Viewed", NOON)])
    assert late_again[0].new_shoppers == 1


def test_the_decisions_batch_tallies_its_parsed_events_like_the_tracked_events_they_came_from() -> None:
    events = [
        _event("lily", "Product Viewed", NOON),
        _event("lily", "Order Completed", NOON + timedelta(seconds=5), revenue=128.9),
        _event("ming", "Product Added", NOON + timedelta(minutes=1)),
    ]
    activities = [
        Activity(e.message_id, e.person_id, e.timestamp, e.type, e.event, properties=dict(e.properties))
        for e in events
    ]
    assert LiveTally().tally_activities(activities) == LiveTally().tally(events)
