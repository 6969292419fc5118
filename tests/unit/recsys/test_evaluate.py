from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from recsys.dataset import InteractionWeights, build_interaction_matrix
from recsys.evaluate import (
    ALSRanker,
    BlendRanker,
    ItemKNNRanker,
    PopularityRanker,
    average_precision_at_k,
    catalogue_coverage,
    evaluate,
    format_table,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    relevant_items,
    time_split,
    top_n,
)
from recsys.model import ALSParams

Make = Callable[[list[tuple[str, str, str, int]]], pl.DataFrame]


def test_precision_and_recall_match_a_hand_count() -> None:
    recommended = [7, 1, 9, 3]
    relevant = {1, 3, 5}

    assert precision_at_k(recommended, relevant, 4) == pytest.approx(2 / 4)
    assert recall_at_k(recommended, relevant, 4) == pytest.approx(2 / 3)
    assert precision_at_k(recommended, relevant, 2) == pytest.approx(1 / 2)


def test_average_precision_matches_a_hand_count() -> None:
    # hits at ranks 2 and 4: (1/2 + 2/4) / min(3, 4)
    assert average_precision_at_k([7, 1, 9, 3], {1, 3, 5}, 4) == pytest.approx((0.5 + 0.5) / 3)
    assert average_precision_at_k([1, 3], {1, 3}, 10) == pytest.approx(1.0)


def test_ndcg_matches_a_hand_count() -> None:
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)

    assert ndcg_at_k([7, 1, 9, 3], {1, 3, 5}, 4) == pytest.approx(dcg / ideal)
    assert ndcg_at_k([1, 3, 5], {1, 3, 5}, 3) == pytest.approx(1.0)
    assert ndcg_at_k([2], set(), 3) == 0.0


def test_coverage_counts_each_product_shown_once() -> None:
    assert catalogue_coverage([[0, 1], [1, 2], []], 8) == pytest.approx(3 / 8)
    with pytest.raises(ValueError, match="k must be >= 1"):
        precision_at_k([1], {1}, 0)


def test_the_time_split_never_lets_the_future_into_train(make_interactions: Make) -> None:
    frame = make_interactions([(f"p{d % 3}", f"item-{d % 5}", "purchase", d) for d in range(60)])

    split = time_split(frame, test_days=10)

    assert split.train["occurred_at"].max() < split.cutoff <= split.test["occurred_at"].min()
    assert split.train.height + split.test.height == frame.height
    assert split.cutoff == datetime(2024, 4, 19, tzinfo=UTC)  # day 59 is 29 April; minus 10 days


def test_top_n_leaves_out_excluded_items_and_breaks_ties_by_index() -> None:
    scores = np.asarray([[0.5, 0.9, 0.5, 0.1], [1.0, 1.0, 1.0, 1.0]], dtype=np.float32)
    exclude = sp.csr_matrix(np.asarray([[0, 1, 0, 0], [1, 1, 1, 0]], dtype=np.float32))

    best = top_n(scores, exclude, 3)

    assert best.tolist() == [[0, 2, 3], [3, -1, -1]]


def test_a_test_purchase_of_something_already_bought_is_not_counted_as_relevant(
    make_interactions: Make,
) -> None:
    train = build_interaction_matrix(
        make_interactions(
            [("ana", "coffee", "purchase", 0), ("ana", "tea", "view", 0), ("bo", "creamer", "purchase", 0)]
        )
    )
    test = make_interactions(
        [
            ("ana", "coffee", "purchase", 5),
            ("ana", "tea", "purchase", 5),
            ("ana", "kettle", "purchase", 5),
            ("cy", "coffee", "purchase", 5),
            ("bo", "creamer", "purchase", 5),
        ]
    )

    relevant = relevant_items(test, train)

    # ana: coffee was bought before, kettle is unknown in train; cy is not in train; bo only repurchased
    assert relevant == {train.person_index["ana"]: {train.product_index["tea"]}}


def test_every_model_is_scored_on_the_same_shoppers_and_als_beats_global_popularity_on_blocks(
    make_interactions: Make,
) -> None:
    rows = []
    for person in range(60):
        shelf = ["a", "b", "c"][person % 3]
        skipped = {person % 8, (person + 4) % 8}
        rows += [(f"p{person}", f"{shelf}{i}", "purchase", i) for i in range(8) if i not in skipped]
        rows += [(f"p{person}", f"{shelf}{person % 8}", "purchase", 40)]
    rows += [(f"extra{i}", "a0", "purchase", 1) for i in range(30)]  # a0 is the global best seller
    split = time_split(make_interactions(rows), test_days=5)

    report = evaluate(
        {
            "ALS": ALSRanker(ALSParams(factors=4, weighting="confidence", regularization=0.1), num_threads=1),
            "global popularity": PopularityRanker(),
            "recent popularity": PopularityRanker(window_days=14),
            "item-kNN (BM25)": ItemKNNRanker(num_threads=1),
        },
        split,
        weights=InteractionWeights(half_life_days=None),
        k=5,
    )

    assert report.n_users == 60
    assert report.result("ALS").ndcg > 1.5 * report.result("global popularity").ndcg
    assert report.best_popularity_ndcg() == max(
        report.result("global popularity").ndcg, report.result("recent popularity").ndcg
    )
    assert "| ALS |" in format_table(report)


class _FixedScores:
    """A ranker whose scores are given: the same row for every shopper."""

    def __init__(self, scores: list[float]) -> None:
        self._scores = np.asarray(scores, dtype=np.float32)

    def fit(self, data: object) -> None:
        pass

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return np.tile(self._scores, (len(rows), 1))


def test_a_blend_ranks_by_the_weighted_mix_of_its_parts_scaled_per_shopper() -> None:
    personal = _FixedScores([10.0, 8.0, 0.0])  # prefers product 0
    popular = _FixedScores([0.0, 500.0, 1000.0])  # prefers product 2, on a scale 100× larger
    rows = np.asarray([0, 1])

    mostly_personal = BlendRanker({personal: 0.8, popular: 0.2}).scores(rows)
    mostly_popular = BlendRanker({personal: 0.2, popular: 0.8}).scores(rows)

    # unscaled, 0.2 × 1000 would drown 0.8 × 10 whatever the weights
    assert mostly_personal[0].argmax() == 0
    assert mostly_popular[0].argmax() == 2
    assert mostly_personal.shape == (2, 3)
