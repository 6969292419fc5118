"""A simulator log replayed through the real `shoploop streams` worker (Kafka in, Faust tables, Kafka out)
gives exactly the reminders and attributions of the independent polars batch computation over the same log.
The ≥100k-event version is `bench/streams.py --compare`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from ingestion.simulator.catalogue import load_catalogue
from ingestion.simulator.shoppers import simulate_journeys
from shoploop.kafka import Topics
from streams.automations.rules import Rule
from streams.engine.batch import (
    CART_RULE,
    CART_RULE_AUDIENCE,
    SHARE_REWARD,
    as_messages,
    batch_attributions,
    batch_reminders,
    log_frame,
    replay_inputs,
    replayed_attributions,
    replayed_triggers,
)

pytestmark = pytest.mark.integration

# 21:30 in Shanghai: the log runs into quiet hours, so deferral is part of what is compared.
START = datetime(2026, 3, 2, 13, 30, tzinfo=UTC)
LATENESS = timedelta(seconds=60)


@pytest.mark.parametrize("cart_rule", [CART_RULE, CART_RULE_AUDIENCE], ids=["everyone", "with_audience"])
def test_the_worker_replaying_a_simulator_log_gives_the_batch_computations_triggers_and_attributions(
    streams_stack: Any, helpers: dict[str, Callable[..., Any]], cart_rule: Rule
) -> None:
    stack, wait_for = streams_stack, helpers["wait_for"]
    log = simulate_journeys(load_catalogue(), shoppers=150, seed=20260302, start=START)
    inputs = replay_inputs(log)
    horizon = inputs[-1].at + timedelta(days=1)
    frame = log_frame(log)
    expected_triggers = batch_reminders(frame, horizon, cart_rule.audience)
    expected_attributions = batch_attributions(frame)
    assert len(inputs) > 3_000 and len(expected_triggers) > 20 and len(expected_attributions) > 5
    assert {t[3] for t in expected_triggers} == {"send", "holdout"}

    for rule in (cart_rule, SHARE_REWARD):
        stack.publish_rule(orjson.loads(rule.model_dump_json()))
    for topic, key, value in as_messages(inputs):
        stack.send(topic, key, value)
    # Event time reaches the horizon on every partition: everything due by then fires.
    stack.tick(horizon + LATENESS, 1)
    stack.flush()
    stack.start_worker(allowed_lateness_s=str(LATENESS.total_seconds()), agent_flush_s="0.5")

    def replayed() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
        triggers, attributions = stack.read(Topics.TRIGGERS.name), stack.read(Topics.ATTRIBUTIONS.name)
        done = len(triggers) >= len(expected_triggers) and len(attributions) >= len(expected_attributions)
        return (triggers, attributions) if done else None

    try:
        wait_for(replayed, timeout_s=60, every_s=1.0)
    except AssertionError:
        found = replayed_triggers(stack.read(Topics.TRIGGERS.name))
        print(
            "missing:", sorted(expected_triggers - found)[:5], "extra:", sorted(found - expected_triggers)[:5]
        )
        print("dead letters:", stack.read(Topics.STREAMS_DEAD_LETTER.name)[:5])
        print(stack.worker_logs())
        raise
    triggers, attributions = stack.read(Topics.TRIGGERS.name), stack.read(Topics.ATTRIBUTIONS.name)

    assert replayed_triggers(triggers) == expected_triggers
    assert replayed_attributions(attributions) == expected_attributions
    assert stack.read(Topics.STREAMS_DEAD_LETTER.name) == []
