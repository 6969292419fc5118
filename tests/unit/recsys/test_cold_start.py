"""Cold start: a new shopper starts from the hot lists of their region and acquisition channel."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from recsys.dataset import build_interaction_matrix
from recsys.freshness import RecentInteractions, ShopperSegment
from recsys.model import ALSModel, ALSParams, Recommender

Make = Callable[[list[tuple[str, str, str, int]]], pl.DataFrame]


@pytest.fixture
def shop(make_interactions: Make) -> Recommender:
    """Cantonese shoppers drink tea, shoppers who came from shared links drink coffee; most shoppers like juice."""
    rows, shoppers = [], []
    for person in range(6):
        rows += [(f"gd{person}", "tea", "purchase", 2), (f"gd{person}", "juice", "purchase", 1)]
        shoppers.append((f"gd{person}", "广东", "search"))
        rows += [(f"sh{person}", "coffee", "purchase", 2), (f"sh{person}", "juice", "purchase", 1)]
        shoppers.append((f"sh{person}", "浙江", "share_group_chat"))
    for person in range(10):
        rows += [(f"other{person}", "juice", "purchase", 3), (f"other{person}", "water", "purchase", 3)]
    rows.append(("tiny0", "cola", "purchase", 3))
    shoppers.append(("tiny0", "西藏", "ads"))  # one shopper is too few for a hot list of its own
    shoppers.append(("registered-not-bought", "广东", None))
    matrix = build_interaction_matrix(make_interactions(rows))
    model = ALSModel(ALSParams(factors=2, iterations=5), num_threads=1).fit(matrix.user_items)
    frame = pl.DataFrame(
        {
            "person_id": [s[0] for s in shoppers],
            "region": [s[1] for s in shoppers],
            "channel": [s[2] for s in shoppers],
        }
    )
    return Recommender.from_training(matrix, model, shoppers=frame)


def shown(recommendations: list[object]) -> list[tuple[str, str]]:
    return [(r.product_id, r.reason) for r in recommendations]  # type: ignore[attr-defined]


def test_a_new_shopper_from_guangdong_sees_what_is_popular_in_guangdong_first(shop: Recommender) -> None:
    found = shop.recommend_for("newcomer", n=2, segment=ShopperSegment(region="广东"))

    assert shown(found)[0] == ("tea", "popular in 广东")


def test_a_new_shopper_who_came_from_a_shared_link_sees_what_shared_link_shoppers_buy(
    shop: Recommender,
) -> None:
    found = shop.recommend_for("newcomer", n=1, segment=ShopperSegment(channel="share_group_chat"))

    assert shown(found) == [("coffee", "popular with shoppers from shared links")]


def test_region_and_channel_hot_lists_are_interleaved_then_overall_popularity_fills(
    shop: Recommender,
) -> None:
    found = shop.recommend_for(
        "newcomer", n=5, segment=ShopperSegment(region="广东", channel="share_group_chat")
    )

    assert shown(found)[:3] == [
        ("tea", "popular in 广东"),
        ("coffee", "popular with shoppers from shared links"),
        ("juice", "popular in 广东"),
    ]
    assert {p for p, _ in shown(found)} == {"tea", "coffee", "juice", "water", "cola"}
    assert shown(found)[3][1] == "popular right now"


def test_a_shopper_without_a_known_segment_gets_overall_popularity(shop: Recommender) -> None:
    found = shop.recommend_for("newcomer", n=1)

    assert shown(found) == [("juice", "popular right now")]


def test_a_segment_with_too_few_shoppers_has_no_hot_list_of_its_own(shop: Recommender) -> None:
    found = shop.recommend_for("newcomer", n=1, segment=ShopperSegment(region="西藏", channel="ads"))

    assert shown(found) == [("juice", "popular right now")]


def test_the_segment_comes_from_the_warehouse_or_from_the_stream(shop: Recommender) -> None:
    store = RecentInteractions()
    store.note_segment("streamed", ShopperSegment(channel="share_group_chat"))
    live = shop.with_fresh(store)

    assert shown(live.recommend_for("registered-not-bought", n=1)) == [("tea", "popular in 广东")]
    assert shown(live.recommend_for("streamed", n=1)) == [
        ("coffee", "popular with shoppers from shared links")
    ]


def test_hot_lists_survive_save_and_load(shop: Recommender, tmp_path: Path) -> None:
    loaded = Recommender.load(shop.save(tmp_path / "model"))

    segment = ShopperSegment(region="广东", channel="share_group_chat")
    assert loaded.recommend_for("newcomer", n=5, segment=segment) == shop.recommend_for(
        "newcomer", n=5, segment=segment
    )
    assert loaded.recommend_for("registered-not-bought", n=2) == shop.recommend_for(
        "registered-not-bought", n=2
    )


def test_hidden_and_out_of_stock_products_are_left_out_of_hot_lists(shop: Recommender) -> None:
    found = shop.recommend_for("newcomer", n=2, segment=ShopperSegment(region="广东"), out_of_stock=["tea"])

    assert "tea" not in [p for p, _ in shown(found)]
    assert shown(found)[0] == ("juice", "popular in 广东")


def test_a_shoppers_frame_without_the_segment_columns_is_refused(make_interactions: Make) -> None:
    matrix = build_interaction_matrix(make_interactions([("a", "tea", "purchase", 1)]))
    model = ALSModel(ALSParams(factors=2, iterations=2), num_threads=1).fit(matrix.user_items)

    with pytest.raises(ValueError, match=r"shoppers frame is missing columns \['region'\]"):
        Recommender.from_training(
            matrix, model, shoppers=pl.DataFrame({"person_id": ["a"], "channel": ["ads"]})
        )
