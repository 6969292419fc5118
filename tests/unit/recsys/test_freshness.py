"""Freshness: recent views and add-to-carts change a shopper's recommendations without retraining."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import orjson
import polars as pl
import pytest

from recsys.dataset import build_interaction_matrix
from recsys.freshness import RecentInteraction, RecentInteractions, ShopperSegment, interaction_from_event
from recsys.model import (
    ALSModel,
    ALSParams,
    Recommendation,
    Recommender,
    Weighting,
    bm25_idf,
    weigh_row,
    weight_matrix,
)

Make = Callable[[list[tuple[str, str, str, int]]], pl.DataFrame]
NOW = datetime(2024, 4, 1, tzinfo=UTC)
COFFEE = [f"coffee-{i}" for i in range(6)]
TEA = [f"tea-{i}" for i in range(6)]


def carted(*product_ids: str) -> list[RecentInteraction]:
    return [RecentInteraction(product_id, "add_to_cart", NOW) for product_id in product_ids]


@pytest.fixture
def shop(make_interactions: Make) -> Recommender:
    """Twelve coffee drinkers, eight tea drinkers (BM25 weighting, as in production)."""
    rows = []
    for person in range(20):
        shelf = COFFEE if person < 12 else TEA
        rows += [
            (f"p{person:02d}", product, "purchase", person % 4)
            for product in shelf
            if product[-1] != str(person % 6)
        ]
    matrix = build_interaction_matrix(make_interactions(rows))
    model = ALSModel(
        ALSParams(factors=2, iterations=20, regularization=0.1, random_state=3), num_threads=1
    ).fit(matrix.user_items)
    products = pl.DataFrame(
        {"product_id": COFFEE + TEA, "name": [p.replace("-", " No.") for p in COFFEE + TEA], "category": ""}
    )
    return Recommender.from_training(matrix, model, products=products)


def test_one_fresh_row_is_weighted_exactly_like_the_training_rows(shop: Recommender) -> None:
    params = shop.model.params
    assert shop.confidences is not None
    trained = weight_matrix(shop.confidences, params)

    for row in range(shop.confidences.shape[0]):
        alone = weigh_row(
            shop.confidences[row],
            params,
            item_idf=bm25_idf(shop.confidences),
            average_length=shop.bm25_average_length,
        )
        np.testing.assert_allclose(alone.toarray(), trained[row].toarray(), rtol=1e-5)


def test_a_shopper_without_new_behaviour_gets_back_the_vector_they_were_trained_with(
    shop: Recommender,
) -> None:
    row = shop.person_index["p03"]
    assert shop.confidences is not None
    weighted = weigh_row(
        shop.confidences[row],
        shop.model.params,
        item_idf=bm25_idf(shop.confidences),
        average_length=shop.bm25_average_length,
    )

    recomputed = shop.model.recalculate_user(weighted)

    trained = shop.model.user_factors[row]
    assert recomputed @ trained / np.linalg.norm(recomputed) / np.linalg.norm(trained) > 0.99


def test_a_newcomer_who_adds_a_tea_to_the_cart_is_offered_the_other_teas(shop: Recommender) -> None:
    before = shop.recommend_for("newcomer", n=3)
    after = shop.recommend_for("newcomer", n=3, recent=carted("tea-0"))

    assert {r.reason for r in before} == {"popular right now"}
    assert all(r.product_id.startswith("coffee") for r in before)  # coffee has more drinkers
    assert all(r.product_id.startswith("tea") for r in after)
    assert after[0].reason == "because you added tea No.0 to your cart"


def test_a_product_just_added_to_the_cart_is_not_recommended(shop: Recommender) -> None:
    recommended = [r.product_id for r in shop.recommend_for("newcomer", n=12, recent=carted("tea-0"))]

    assert "tea-0" not in recommended
    assert len(recommended) == 11


def test_a_coffee_drinker_who_fills_the_cart_with_tea_sees_the_other_teas_rise(shop: Recommender) -> None:
    def tea_score(recommendations: list[Recommendation]) -> float:
        return next(r.score for r in recommendations if r.product_id == "tea-5")

    before = shop.recommend_for("p01", n=12)
    after = shop.recommend_for("p01", n=12, recent=carted("tea-0", "tea-1", "tea-2", "tea-3"))

    assert tea_score(after) > tea_score(before) + 0.3
    assert before[0].product_id == "coffee-1"


def test_a_product_viewed_again_since_training_counts_once_when_training_kept_the_last_repeat(
    shop: Recommender,
) -> None:
    last = replace(shop, interaction_weights=replace(shop.interaction_weights, repeats="last"))
    once = [RecentInteraction("tea-0", "view", NOW), RecentInteraction("tea-1", "add_to_cart", NOW)]
    five_times = [RecentInteraction("tea-0", "view", NOW)] * 5 + once

    assert last.recommend_for("p01", n=12, recent=five_times) == last.recommend_for("p01", n=12, recent=once)
    # training that summed repeats sums them here too
    assert shop.interaction_weights.repeats == "sum"
    assert shop.recommend_for("p01", n=12, recent=five_times) != shop.recommend_for("p01", n=12, recent=once)


def test_the_recommender_reads_recent_interactions_from_its_freshness_store(shop: Recommender) -> None:
    store = RecentInteractions()
    fresh_shop = shop.with_fresh(store)
    assert fresh_shop.recommend_for("newcomer", n=3) == shop.recommend_for("newcomer", n=3)

    store.add("newcomer", carted("tea-0")[0])

    assert all(r.product_id.startswith("tea") for r in fresh_shop.recommend_for("newcomer", n=3))
    assert shop.fresh is None  # the trained recommender is untouched


def test_the_store_keeps_the_latest_interactions_of_the_most_recently_active_shoppers() -> None:
    store = RecentInteractions(per_shopper=2, max_shoppers=2)
    for product_id in ("a", "b", "c"):
        store.add("ana", RecentInteraction(product_id, "view", NOW))
    store.add("bo", RecentInteraction("x", "view", NOW))
    store.add("ana", RecentInteraction("d", "view", NOW))  # ana is the most recently active again
    store.add("cy", RecentInteraction("y", "view", NOW))

    assert [i.product_id for i in store.recent("ana")] == ["c", "d"]
    assert store.recent("bo") == ()  # forgotten: the least recently active
    assert len(store) == 2


def event(**fields: object) -> bytes:
    base: dict[str, object] = {
        "type": "track",
        "person_id": "anon-1",
        "user_id": "u-1",
        "timestamp": "2024-04-01T08:00:00+00:00",
        "channel": "share_group_chat",
        "properties": {"product_id": "tea-0"},
    }
    return orjson.dumps(base | fields)


def test_product_viewed_and_product_added_become_views_and_add_to_carts_under_both_ids() -> None:
    viewed = interaction_from_event(event(event="Product Viewed"))
    added = interaction_from_event(event(event="Product Added"))

    assert viewed is not None and added is not None
    assert viewed.interaction == RecentInteraction("tea-0", "view", NOW.replace(hour=8))
    assert added.interaction is not None and added.interaction.kind == "add_to_cart"
    assert added.person_ids == ("u-1", "anon-1")
    assert added.segment == ShopperSegment(region=None, channel="share_group_chat")


def test_other_events_only_tell_the_shoppers_segment_and_broken_ones_are_skipped() -> None:
    identified = interaction_from_event(
        event(type="identify", event=None, channel=None, properties={}, traits={"province": "广东"})
    )

    assert identified is not None and identified.interaction is None
    assert identified.segment == ShopperSegment(region="广东")
    assert interaction_from_event(event(event="Order Completed", channel=None)) is None
    assert interaction_from_event(b"{not json") is None
    assert interaction_from_event(event(event="Product Added", user_id=None, person_id=None)) is None


def test_the_stream_remembers_the_first_channel_and_the_latest_region() -> None:
    store = RecentInteractions()
    store.note_segment("ana", ShopperSegment(region="广东", channel="share_group_chat"))
    store.note_segment("ana", ShopperSegment(region="浙江", channel="search"))

    assert store.segment("ana") == ShopperSegment(region="浙江", channel="share_group_chat")


def test_store_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="per_shopper and max_shoppers must be >= 1"):
        RecentInteractions(per_shopper=0)


@pytest.mark.parametrize("weighting", ["bm25", "confidence", "log"])
def test_a_fresh_row_is_weighted_like_training_rows_under_every_weighting(
    shop: Recommender, weighting: Weighting
) -> None:
    assert shop.confidences is not None
    params = replace(shop.model.params, weighting=weighting)
    trained = weight_matrix(shop.confidences, params)

    for row in range(shop.confidences.shape[0]):
        alone = weigh_row(
            shop.confidences[row],
            params,
            item_idf=bm25_idf(shop.confidences),
            average_length=shop.bm25_average_length,
        )
        np.testing.assert_allclose(alone.toarray(), trained[row].toarray(), rtol=1e-5)
