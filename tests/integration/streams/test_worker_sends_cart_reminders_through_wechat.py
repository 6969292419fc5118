"""The real `shoploop streams` worker on the embedded broker: a published abandoned-cart rule with a
seconds-sized delay turns a cart left on the topic into exactly one subscribe message in the loopback
WeChat sandbox, and a paid order from a shared link into an attribution and reward commands."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shoploop.kafka import Topics

pytestmark = pytest.mark.integration

MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, outside quiet hours
CART_RULE = {
    "rule_id": "cart-5s",
    "version": 1,
    "kind": "abandoned_cart",
    "delay_s": 5,
    "holdout_share": 0,
    "template_id": "TPL_CART",
    "template_data": {"thing1": "{product_name}"},
    "page": "pages/cart/index",
}
SHARE_REWARD = {
    "rule_id": "share-5-yuan",
    "version": 1,
    "kind": "referral_reward",
    "sharer_campaign_id": "c-sharer",
    "friend_campaign_id": "c-friend",
}


def test_an_abandoned_cart_becomes_one_subscribe_message_and_a_shared_order_is_rewarded(
    streams_stack: Any, helpers: dict[str, Callable[..., Any]]
) -> None:
    track, paid, wait_for = helpers["track"], helpers["paid"], helpers["wait_for"]
    stack = streams_stack
    openid = stack.log_in("mei")
    stack.accept_subscribe(openid, "TPL_CART", times=3)
    for rule in (CART_RULE, SHARE_REWARD):
        stack.publish_rule(rule)
    stack.flush()
    stack.start_worker()

    at = MORNING
    stack.send(Topics.EVENTS.name, "mei", track("mei", at, "Subscribe Message Consent", 1, openid,
                                               results={"TPL_CART": "accept"}))  # fmt: skip
    stack.send(Topics.EVENTS.name, "mei", track("mei", at, "Product Added", 2, openid, product_id="p-teapot",
                                               name="白瓷茶壶", quantity=1, price_fen=12_900))  # fmt: skip
    stack.send(Topics.EVENTS.name, "ann", track("ann", at, "Product Shared", 1, product_id="p-teapot",
                                               share_id="sh-ann", share_depth=1))  # fmt: skip
    stack.send(Topics.EVENTS.name, "bo", track("bo", at + timedelta(seconds=1), "Mini Program Launched", 1,
                                              scene=1007, share_id="sh-ann"))  # fmt: skip
    stack.send(Topics.ORDERS.name, "SL-1", paid("SL-1", "u-bo", at + timedelta(seconds=2)))
    # Event time moves past the reminder's due time (5 s after the cart change) on every partition.
    stack.tick(at + timedelta(seconds=10), 1)
    stack.flush()

    try:
        sent = wait_for(stack.messages)
        rewards = wait_for(lambda: stack.read(Topics.REWARD_COMMANDS.name))
        pushes = wait_for(lambda: stack.read(Topics.PUSHES.name))
        # More event time: the reminder is not sent again.
        stack.tick(at + timedelta(minutes=5), 2)
        stack.flush()
        time.sleep(2)
    except AssertionError:
        print(stack.worker_logs())
        for name in (
            "TRIGGERS",
            "PUSHES",
            "ATTRIBUTIONS",
            "REWARD_COMMANDS",
            "SHARES",
            "STREAMS_DEAD_LETTER",
        ):
            print(name, stack.read(getattr(Topics, name).name))
        raise

    assert [(m["touser"], m["template_id"], m["data"]) for m in stack.messages()] == [
        (openid, "TPL_CART", {"thing1": {"value": "白瓷茶壶"}})
    ]
    triggers = stack.read(Topics.TRIGGERS.name)
    assert [(t["rule_id"], t["rule_version"], t["outcome"], t["due_at"]) for t in triggers] == [
        ("cart-5s", 1, "send", (at + timedelta(seconds=5)).isoformat())
    ]
    assert sent[0]["page"] == f"pages/cart/index?push_id={triggers[0]['trigger_id']}"
    assert [(p["trigger_id"], p["status"]) for p in pushes] == [(triggers[0]["trigger_id"], "sent")]
    attributions = stack.read(Topics.ATTRIBUTIONS.name)
    assert [(a["order_id"], a["share_id"], a["sharer_user_id"]) for a in attributions] == [
        ("SL-1", "sh-ann", "u-ann")
    ]
    assert sorted((r["role"], r["user_id"], r["campaign_id"]) for r in rewards) == [
        ("friend", "u-bo", "c-friend"),
        ("sharer", "u-ann", "c-sharer"),
    ]
