"""Replaying a simulator log through the decision core gives exactly the triggers and attributions that an
independent polars batch computation over the same log gives."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from ingestion.simulator.catalogue import load_catalogue
from ingestion.simulator.shoppers import simulate_journeys
from streams.automations.rules import Rule
from streams.engine.core import Engine, run_log
from streams.inputs import Activity, Input, OrderFact

# 21:30 in Shanghai: the log runs into quiet hours, so deferral is part of what is compared.
START = datetime(2026, 3, 2, 13, 30, tzinfo=UTC)
DELAY = timedelta(minutes=30)
PAYMENT_LAG = timedelta(seconds=2)
SHARE_SCENES = (1007, 1008, 1044)
RULE = Rule(rule_id="cart-30m", version=3, kind="abandoned_cart", delay_s=1800, cooldown_s=0, holdout_share=0.1,
            template_id="TPL_CART", template_data={"thing1": "{product_name}"})  # fmt: skip
REWARD = Rule(rule_id="share-5-yuan", version=1, kind="referral_reward", sharer_campaign_id="c-s",
              friend_campaign_id="c-f")  # fmt: skip


@pytest.fixture(scope="module")
def log() -> list[dict[str, Any]]:
    messages = simulate_journeys(load_catalogue(), shoppers=4_000, seed=20260302, start=START)
    assert len(messages) >= 100_000
    return messages


def _inputs(messages: list[dict[str, Any]]) -> list[Input]:
    """The log as the streams get it, plus what the order core and the subscribe prompt would add: a verified
    payment 2 s after each client-side Order Completed, and one accepted prompt before a first cart add."""
    inputs: list[Input] = []
    consented: set[str] = set()
    for m in messages:
        at = datetime.fromisoformat(m["timestamp"])
        person = m.get("anonymousId") or m["userId"]
        properties = m.get("properties") or {}
        if m.get("event") == "Product Added" and person not in consented:
            consented.add(person)
            inputs.append(Activity(f"consent-{person}", person, at - timedelta(milliseconds=1), "track",
                                   "Subscribe Message Consent", properties={"results": {"TPL_CART": "accept"}}))  # fmt: skip
        inputs.append(
            Activity(
                message_id=m["messageId"],
                person_id=person,
                at=at,
                type=m["type"],
                event=m.get("event") or m.get("name"),
                user_id=m.get("userId"),
                scene=m["context"]["wechat"]["scene"],
                properties=properties,
                traits=m.get("traits") or {},
            )
        )
        if m.get("event") == "Order Completed":
            inputs.append(OrderFact(f"paid-{properties['order_id']}", "OrderPaid", at + PAYMENT_LAG,
                                    user_id=m["userId"], order_id=properties["order_id"],
                                    total_fen=round(properties["total"] * 100)))  # fmt: skip
    return sorted(inputs, key=lambda item: item.at)


def _frame(messages: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "message_id": m["messageId"],
                "person_id": m.get("anonymousId") or m["userId"],
                "at": datetime.fromisoformat(m["timestamp"]),
                "event": m.get("event"),
                "scene": m["context"]["wechat"]["scene"],
                "product_id": (m.get("properties") or {}).get("product_id"),
                "quantity": (m.get("properties") or {}).get("quantity"),
                "share_id": (m.get("properties") or {}).get("share_id"),
                "order_id": (m.get("properties") or {}).get("order_id"),
            }
            for m in messages
        ],
        infer_schema_length=None,
    )


def _batch_reminders(frame: pl.DataFrame, horizon: datetime) -> set[tuple[str, str, str, str]]:
    changes = frame.filter(pl.col("event").is_in(["Product Added", "Product Removed", "Checkout Started"]))
    payments = frame.filter(pl.col("event") == "Order Completed").with_columns(pl.col("at") + PAYMENT_LAG)
    rows = (
        pl.concat(
            [
                changes.with_columns(
                    delta=pl.when(pl.col("event") == "Product Added").then(pl.col("quantity").fill_null(1))
                    .when(pl.col("event") == "Product Removed").then(-pl.col("quantity").fill_null(1))
                    .otherwise(0),
                    is_payment=pl.lit(False),
                ),
                payments.with_columns(delta=pl.lit(0, dtype=pl.Int64), is_payment=pl.lit(True)),
            ],
            how="diagonal_relaxed",
        )
        .sort("person_id", "at", "message_id")
        .with_columns(basket=pl.col("is_payment").cast(pl.Int32).cum_sum().over("person_id"))
        .with_columns(items=pl.col("delta").cum_sum().over("person_id", "basket"))
        .with_columns(next_change=pl.col("at").shift(-1).over("person_id"))
    )  # fmt: skip
    local_due = (pl.col("at") + DELAY).dt.convert_time_zone("Asia/Shanghai")
    hour = local_due.dt.hour()
    eight = local_due.dt.truncate("1d").dt.offset_by("8h")
    candidates = (
        rows.filter(~pl.col("is_payment") & (pl.col("items") > 0))
        .with_columns(
            fire_at=pl.when(hour >= 22).then(eight.dt.offset_by("1d")).when(hour < 8).then(eight)
            .otherwise(local_due).dt.convert_time_zone("UTC")
        )
        .filter(pl.col("next_change").is_null() | (pl.col("next_change") >= pl.col("fire_at")))
        .filter(pl.col("fire_at") <= horizon)
        .with_columns(
            is_holdout=pl.col("person_id").map_elements(
                lambda person: int.from_bytes(hashlib.sha256(f"holdout\x1fcart-30m\x1f{person}".encode()).digest()[:8])
                / 2**64 < 0.1,
                return_dtype=pl.Boolean,
            )
        )
        .sort("person_id", "fire_at")
        # One accepted prompt: records until (and including) the first real send.
        .with_columns(sent_before=(~pl.col("is_holdout")).cast(pl.Int32).cum_sum().shift(1, fill_value=0).over("person_id"))
        .filter(pl.col("sent_before") == 0)
    )  # fmt: skip
    return {
        (
            r["person_id"],
            r["at"].isoformat(),
            r["fire_at"].isoformat(),
            "holdout" if r["is_holdout"] else "send",
        )
        for r in candidates.iter_rows(named=True)
    }


def _batch_attributions(frame: pl.DataFrame) -> set[tuple[str, str]]:
    shares = frame.filter(pl.col("event").is_in(["Product Shared", "Mini Program Shared"])).select(
        "share_id", sharer=pl.col("person_id")
    )
    touches = frame.filter(
        pl.col("event").is_in(["Mini Program Launched", "Mini Program Shown"])
        & pl.col("scene").is_in(SHARE_SCENES)
        & pl.col("share_id").is_not_null()
    ).select("person_id", "share_id", touched_at=pl.col("at"), touch_id=pl.col("message_id"))
    payments = frame.filter(pl.col("event") == "Order Completed").select(
        "person_id", "order_id", paid_at=pl.col("at") + PAYMENT_LAG
    )
    attributed = (
        payments.join(touches, on="person_id")
        .join(shares, on="share_id")
        .filter(
            (pl.col("sharer") != pl.col("person_id"))
            & (pl.col("touched_at") <= pl.col("paid_at"))
            & (pl.col("touched_at") >= pl.col("paid_at") - timedelta(days=7))
        )
        .sort("touched_at", "touch_id")
        .group_by("order_id")
        .agg(pl.col("share_id").last())
    )
    return set(attributed.iter_rows())


def test_replaying_a_simulator_log_gives_the_batch_computations_triggers_and_attributions(log) -> None:
    inputs = _inputs(log)
    horizon = inputs[-1].at + timedelta(days=1)
    engine = Engine(allowed_lateness=timedelta(seconds=30))
    engine.publish_rule(RULE)
    engine.publish_rule(REWARD)

    outputs = run_log(engine, inputs, until=horizon)

    triggers = {
        (t["person_id"], t["episode"], t["fired_at"], t["outcome"])
        for t in (o.value for o in outputs if o.stream == "triggers")
    }
    attributions = {
        (a["order_id"], a["share_id"]) for a in (o.value for o in outputs if o.stream == "attributions")
    }
    frame = _frame(log)
    expected_triggers = _batch_reminders(frame, horizon)
    expected_attributions = _batch_attributions(frame)
    assert len(expected_triggers) > 500 and len(expected_attributions) > 100
    assert {t[3] for t in expected_triggers} == {"send", "holdout"}
    assert triggers == expected_triggers
    assert attributions == expected_attributions
    assert not [o for o in outputs if o.stream == "dead_letters"]
