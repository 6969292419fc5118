from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recsys.dataset import (
    InteractionWeights,
    basket_matrix,
    build_interaction_matrix,
    load_online_retail,
)

Make = Callable[[list[tuple[str, str, str, int]]], pl.DataFrame]
NO_DECAY = InteractionWeights(view=1.0, add_to_cart=3.0, purchase=5.0, half_life_days=None)


def test_each_kind_of_interaction_adds_its_own_weight(make_interactions: Make) -> None:
    frame = make_interactions(
        [("ana", "coffee", "view", 0), ("ana", "coffee", "add_to_cart", 0), ("ana", "coffee", "purchase", 0)]
    )

    matrix = build_interaction_matrix(frame, weights=NO_DECAY)

    assert matrix.user_items[0, 0] == pytest.approx(1.0 + 3.0 + 5.0)


def test_an_interaction_one_half_life_old_counts_half(make_interactions: Make) -> None:
    frame = make_interactions([("ana", "coffee", "purchase", 0), ("bo", "coffee", "purchase", 14)])
    as_of = datetime(2024, 3, 15, tzinfo=UTC)

    matrix = build_interaction_matrix(
        frame, weights=InteractionWeights(purchase=1.0, half_life_days=14), as_of=as_of
    )

    assert matrix.user_items[matrix.person_index["ana"], 0] == pytest.approx(0.5)
    assert matrix.user_items[matrix.person_index["bo"], 0] == pytest.approx(1.0)


def test_with_repeats_last_a_reordered_product_counts_once_from_its_latest_purchase(
    make_interactions: Make,
) -> None:
    frame = make_interactions(
        [
            ("ana", "coffee", "purchase", 0),
            ("ana", "coffee", "purchase", 7),
            ("ana", "coffee", "purchase", 14),
            ("ana", "coffee", "view", 14),
        ]
    )
    as_of = datetime(2024, 3, 15, tzinfo=UTC)
    weights = InteractionWeights(view=1.0, purchase=1.0, half_life_days=14)

    summed = build_interaction_matrix(frame, weights=weights, as_of=as_of)
    last = build_interaction_matrix(frame, weights=replace(weights, repeats="last"), as_of=as_of)

    assert summed.user_items[0, 0] == pytest.approx(0.5 + 0.5**0.5 + 1.0 + 1.0)
    assert last.user_items[0, 0] == pytest.approx(1.0 + 1.0)


def test_only_purchases_count_as_purchased(make_interactions: Make) -> None:
    frame = make_interactions([("ana", "coffee", "view", 0), ("ana", "creamer", "purchase", 0)])

    matrix = build_interaction_matrix(frame)

    assert matrix.purchased[0, matrix.product_index["creamer"]] == 1
    assert matrix.purchased[0, matrix.product_index["coffee"]] == 0
    assert matrix.user_items[0, matrix.product_index["coffee"]] > 0


def test_id_maps_are_sorted_and_fixed_maps_drop_strangers(make_interactions: Make) -> None:
    frame = make_interactions([("bo", "tea", "purchase", 0), ("ana", "coffee", "purchase", 1)])

    matrix = build_interaction_matrix(frame)
    narrowed = build_interaction_matrix(frame, product_ids=np.asarray(["coffee"]))

    assert matrix.person_ids.tolist() == ["ana", "bo"]
    assert matrix.product_ids.tolist() == ["coffee", "tea"]
    assert narrowed.shape == (2, 1)
    assert narrowed.user_items.nnz == 1


def test_interactions_after_as_of_are_refused_as_the_future(make_interactions: Make) -> None:
    frame = make_interactions([("ana", "coffee", "purchase", 10)])

    with pytest.raises(ValueError, match="leak the future"):
        build_interaction_matrix(frame, as_of=datetime(2024, 3, 5, tzinfo=UTC))


def test_a_frame_breaking_the_contract_is_refused_with_the_reason(make_interactions: Make) -> None:
    frame = make_interactions([("ana", "coffee", "wishlist", 0)])

    with pytest.raises(ValueError, match="unknown interaction kinds"):
        build_interaction_matrix(frame)
    with pytest.raises(ValueError, match="missing columns"):
        build_interaction_matrix(frame.drop("kind"))
    with pytest.raises(ValueError, match="half_life_days"):
        InteractionWeights(half_life_days=0)


def test_baskets_hold_each_product_once(make_interactions: Make) -> None:
    frame = make_interactions(
        [
            ("ana", "coffee", "purchase", 0),
            ("ana", "coffee", "purchase", 0),
            ("ana", "creamer", "purchase", 0),
        ]
    )

    baskets = basket_matrix(frame, np.asarray(["coffee", "creamer"]))

    assert baskets.shape == (1, 2)
    assert baskets.toarray().tolist() == [[1.0, 1.0]]


def test_online_retail_dirt_is_dropped_rule_by_rule(tmp_path: Path) -> None:
    when = datetime(2011, 7, 1, 10, 0)
    raw = pl.DataFrame(
        {
            "InvoiceNo": ["500001", "C500002", "500003", "500004", "500005", "500006", "500001"],
            "StockCode": ["85123A", "85123A", "22423", "22423", "22423", "POST", "22423"],
            "Description": [
                "WHITE HANGING HEART",
                "x",
                "REGENCY CAKESTAND",
                "y",
                "z",
                "POSTAGE",
                "REGENCY CAKESTAND",
            ],
            "Quantity": [6, -6, -2, 1, 1, 1, 2],
            "InvoiceDate": [when, when, when, when, when, when, when + timedelta(hours=1)],
            "UnitPrice": [2.55, 2.55, 12.75, 0.0, 12.75, 18.0, 12.75],
            "CustomerID": [17850, 17850, 13047, 13047, None, 12583, 17850],
            "Country": ["United Kingdom"] * 7,
        },
        schema_overrides={"CustomerID": pl.Int64},
    )
    raw.write_parquet(tmp_path / "online_retail.parquet")

    data = load_online_retail(tmp_path / "online_retail.parquet")

    assert data.dropped == {
        "cancellation": 1,
        "non_positive_quantity": 1,
        "non_positive_price": 1,
        "missing_customer": 1,
        "non_merchandise_code": 1,
    }
    assert data.interactions.height == 2
    assert set(data.interactions["kind"]) == {"purchase"}
    # 10:00 in London in July is 09:00 UTC
    assert data.interactions["occurred_at"].min() == datetime(2011, 7, 1, 9, 0, tzinfo=UTC)
    assert dict(data.products.select("product_id", "name").iter_rows()) == {
        "85123A": "WHITE HANGING HEART",
        "22423": "REGENCY CAKESTAND",
    }
