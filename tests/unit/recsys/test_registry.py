from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.model import ALSModel, ALSParams, Recommender
from recsys.registry import ModelRegistry, NoModelError

MONDAY = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)


@pytest.fixture
def recommender(checkerboard: sp.csr_matrix) -> Recommender:
    params = ALSParams(factors=4, regularization=0.1, weighting="confidence", iterations=5)
    model = ALSModel(params, num_threads=1).fit(checkerboard)
    n_users, n_items = checkerboard.shape
    return Recommender(
        model=model,
        person_ids=np.asarray([f"p{i}" for i in range(n_users)]),
        product_ids=np.asarray([f"item-{i}" for i in range(n_items)]),
        purchased=checkerboard,
        interacted=checkerboard,
        popularity=np.asarray(checkerboard.sum(axis=0), dtype=np.float32).ravel(),
        complement_scores=sp.csr_matrix((n_items, n_items), dtype=np.float32),
        product_names=np.asarray([""] * n_items),
        product_categories=np.asarray([""] * n_items),
    )


def save(registry: ModelRegistry, recommender: Recommender, score: float, day: int) -> str:
    return registry.save_run(recommender, validation_score=score, now=MONDAY + timedelta(days=day)).run_id


def test_the_first_trained_model_goes_live(tmp_path: Path, recommender: Recommender) -> None:
    registry = ModelRegistry(tmp_path)
    first = save(registry, recommender, 0.10, 0)

    loaded = registry.load_live()

    assert registry.live() is not None and registry.live().run_id == first  # type: ignore[union-attr]
    assert loaded.recommend_for("p0", n=3) == recommender.recommend_for("p0", n=3)


def test_a_newer_model_goes_live_only_when_it_beats_the_live_one(
    tmp_path: Path, recommender: Recommender
) -> None:
    registry = ModelRegistry(tmp_path)
    first = save(registry, recommender, 0.10, 0)
    registry.load_live()
    save(registry, recommender, 0.08, 1)

    assert registry.promote_best().run_id == first

    better = save(registry, recommender, 0.12, 2)
    assert registry.promote_best().run_id == better


def test_the_newest_better_model_wins_over_an_older_better_one(
    tmp_path: Path, recommender: Recommender
) -> None:
    registry = ModelRegistry(tmp_path)
    save(registry, recommender, 0.10, 0)
    registry.promote_best()
    save(registry, recommender, 0.20, 1)
    newest = save(registry, recommender, 0.15, 2)

    assert registry.promote_best().run_id == newest


def test_rollback_returns_to_the_previous_model_and_never_repromotes_the_withdrawn_one(
    tmp_path: Path, recommender: Recommender
) -> None:
    registry = ModelRegistry(tmp_path)
    first = save(registry, recommender, 0.10, 0)
    registry.promote_best()
    second = save(registry, recommender, 0.12, 1)
    registry.promote_best()

    assert registry.rollback().run_id == first
    assert registry.promote_best().run_id == first
    assert {run.run_id for run in registry.runs()} == {first, second}


def test_rollback_with_nothing_earlier_and_loading_an_empty_registry_fail_clearly(
    tmp_path: Path, recommender: Recommender
) -> None:
    registry = ModelRegistry(tmp_path)
    with pytest.raises(NoModelError, match="no trained model"):
        registry.load_live()
    save(registry, recommender, 0.10, 0)
    registry.promote_best()
    with pytest.raises(NoModelError, match="no previous live model"):
        registry.rollback()


def test_each_run_keeps_its_metrics_and_data_window_next_to_the_npz(
    tmp_path: Path, recommender: Recommender
) -> None:
    registry = ModelRegistry(tmp_path)

    card = registry.save_run(
        recommender,
        validation_score=0.1,
        metrics={"ALS": {"ndcg@10": 0.1}},
        data_window={"start": "2010-12-01", "end": "2011-12-09"},
        now=MONDAY,
    )

    assert card.model_path.exists() and card.model_path.suffix == ".npz"
    assert registry.runs()[0].data_window == {"start": "2010-12-01", "end": "2011-12-09"}
    assert registry.runs()[0].metrics == {"ALS": {"ndcg@10": 0.1}}
    assert not list(tmp_path.glob(".*.tmp"))
