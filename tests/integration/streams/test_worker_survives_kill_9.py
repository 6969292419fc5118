"""`kill -9` of the streams worker in the middle of a replay: after a restart no trigger is lost, none is
sent twice, and the attributions are the ones an uninterrupted run computes."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from shoploop.kafka import Topics
from streams.automations.rules import PushPolicy, parse_rule
from streams.engine.core import Engine, run_log
from streams.inputs import Input, activity_from_json, order_fact_from_json

pytestmark = pytest.mark.integration

MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SLOT = timedelta(seconds=20)
CART_RULE = {
    "rule_id": "cart-10s",
    "version": 1,
    "kind": "abandoned_cart",
    "delay_s": 10,
    "cooldown_s": 0,
    "holdout_share": 0.2,
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
Message = tuple[str, str, bytes]


def _wave(
    stack: Any, track: Callable[..., bytes], paid: Callable[..., bytes], first: int, last: int
) -> list[Message]:
    """Shoppers `first`..`last`-1: each leaves a cart, and every third brings a friend who pays."""
    messages: list[Message] = []
    for n in range(first, last):
        at, person = MORNING + n * SLOT, f"cart{n:02d}"
        openid = stack.log_in(person)
        stack.accept_subscribe(openid, "TPL_CART")
        messages += [
            (Topics.EVENTS.name, person, track(person, at, "Subscribe Message Consent", 1, openid,
                                               results={"TPL_CART": "accept"})),
            (Topics.EVENTS.name, person, track(person, at + timedelta(seconds=1), "Product Added", 2, openid,
                                               product_id=f"p-{n}", name=f"茶杯 {n}", quantity=1)),
        ]  # fmt: skip
        if n % 3 == 0:
            sharer, friend, share_id = f"sharer{n:02d}", f"friend{n:02d}", f"sh-{n}"
            messages += [
                (Topics.EVENTS.name, sharer, track(sharer, at, "Product Shared", 1, product_id=f"p-{n}",
                                                   share_id=share_id, share_depth=1)),
                (Topics.EVENTS.name, friend, track(friend, at + timedelta(seconds=2), "Mini Program Launched",
                                                   1, scene=1007, share_id=share_id)),
                (Topics.ORDERS.name, f"SL-{n}", paid(f"SL-{n}", f"u-{friend}", at + timedelta(seconds=5))),
            ]  # fmt: skip
    return messages


def _second_carts(track: Callable[..., bytes], first: int, last: int) -> list[Message]:
    """Shoppers `first`..`last`-1 leave a second cart later: their one accepted consent is used up (or they
    are held out), so a quota counted twice after the restart would show as an extra trigger."""
    return [
        (Topics.EVENTS.name, f"cart{n:02d}", track(f"cart{n:02d}", MORNING + (24 + n) * SLOT, "Product Added", 3,
                                                   product_id=f"p-{n}-again", name=f"茶壶 {n}", quantity=1))
        for n in range(first, last)
    ]  # fmt: skip


def _expected(messages: list[Message], until: datetime) -> tuple[set[str], set[str], dict[str, Any]]:
    """What an uninterrupted run decides: the pure engine over the same log (send ids, all ids, attributions)."""
    engine = Engine(policy=PushPolicy(), allowed_lateness=timedelta(0))
    for rule in (CART_RULE, SHARE_REWARD):
        engine.publish_rule(parse_rule(orjson.dumps(rule)))
    inputs: list[Input] = []
    for topic, _, raw in messages:
        item = order_fact_from_json(raw) if topic == Topics.ORDERS.name else activity_from_json(raw)
        assert item is not None
        inputs.append(item)
    outputs = run_log(engine, sorted(inputs, key=lambda i: i.at), until=until)
    triggers = [o.value for o in outputs if o.stream == "triggers"]
    attributions = {o.value["order_id"]: o.value for o in outputs if o.stream == "attributions"}
    return (
        {t["trigger_id"] for t in triggers if t["outcome"] == "send"},
        {t["trigger_id"] for t in triggers},
        attributions,
    )


def test_a_worker_killed_mid_replay_loses_no_trigger_sends_none_twice_and_keeps_its_attributions(
    streams_stack: Any, helpers: dict[str, Callable[..., Any]]
) -> None:
    track, paid, wait_for = helpers["track"], helpers["paid"], helpers["wait_for"]
    stack = streams_stack
    for rule in (CART_RULE, SHARE_REWARD):
        stack.publish_rule(rule)
    first_wave = _wave(stack, track, paid, 0, 24)
    second_wave = _wave(stack, track, paid, 24, 48) + _second_carts(track, 0, 24)
    end = MORNING + 48 * SLOT + timedelta(minutes=1)
    to_send, all_triggers, attributions = _expected(first_wave + second_wave, end)
    assert len(to_send) >= 30 and len(attributions) == 16

    for topic, key, value in first_wave:
        stack.send(topic, key, value)
    stack.tick(MORNING + 24 * SLOT, 1)
    stack.flush()
    worker = stack.start_worker()
    try:
        wait_for(stack.messages, every_s=0.05)
        stack.kill_worker(worker)
        for topic, key, value in second_wave:
            stack.send(topic, key, value)
        stack.tick(end, 2)
        stack.flush()
        stack.start_worker()

        def settled() -> list[dict[str, Any]]:
            pushes = stack.read(Topics.PUSHES.name)
            return pushes if {p["trigger_id"] for p in pushes} >= to_send else []

        pushes = wait_for(settled, timeout_s=60, every_s=1.0)
        time.sleep(2)
        triggers = stack.read(Topics.TRIGGERS.name)
        found_attributions = stack.read(Topics.ATTRIBUTIONS.name)
        dead_letters = stack.read(Topics.STREAMS_DEAD_LETTER.name)
    except AssertionError as error:
        print(stack.worker_logs())
        recorded = {p["trigger_id"] for p in stack.read(Topics.PUSHES.name)}
        unrecorded = [
            (partition, offset, t["trigger_id"])
            for partition, offset, t in stack.read_with_offsets(Topics.TRIGGERS.name)
            if t["trigger_id"] in to_send - recorded
        ]
        committed = stack.committed_offsets("shoploop-streams", Topics.TRIGGERS.name)
        raise AssertionError(
            f"{error}; no push record for (partition, offset, trigger) {unrecorded}; "
            f"the workers' committed offsets on the triggers topic: {committed}"
        ) from error

    # No trigger lost (a replayed batch may publish one again, with the same id and decision), and none
    # extra: a second cart of a shopper whose one consent was used makes no trigger (quota not counted twice).
    assert {t["trigger_id"] for t in triggers} == all_triggers
    # None sent twice: every message names its trigger in the page, and each trigger appears once.
    sent_ids = [m["page"].split("push_id=")[1] for m in stack.messages()]
    assert len(sent_ids) == len(set(sent_ids))
    # A send cut off between its claim and WeChat's answer is recorded as interrupted, never retried.
    interrupted = {p["trigger_id"] for p in pushes if p.get("reason") == "interrupted"}
    assert set(sent_ids) | interrupted == to_send and len(interrupted) <= 1
    # The kill may land after WeChat took the message but before "sent" was recorded: then it is "interrupted".
    recorded_sent = {p["trigger_id"] for p in pushes if p["status"] == "sent"}
    assert recorded_sent <= set(sent_ids) and set(sent_ids) - recorded_sent <= interrupted
    # Inputs re-delivered after the restart (below the committed offset) were already applied: skipped, not late.
    assert dead_letters == []
    # Attributions unchanged: the same set, and a repeated one is identical to the first.
    assert {a["order_id"]: a for a in found_attributions} == attributions
    assert all(a == attributions[a["order_id"]] for a in found_attributions)
