from __future__ import annotations

from collections.abc import Callable

import polars as pl
import pytest

from recsys.dataset import InteractionWeights
from recsys.model import ALSParams
from recsys.search import sample_configurations, search

Make = Callable[[list[tuple[str, str, str, int]]], pl.DataFrame]
GRID = {"factors": (2, 4), "alpha": (0.5, 1.0), "half_life_days": (7.0, None)}


def test_sampling_is_reproducible_and_starts_with_the_base_configuration() -> None:
    base = (ALSParams(), InteractionWeights())

    first = sample_configurations(GRID, 5, base_params=base[0], base_weights=base[1], random_state=3)
    second = sample_configurations(GRID, 5, base_params=base[0], base_weights=base[1], random_state=3)

    assert first == second
    assert first[0] == base
    assert len(set(first)) == 5


def test_an_unknown_grid_parameter_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"unknown grid keys \['learning_rate'\]"):
        sample_configurations(
            {"learning_rate": (0.1,)},
            2,
            base_params=ALSParams(),
            base_weights=InteractionWeights(),
            random_state=0,
        )


def test_the_search_is_reproducible_with_a_seed_and_returns_the_best_first(make_interactions: Make) -> None:
    rows = []
    for person in range(30):
        shelf = "ab"[person % 2]
        rows += [(f"p{person}", f"{shelf}{i}", "purchase", i) for i in range(6) if i != person % 6]
        rows += [(f"p{person}", f"{shelf}{person % 6}", "purchase", 30)]
    frame = make_interactions(rows)

    first = search(
        frame, validation_days=5, n_trials=3, grid=GRID, random_state=1, num_threads=1, show_progress=False
    )
    second = search(
        frame, validation_days=5, n_trials=3, grid=GRID, random_state=1, num_threads=1, show_progress=False
    )

    assert [t.score for t in first.trials] == pytest.approx([t.score for t in second.trials])
    assert [t.params for t in first.trials] == [t.params for t in second.trials]
    assert first.best.score == max(t.score for t in first.trials)
