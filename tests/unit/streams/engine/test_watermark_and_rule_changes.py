"""The watermark across partitions, and rules published while the streams run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from streams.automations.rules import Rule
from streams.clock import Watermark
from streams.engine.core import Engine
from streams.inputs import Activity

MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
LATENESS = timedelta(seconds=30)


def test_the_watermark_waits_for_the_slowest_partition_that_still_delivers() -> None:
    watermark = Watermark(LATENESS)
    watermark.observe("events:0", MORNING + timedelta(hours=1), seen_at=100.0)
    watermark.observe("events:1", MORNING, seen_at=100.0)

    assert watermark.current(idle_before=95.0) == MORNING - LATENESS


def test_a_partition_quiet_for_longer_than_the_idle_timeout_no_longer_holds_the_watermark_back() -> None:
    watermark = Watermark(LATENESS)
    watermark.observe("events:1", MORNING, seen_at=100.0)
    watermark.observe("events:0", MORNING + timedelta(hours=1), seen_at=110.0)

    assert watermark.current(idle_before=105.0) == MORNING + timedelta(hours=1) - LATENESS
    assert watermark.current() == MORNING - LATENESS


def test_a_partition_that_has_delivered_nothing_yet_holds_the_watermark_until_it_goes_idle() -> None:
    watermark = Watermark(LATENESS)
    watermark.expect("events:1", seen_at=100.0)
    watermark.observe("events:0", MORNING + timedelta(hours=1), seen_at=101.0)

    assert watermark.current(idle_before=96.0) is None
    watermark.observe("events:1", MORNING, seen_at=102.0)
    assert watermark.current(idle_before=96.0) == MORNING - LATENESS


def test_an_expected_partition_that_stays_empty_stops_holding_the_watermark_after_the_idle_timeout() -> None:
    watermark = Watermark(LATENESS)
    watermark.expect("events:1", seen_at=100.0)
    watermark.observe("events:0", MORNING, seen_at=110.0)

    assert watermark.current(idle_before=105.0) == MORNING - LATENESS


def test_when_every_partition_is_quiet_the_latest_event_time_counts() -> None:
    watermark = Watermark(LATENESS)
    watermark.observe("events:0", MORNING, seen_at=100.0)
    watermark.observe("events:1", MORNING + timedelta(minutes=5), seen_at=101.0)

    assert watermark.current(idle_before=200.0) == MORNING + timedelta(minutes=5) - LATENESS


def _cart_rule(**fields: Any) -> Rule:
    return Rule(
        **{
            "rule_id": "cart-1h",
            "version": 1,
            "kind": "abandoned_cart",
            "delay_s": 3600,
            "holdout_share": 0.0,
            "template_id": "TPL_CART",
            "template_data": {"thing1": "{product_name}"},
        }
        | fields
    )


def _activity(n: int, at: datetime, event: str, **properties: Any) -> Activity:
    return Activity(
        f"m{n}", "mei", at, "track", event, user_id="u-mei", openid="o-mei", properties=properties
    )


def test_a_rule_published_after_the_cart_was_left_fires_at_once_for_carts_already_due() -> None:
    engine = Engine(allowed_lateness=timedelta(0))
    engine.offer(_activity(1, MORNING, "Subscribe Message Consent", results={"TPL_CART": "accept"}))
    engine.offer(_activity(2, MORNING, "Product Added", product_id="p-teapot", name="白瓷茶壶"))
    engine.offer(_activity(3, MORNING + timedelta(hours=2), "Product Viewed", product_id="p-cup"))
    assert engine.advance() == []

    outputs = engine.publish_rule(_cart_rule())

    assert [(o.stream, o.value["rule_id"], o.value["outcome"]) for o in outputs] == [
        ("triggers", "cart-1h", "send")
    ]


def test_republishing_the_same_rule_version_changes_nothing() -> None:
    engine = Engine(allowed_lateness=timedelta(0))
    engine.publish_rule(_cart_rule())
    engine.offer(_activity(1, MORNING, "Product Added", product_id="p-teapot", name="白瓷茶壶"))
    engine.advance()

    assert engine.publish_rule(_cart_rule()) == []
    assert engine.rules.rules["cart-1h"].version == 1


def test_pending_inputs_are_checkpointed_in_rows_small_enough_for_one_kafka_message() -> None:
    from streams.engine.checkpoint import _split

    rows = [{"id": f"m{n}", "topic": "shoploop.events", "raw": "x" * 1000} for n in range(600)]

    chunks = _split(rows, max_bytes=256 * 1024)

    assert [row for chunk in chunks for row in chunk] == rows
    assert len(chunks) == 3 and all(sum(len(r["raw"]) + 60 for r in chunk) < 300 * 1024 for chunk in chunks)
