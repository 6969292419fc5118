"""Replaying a simulator log through the decision core gives exactly the triggers and attributions that an
independent polars batch computation over the same log gives (`streams.engine.batch`; the same comparison
through the real worker is in tests/integration/streams)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingestion.simulator.catalogue import load_catalogue
from ingestion.simulator.shoppers import simulate_journeys
from streams.engine.batch import (
    CART_RULE,
    CART_RULE_AUDIENCE,
    SHARE_REWARD,
    batch_attributions,
    batch_reminders,
    log_frame,
    replay_inputs,
    replayed_attributions,
    replayed_triggers,
)
from streams.engine.core import Engine, run_log

# 21:30 in Shanghai: the log runs into quiet hours, so deferral is part of what is compared.
START = datetime(2026, 3, 2, 13, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def log() -> list[dict[str, Any]]:
    messages = simulate_journeys(load_catalogue(), shoppers=4_000, seed=20260302, start=START)
    assert len(messages) >= 100_000
    return messages


def test_replaying_a_simulator_log_gives_the_batch_computations_triggers_and_attributions(log) -> None:
    inputs = replay_inputs(log)
    horizon = inputs[-1].at + timedelta(days=1)
    engine = Engine(allowed_lateness=timedelta(seconds=30))
    engine.publish_rule(CART_RULE)
    engine.publish_rule(SHARE_REWARD)

    outputs = run_log(engine, inputs, until=horizon)

    triggers = replayed_triggers([o.value for o in outputs if o.stream == "triggers"])
    attributions = replayed_attributions([o.value for o in outputs if o.stream == "attributions"])
    frame = log_frame(log)
    expected_triggers = batch_reminders(frame, horizon)
    expected_attributions = batch_attributions(frame)
    assert len(expected_triggers) > 500 and len(expected_attributions) > 100
    assert {t[3] for t in expected_triggers} == {"send", "holdout"}
    assert triggers == expected_triggers
    assert attributions == expected_attributions
    assert not [o for o in outputs if o.stream == "dead_letters"]


def test_a_rule_with_an_audience_reminds_exactly_the_people_the_batch_finds_in_it(log) -> None:
    inputs = replay_inputs(log)
    horizon = inputs[-1].at + timedelta(days=1)
    engine = Engine(allowed_lateness=timedelta(seconds=30))
    engine.publish_rule(CART_RULE_AUDIENCE)

    outputs = run_log(engine, inputs, until=horizon)

    triggers = replayed_triggers([o.value for o in outputs if o.stream == "triggers"])
    frame = log_frame(log)
    assert CART_RULE_AUDIENCE.audience is not None
    expected = batch_reminders(frame, horizon, CART_RULE_AUDIENCE.audience)
    everyone = batch_reminders(frame, horizon)
    # The audience narrows (by segment and by province) but still reaches hundreds of people.
    assert 200 < len(expected) < len(everyone) * 0.6
    assert {t[3] for t in expected} == {"send", "holdout"}
    assert (
        engine.suppressed.get("audience_segment", 0) > 0 and engine.suppressed.get("audience_province", 0) > 0
    )
    assert triggers == expected
