"""Seeded random search over ALS hyperparameters and interaction weights, on a validation split.

The validation split is carved from the end of the training period, so the test period stays unseen
until the chosen configuration is evaluated once.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import polars as pl
from tqdm import tqdm

from recsys.dataset import InteractionWeights
from recsys.evaluate import ALSRanker, evaluate, time_split
from recsys.model import ALSParams

DEFAULT_GRID: dict[str, Sequence[Any]] = {
    "half_life_days": (7.0, 14.0, 30.0, 60.0, None),
    "factors": (32, 64, 128, 256),
    # implicit's penalty is a plain λ·I, not scaled by a shopper's item count: with confidences of a few units
    # the useful range on Online Retail reaches 10-30 (0.05-0.2 barely regularises)
    "regularization": (0.05, 1.0, 10.0, 30.0),
    "alpha": (0.5, 1.0, 2.0, 4.0),
    "iterations": (15, 30, 50),
    "weighting": ("bm25", "confidence", "log"),
    # BM25's saturation and length normalisation (only read when weighting is bm25)
    "bm25_k1": (1.2, 10.0, 100.0),
    "bm25_b": (0.5, 0.8, 1.0),
    # every reorder of a product summed, or only the latest (Online Retail's wholesalers reorder heavily)
    "repeats": ("sum", "last"),
}
WEIGHT_KEYS = frozenset({"view", "add_to_cart", "purchase", "half_life_days", "quantity", "repeats"})


@dataclass(frozen=True)
class Trial:
    """One configuration and its validation NDCG@k."""

    params: ALSParams
    weights: InteractionWeights
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"params": asdict(self.params), "weights": asdict(self.weights), "score": self.score}


@dataclass(frozen=True)
class SearchResult:
    """All trials, best first."""

    trials: list[Trial]

    @property
    def best(self) -> Trial:
        return self.trials[0]


def sample_configurations(
    grid: Mapping[str, Sequence[Any]],
    n_trials: int,
    *,
    base_params: ALSParams,
    base_weights: InteractionWeights,
    random_state: int,
) -> list[tuple[ALSParams, InteractionWeights]]:
    """``n_trials`` distinct grid points drawn with ``random_state``; the base configuration comes first."""
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    unknown = set(grid) - WEIGHT_KEYS - set(asdict(base_params))
    if unknown:
        raise ValueError(f"unknown grid keys {sorted(unknown)}")
    keys = sorted(grid)
    points = list(itertools.product(*(grid[key] for key in keys)))
    chosen = np.random.default_rng(random_state).permutation(len(points))[: max(n_trials - 1, 0)]
    configurations = [(base_params, base_weights)]
    for index in chosen:
        values = dict(zip(keys, points[int(index)], strict=True))
        params = replace(base_params, **{k: v for k, v in values.items() if k not in WEIGHT_KEYS})
        weights = replace(base_weights, **{k: v for k, v in values.items() if k in WEIGHT_KEYS})
        if (params, weights) not in configurations:
            configurations.append((params, weights))
    return configurations[:n_trials]


def search(
    train: pl.DataFrame,
    *,
    validation_days: float,
    n_trials: int,
    grid: Mapping[str, Sequence[Any]] | None = None,
    base_params: ALSParams | None = None,
    base_weights: InteractionWeights | None = None,
    random_state: int = 42,
    num_threads: int = 2,
    k: int = 10,
    show_progress: bool = True,
) -> SearchResult:
    """Try ``n_trials`` configurations on the last ``validation_days`` of ``train``; best first.

    Parameters
    ----------
    train : polars.DataFrame
        Training interactions only (never the test period).
    validation_days : float
    n_trials : int
    grid : mapping, optional
        Parameter name → values; names of :class:`ALSParams` or :class:`InteractionWeights` fields.
    base_params, base_weights : optional
        Always tried first; grid values replace their fields.
    random_state : int
        Seeds both the sampling and each model's initial factors: the same seed gives the same result.
    """
    base_params = replace(base_params or ALSParams(), random_state=random_state)
    configurations = sample_configurations(
        grid if grid is not None else DEFAULT_GRID,
        n_trials,
        base_params=base_params,
        base_weights=base_weights or InteractionWeights(),
        random_state=random_state,
    )
    split = time_split(train, test_days=validation_days)
    trials = []
    for params, weights in tqdm(configurations, desc="hyperparameter search", disable=not show_progress):
        report = evaluate({"ALS": ALSRanker(params, num_threads=num_threads)}, split, weights=weights, k=k)
        trials.append(Trial(params=params, weights=weights, score=report.results[0].ndcg))
    # stable sort: among equal scores the earlier (base first) configuration wins
    return SearchResult(trials=sorted(trials, key=lambda trial: -trial.score))
