"""The demo's rule book reminds abandoned carts after two minutes and rewards both sides of a share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from streams.automations.demo import demo_rules
from streams.automations.rules import Rule, parse_rule
from streams.engine.core import Engine
from streams.inputs import Activity

MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
# 23:30 in Shanghai: inside the default quiet hours (22:00-08:00).
LATE_EVENING = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)


def test_every_demo_rule_survives_the_trip_through_the_rules_topic() -> None:
    for rule in demo_rules():
        assert parse_rule(orjson.dumps(rule.model_dump(mode="json"))) == rule


def _reminders_of_a_cart_left_at(start: datetime, rules: list[Rule]) -> list[dict[str, object]]:
    engine = Engine(allowed_lateness=timedelta(0))
    for rule in rules:
        engine.publish_rule(rule)
    person = "mei"
    outputs = []
    for n, (seconds, event, properties) in enumerate(
        [
            (0, "Subscribe Message Consent", {"results": {"TPL_CART_REMINDER": "accept"}}),
            (1, "Product Added", {"product_id": "p-teapot", "name": "白瓷茶壶", "quantity": 1}),
            (200, "Product Viewed", {"product_id": "p-cup"}),
        ]
    ):
        at = start + timedelta(seconds=seconds)
        outputs += engine.offer(
            Activity(f"m{n}", person, at, "track", event, openid="o", properties=properties)
        )
        outputs += engine.advance()
    return [o.value for o in outputs if o.stream == "triggers"]


def test_a_demo_cart_left_for_two_minutes_gets_a_reminder_that_fits_the_template_limits() -> None:
    (trigger,) = _reminders_of_a_cart_left_at(MORNING, demo_rules())
    assert trigger["due_at"] == (MORNING + timedelta(seconds=121)).isoformat()
    assert trigger["data"] == {"thing1": "白瓷茶壶", "number2": "1", "thing3": "您的购物车还有商品待结算"}


def test_a_demo_cart_left_late_in_the_evening_is_reminded_without_waiting_for_the_morning() -> None:
    (trigger,) = _reminders_of_a_cart_left_at(LATE_EVENING, demo_rules())
    assert trigger["outcome"] == "send"
    assert trigger["fired_at"] == (LATE_EVENING + timedelta(seconds=121)).isoformat()


def test_a_rule_that_does_not_state_quiet_hours_defers_the_same_evening_cart_to_eight_in_the_morning() -> (
    None
):
    cart_rule = next(rule for rule in demo_rules() if rule.kind == "abandoned_cart")
    defaults = cart_rule.model_dump(exclude={"quiet_start", "quiet_end"})
    assert _reminders_of_a_cart_left_at(LATE_EVENING, [Rule(**defaults)]) == []
