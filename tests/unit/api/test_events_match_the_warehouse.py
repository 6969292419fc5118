"""The order core's events carry exactly the fields the warehouse's fixture copies of them carry, so the marts
tested on the fixture (points ledger, bargains, notifications, regions, …) read the same fields from live events."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from api.domain import events
from api.domain.orders import Order, OrderLine

FIXTURE = Path(__file__).resolve().parents[3] / "warehouse/fixtures/order_book.jsonl"
ENVELOPE = {"event", "event_id"}  # added by the unit of work and the outbox relay


def _emitted_fields() -> dict[str, set[str]]:
    return {
        cls.name: {f.name for f in dataclasses.fields(cls)} | ENVELOPE
        for cls in vars(events).values()
        if isinstance(cls, type) and issubclass(cls, events.Event) and cls is not events.Event
    }


def _fixture_fields() -> dict[str, set[str]]:
    fields: dict[str, set[str]] = {}
    for line in FIXTURE.read_bytes().splitlines():
        if line.strip():
            event = orjson.loads(line)
            fields.setdefault(event["event"], set()).update(event)
    return fields


def test_every_field_the_warehouse_fixture_gives_an_event_is_one_the_order_core_emits() -> None:
    emitted = _emitted_fields()
    missing = {name: sorted(keys - emitted[name]) for name, keys in _fixture_fields().items()}
    assert {name: keys for name, keys in missing.items() if keys} == {}


def test_the_growth_events_the_marts_read_are_in_the_warehouse_fixture_with_every_field() -> None:
    fixture = _fixture_fields()
    emitted = _emitted_fields()
    for name in ("PointsChanged", "BargainStarted", "BargainCut", "SubscribeMessageSent"):
        assert fixture.get(name) == emitted[name], name


def test_an_order_placed_with_an_address_carries_its_province_and_city_and_nothing_else_of_it() -> None:
    order = Order.place(
        order_id="SL1",
        user_id="u-ming",
        lines=[OrderLine(sku_id="tee", product_id="p-tee", title="Tee", unit_price_fen=9900, quantity=1)],
        now=datetime(2026, 12, 6, tzinfo=UTC),
        payment_window=timedelta(minutes=30),
        address_id="addr-1",
        shipping_region=("浙江", "杭州"),
    )
    payload = order.events[0].payload()
    assert (payload["shipping_province"], payload["shipping_city"]) == ("浙江", "杭州")
