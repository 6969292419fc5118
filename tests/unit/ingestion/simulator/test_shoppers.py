"""The pure behaviour model: seeded, valid per the contract, consistent shares and a monotone funnel."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from ingestion.contract.scenes import SHARE_SCENES
from ingestion.contract.segment import SegmentMessage
from ingestion.simulator.audience import ARRIVAL_SCENES, RETURN_SCENES
from ingestion.simulator.catalogue import Catalogue
from ingestion.simulator.shoppers import PAGE_TITLES, Pacing, TrafficModel, simulate_journeys

START = datetime(2024, 6, 1, 2, 0, tzinfo=UTC)
Messages = list[dict[str, Any]]


def _tracks(messages: Messages, event: str) -> Messages:
    return [message for message in messages if message["type"] == "track" and message["event"] == event]


def _fen(yuan: float) -> int:
    fen = round(yuan * 100)
    assert abs(fen - yuan * 100) < 1e-6, f"{yuan} has more than two decimals"
    return fen


def test_the_same_seed_replays_the_same_messages_and_another_seed_does_not(catalogue: Catalogue) -> None:
    first = simulate_journeys(catalogue, shoppers=40, seed=21, start=START)
    again = simulate_journeys(catalogue, shoppers=40, seed=21, start=START)
    other = simulate_journeys(catalogue, shoppers=40, seed=22, start=START)
    assert first == again
    assert [message["messageId"] for message in first] != [message["messageId"] for message in other]


def test_every_message_validates_against_the_segment_contract_and_looks_like_a_phone(
    journeys: Messages,
) -> None:
    assert len(journeys) > 3_000
    for message in journeys:
        SegmentMessage.model_validate(message)
        context = message["context"]
        assert isinstance(context["wechat"]["scene"], int)
        assert context["library"]["name"] == "shoploop-simulator" and context["library"]["version"]
        assert context["locale"] == "zh_CN"
        assert context["device"]["manufacturer"] and context["os"]["name"] in {"iOS", "Android"}
        assert isinstance(context["network"]["wifi"], bool)
        assert message["anonymousId"]
        assert datetime.fromisoformat(message["timestamp"]).utcoffset() == timedelta(0)
    assert len({message["messageId"] for message in journeys}) == len(journeys)


def test_messages_come_in_timestamp_order_from_the_start(journeys: Messages) -> None:
    moments = [datetime.fromisoformat(message["timestamp"]) for message in journeys]
    assert moments == sorted(moments)
    assert moments[0] >= START


def test_visits_open_with_launch_and_show_and_close_with_hide(journeys: Messages) -> None:
    by_person: dict[str, Messages] = defaultdict(list)
    for message in journeys:
        by_person[message["anonymousId"]].append(message)
    for messages in by_person.values():
        names = [message.get("event") for message in messages]
        assert names[:2] == ["Mini Program Launched", "Mini Program Shown"]
        assert names[-1] == "Mini Program Hidden"
        assert names.count("Mini Program Launched") == names.count("Mini Program Hidden")
    for hidden in _tracks(journeys, "Mini Program Hidden"):
        assert hidden["properties"]["duration_ms"] > 0
    for page in (message for message in journeys if message["type"] == "page"):
        assert page["name"] in PAGE_TITLES and page["properties"]["path"] == page["name"]


def test_shoppers_arrive_from_realistic_wechat_scenes(journeys: Messages) -> None:
    scenes = [message["properties"]["scene"] for message in _tracks(journeys, "Mini Program Launched")]
    known = set(ARRIVAL_SCENES) | set(RETURN_SCENES) | SHARE_SCENES
    assert set(scenes) <= known
    assert {1007, 1008, 1011, 1047, 1053, 1058, 1089, 1001, 1045} <= set(scenes)
    share_entries = sum(scene in SHARE_SCENES for scene in scenes)
    assert 0.1 < share_entries / len(scenes) < 0.5


def test_friends_arrive_through_a_share_scene_carrying_the_sharers_share_id(journeys: Messages) -> None:
    shares = {message["properties"]["share_id"]: message for message in _tracks(journeys, "Product Shared")}
    entries = [
        message
        for message in _tracks(journeys, "Mini Program Launched")
        if "share_id" in message["properties"]
    ]
    assert len(entries) > 20
    for entry in entries:
        properties = entry["properties"]
        share = shares[properties["share_id"]]
        assert share["anonymousId"] != entry["anonymousId"]
        assert share["timestamp"] < entry["timestamp"]
        assert properties["share_depth"] == share["properties"]["share_depth"]
        expected_scenes = {1007} if share["properties"]["share_via"] == "single_chat" else {1008, 1044}
        assert properties["scene"] in expected_scenes
        assert entry["context"]["wechat"]["scene"] == properties["scene"]
        assert properties["query"]["id"] == share["properties"]["product_id"]
    for launch in _tracks(journeys, "Mini Program Launched"):
        assert ("share_id" in launch["properties"]) == (launch["properties"]["scene"] in SHARE_SCENES)


def test_a_reshare_points_at_the_share_its_sharer_came_through_one_level_deeper(journeys: Messages) -> None:
    shares = {
        message["properties"]["share_id"]: message["properties"]
        for message in _tracks(journeys, "Product Shared")
    }
    entered_through: dict[str, str] = {}
    for launch in _tracks(journeys, "Mini Program Launched"):
        if "share_id" in launch["properties"]:
            entered_through.setdefault(launch["anonymousId"], launch["properties"]["share_id"])
    reshares = 0
    for message in _tracks(journeys, "Product Shared"):
        share = message["properties"]
        assert share["share_via"] in {"single_chat", "group_chat"}
        if share["parent_share_id"] is None:
            assert share["share_depth"] == 1
            assert message["anonymousId"] not in entered_through
        else:
            reshares += 1
            assert share["parent_share_id"] == entered_through[message["anonymousId"]]
            assert share["share_depth"] == shares[share["parent_share_id"]]["share_depth"] + 1
    assert reshares > 0


def test_the_funnel_is_monotone_view_before_add_cart_before_checkout_checkout_before_pay(
    journeys: Messages,
) -> None:
    viewed: dict[str, set[str]] = defaultdict(set)
    cart: dict[str, dict[str, int]] = defaultdict(dict)
    checkouts: dict[str, dict[str, Any]] = {}
    identified: set[str] = set()
    for message in journeys:
        person = message["anonymousId"]
        if message["type"] == "identify":
            identified.add(person)
            assert message["userId"] and message["traits"]["birthday"]
            continue
        event, properties = message.get("event"), message.get("properties") or {}
        if event == "Product Viewed":
            viewed[person].add(properties["product_id"])
        elif event == "Product Added":
            assert properties["product_id"] in viewed[person], "added a product never viewed"
            cart[person][properties["product_id"]] = properties["quantity"]
        elif event == "Product Removed":
            assert cart[person].pop(properties["product_id"]) == properties["quantity"]
        elif event == "Checkout Started":
            assert cart[person], "started checkout with an empty cart"
            assert person in identified and message["userId"], "checked out without logging in"
            lines = {line["product_id"]: line["quantity"] for line in properties["products"]}
            assert lines == cart[person]
            checkouts[properties["checkout_id"]] = message
        elif event == "Order Completed":
            checkout = checkouts.pop(properties["checkout_id"])
            assert checkout["anonymousId"] == person, "paid without starting checkout"
            assert properties["products"] == checkout["properties"]["products"]
            cart[person] = {}
    assert len(_tracks(journeys, "Order Completed")) > 10


def test_order_amounts_add_up_to_the_fen(journeys: Messages, catalogue: Catalogue) -> None:
    for order in _tracks(journeys, "Order Completed"):
        properties = order["properties"]
        assert properties["currency"] == "CNY"
        subtotal = sum(_fen(line["price"]) * line["quantity"] for line in properties["products"])
        for line in properties["products"]:
            assert _fen(line["price"]) == catalogue.get(line["product_id"]).price_fen
        assert _fen(properties["subtotal"]) == subtotal
        assert _fen(properties["revenue"]) == subtotal - _fen(properties["discount"])
        assert _fen(properties["total"]) == _fen(properties["revenue"]) + _fen(properties["shipping"])
        assert (properties["coupon"] is None) == (properties["discount"] == 0)


def test_friends_who_came_through_a_share_sometimes_buy_and_some_shoppers_come_back(
    journeys: Messages,
) -> None:
    through_share = {
        message["anonymousId"]
        for message in _tracks(journeys, "Mini Program Launched")
        if "share_id" in message["properties"]
    }
    buyers = {message["anonymousId"] for message in _tracks(journeys, "Order Completed")}
    assert through_share & buyers
    launches: dict[str, int] = defaultdict(int)
    for message in _tracks(journeys, "Mini Program Launched"):
        launches[message["anonymousId"]] += 1
    assert any(count > 1 for count in launches.values())


def test_each_first_time_shopper_is_one_journey(catalogue: Catalogue) -> None:
    messages = simulate_journeys(catalogue, shoppers=25, seed=3, start=START)
    first_launches = [
        message
        for message in _tracks(messages, "Mini Program Launched")
        if "share_id" not in message["properties"] and "userId" not in message
    ]
    people = {message["anonymousId"] for message in messages}
    assert len({message["anonymousId"] for message in first_launches}) >= 25
    assert len(people) >= 25


def test_the_endless_model_keeps_about_as_many_shoppers_in_the_app_as_asked(catalogue: Catalogue) -> None:
    model = TrafficModel(
        catalogue, seed=9, shoppers=60, start=START, pacing=Pacing(mean_think_s=5.0), rounds=None
    )
    moment = START + timedelta(minutes=20)
    messages = model.until(moment)
    assert all(datetime.fromisoformat(message["timestamp"]) <= moment for message in messages)
    assert 50 <= model.active_visits(moment) <= 120
    later = model.until(moment + timedelta(minutes=1))
    assert later and all(datetime.fromisoformat(message["timestamp"]) > moment for message in later)


def test_the_real_time_model_and_the_batch_model_agree_on_first_visits(catalogue: Catalogue) -> None:
    batch = simulate_journeys(catalogue, shoppers=30, seed=4, start=START)
    endless = TrafficModel(catalogue, seed=4, shoppers=30, start=START, rounds=None)
    # Until the first shopper leaves, the endless model has started nothing the batch model has not.
    first_hidden = min(message["timestamp"] for message in _tracks(batch, "Mini Program Hidden"))
    horizon = datetime.fromisoformat(first_hidden)
    assert endless.until(horizon) == [m for m in batch if datetime.fromisoformat(m["timestamp"]) <= horizon]


def test_the_collector_accepts_every_simulated_message_and_names_a_channel_for_each(
    journeys: Messages,
) -> None:
    from ingestion.collector.intake import split_batch
    from ingestion.contract.segment import SegmentBatch

    channels: set[str] = set()
    for first in range(0, len(journeys), 2_000):
        chunk = journeys[first : first + 2_000]
        sent_at = chunk[-1]["timestamp"]
        batch = SegmentBatch.model_validate({"batch": chunk, "sentAt": sent_at})
        intake = split_batch(batch, source="miniprogram", received_at=datetime.fromisoformat(sent_at))
        assert intake.dead_letters == []
        assert len(intake.accepted) == len(chunk)
        channels |= {event.channel for event in intake.accepted}
    assert "other" not in channels
    assert channels >= {
        "share_single_chat",
        "share_group_chat",
        "search",
        "qr_code",
        "official_account_article",
    }


def test_the_model_counts_orders_and_shares_only_once_they_have_happened(catalogue: Catalogue) -> None:
    model = TrafficModel(catalogue, seed=7, shoppers=300, start=START)
    early = model.until(START + timedelta(seconds=20))
    assert model.orders_completed == len(_tracks(early, "Order Completed"))
    everything = early + list(model)
    assert model.orders_completed == len(_tracks(everything, "Order Completed")) > 0
    assert model.shares_made == len(_tracks(everything, "Product Shared")) > 0


def test_shoppers_log_in_before_their_first_add_to_cart_and_before_they_share(journeys: Messages) -> None:
    # A cart reminder or a share reward needs the shopper's account: the order core holds the real openid.
    identified: set[str] = set()
    adds = shares = 0
    for message in journeys:
        person = message["anonymousId"]
        if message["type"] == "identify":
            identified.add(person)
        elif message.get("event") in ("Product Added", "Product Shared", "Subscribe Message Consent"):
            assert person in identified and message["userId"], f"{message['event']} before logging in"
            adds += message["event"] == "Product Added"
            shares += message["event"] == "Product Shared"
    assert adds > 100 and shares > 10
    browsers = {message["anonymousId"] for message in _tracks(journeys, "Product Viewed")}
    assert browsers - identified, "shoppers who only browse stay anonymous"
