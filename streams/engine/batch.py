"""The independent batch computation that replays are checked against: abandoned-cart reminders and referral
attributions of a recorded simulator log, computed with polars over the whole log at once (no engine, no
event-at-a-time state). A replay of the same log — through `Engine` or through the Faust worker — must give
identical sets (issue 6: "deterministic on replay").

The log is the simulator's Segment messages plus what the order core and the subscribe prompt would add: a
verified payment `PAYMENT_LAG` after each client-side Order Completed, and one accepted prompt just before a
person's first cart add. The rule is one abandoned-cart reminder (`DELAY`, 10% holdout, quiet hours 22:00–08:00
Asia/Shanghai, no cooldown) and a share reward (last touch, 7 days). The reminder may carry an audience
(`CART_RULE_AUDIENCE`): the batch side then keeps only the reminders of people in it when they go out, with
dim_users' definitions (province from identify traits — the log has no order addresses —, verified paid orders,
RFM segment from shoploop/rfm.py's thresholds) written here in polars.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import orjson
import polars as pl

from shoploop import rfm
from shoploop.kafka import Topics
from streams.automations.rules import Audience, Rule
from streams.inputs import Activity, Input, OrderFact

DELAY = timedelta(minutes=30)
PAYMENT_LAG = timedelta(seconds=2)
SHARE_SCENES = (1007, 1008, 1044)
CART_RULE = Rule(rule_id="cart-30m", version=3, kind="abandoned_cart", delay_s=1800, cooldown_s=0,
                 holdout_share=0.1, template_id="TPL_CART", template_data={"thing1": "{product_name}"})  # fmt: skip
# The same reminder for a narrower audience: 广东 and 上海 shoppers who never paid or paid once.
CART_RULE_AUDIENCE = CART_RULE.model_copy(
    update={"version": 4, "audience": Audience(segments=("new", "prospect"), provinces=("上海", "广东"))}
)
SHARE_REWARD = Rule(rule_id="share-5-yuan", version=1, kind="referral_reward", sharer_campaign_id="c-s",
                    friend_campaign_id="c-f")  # fmt: skip
Trigger = tuple[str, str, str, str]  # person, episode, fired_at, outcome
Attribution = tuple[str, str]  # order, share


def replay_inputs(messages: list[dict[str, Any]]) -> list[Input]:
    """The log as the streams get it, in event-time order (see the module docstring)."""
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


def as_messages(inputs: list[Input]) -> list[tuple[str, str, bytes]]:
    """(topic, key, value) as the collector and the order core's outbox put these inputs on Kafka."""
    messages: list[tuple[str, str, bytes]] = []
    for item in inputs:
        if isinstance(item, OrderFact):
            fact = {"event_id": item.event_id, "event": item.name, "order_id": item.order_id,
                     "user_id": item.user_id, "total_fen": item.total_fen, "occurred_at": item.at.isoformat()}  # fmt: skip
            messages.append((Topics.ORDERS.name, item.order_id or item.event_id, orjson.dumps(fact)))
            continue
        value: dict[str, Any] = {"message_id": item.message_id, "type": item.type, "event": item.event,
                 "person_id": item.person_id, "anonymous_id": item.person_id, "user_id": item.user_id,
                 "timestamp": item.at.isoformat(), "scene": item.scene, "properties": item.properties,
                 "traits": item.traits, "context": {}}  # fmt: skip
        messages.append((Topics.EVENTS.name, item.person_id, orjson.dumps(value)))
    return messages


def log_frame(messages: list[dict[str, Any]]) -> pl.DataFrame:
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
                "type": m["type"],
                "province": (m.get("traits") or {}).get("province") if m["type"] == "identify" else None,
            }
            for m in messages
        ],
        infer_schema_length=None,
    )


def batch_reminders(frame: pl.DataFrame, horizon: datetime, audience: Audience | None = None) -> set[Trigger]:
    """Every reminder due by `horizon`: (person, episode = last cart change, fired_at, send / holdout).

    With an audience, only reminders whose person is in it when the reminder goes out (judged before the
    subscribe quota and the holdout, so an outsider neither uses their prompt nor counts in the holdout).
    """
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
    )  # fmt: skip
    if audience is not None:
        candidates = in_audience(candidates, frame, audience)
    candidates = (
        candidates.with_columns(
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


def in_audience(candidates: pl.DataFrame, frame: pl.DataFrame, audience: Audience) -> pl.DataFrame:
    """The candidates whose person is in `audience` at their `fire_at`, from what happened strictly before it."""
    candidates = candidates.sort("fire_at")
    payments = (
        frame.filter(pl.col("event") == "Order Completed")
        .sort("at", "message_id")
        .unique("order_id", keep="first", maintain_order=True)
        .select("person_id", paid_at=pl.col("at") + PAYMENT_LAG)
        .sort("paid_at")
        .with_columns(paid_orders=pl.int_range(1, pl.len() + 1).over("person_id"))
    )
    provinces = (
        frame.filter((pl.col("type") == "identify") & pl.col("province").is_not_null())
        .select("person_id", trait_province=pl.col("province"), identified_at=pl.col("at"))
        .sort("identified_at")
    )
    shop_day = pl.col("paid_at").dt.convert_time_zone("Asia/Shanghai").dt.date()
    newest = payments.select(newest_at=pl.col("paid_at"), newest_day=shop_day)
    with_payments = _latest_before(
        candidates, payments.with_columns(last_day=shop_day), on="paid_at", by="person_id"
    )
    with_newest = _latest_before(with_payments, newest, on="newest_at")
    profiled = (
        _latest_before(with_newest, provinces, on="identified_at", by="person_id")
        .with_columns(paid_orders=pl.col("paid_orders").fill_null(0),
                      recency=(pl.col("newest_day") - pl.col("last_day")).dt.total_days() + 1)
        .with_columns(
            r=pl.when(pl.col("recency") <= rfm.RECENT_DAYS).then(3).when(pl.col("recency") <= rfm.LAPSING_DAYS).then(2).otherwise(1),
            f=pl.when(pl.col("paid_orders") >= rfm.FREQUENT_ORDERS).then(3)
            .when(pl.col("paid_orders") >= rfm.REPEAT_ORDERS).then(2).otherwise(1),
        )
        .with_columns(
            segment=pl.when(pl.col("paid_orders") == 0).then(pl.lit("prospect"))
            .when((pl.col("r") == 3) & (pl.col("f") == 3)).then(pl.lit("champion"))
            .when((pl.col("r") >= 2) & (pl.col("f") >= 2)).then(pl.lit("loyal"))
            .when((pl.col("r") == 3) & (pl.col("f") == 1)).then(pl.lit("new"))
            .when((pl.col("r") == 1) & (pl.col("f") >= 2)).then(pl.lit("at_risk"))
            .when(pl.col("r") == 1).then(pl.lit("hibernating"))
            .otherwise(pl.lit("needs_attention"))
        )
    )  # fmt: skip
    keep = pl.col("paid_orders") >= audience.min_paid_orders
    if audience.segments:
        keep &= pl.col("segment").is_in(list(audience.segments))
    if audience.provinces:
        keep &= pl.col("trait_province").is_in(list(audience.provinces)).fill_null(False)
    return profiled.filter(keep).select(candidates.columns)


def _latest_before(
    left: pl.DataFrame, right: pl.DataFrame, *, on: str, by: str | None = None
) -> pl.DataFrame:
    """Each `left` row with the latest `right` row strictly before its fire_at (both sorted by time; polars
    cannot check that within `by` groups)."""
    return left.join_asof(
        right, left_on="fire_at", right_on=on, by=by, strategy="backward", allow_exact_matches=False,
        check_sortedness=False,
    )  # fmt: skip


def batch_attributions(frame: pl.DataFrame) -> set[Attribution]:
    """Each paid order's last share touch within 7 days, the buyer's own shares excluded: (order, share)."""
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


def replayed_triggers(triggers: list[dict[str, Any]]) -> set[Trigger]:
    return {(t["person_id"], t["episode"], t["fired_at"], t["outcome"]) for t in triggers}


def replayed_attributions(attributions: list[dict[str, Any]]) -> set[Attribution]:
    return {(a["order_id"], a["share_id"]) for a in attributions}
