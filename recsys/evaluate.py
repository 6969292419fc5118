"""Offline evaluation on a time split: ALS beside popularity and item-kNN baselines, in the same run.

Protocol, the same for every model:

- train on interactions before the cutoff, test on purchases from the cutoff to the end of the data;
- evaluate only shoppers present in train, and only test purchases of products known in train;
- never recommend, and never count as relevant, a product the shopper already bought in train;
- rank all remaining products by the model's score; ties and exclusions are handled by one function.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np
import polars as pl
import scipy.sparse as sp
from numpy.typing import NDArray

from recsys.dataset import InteractionMatrix, InteractionWeights, build_interaction_matrix
from recsys.model import ALSModel, ALSParams

POPULARITY_BASELINES = ("global popularity", "recent popularity")


# --- metrics on one shopper's list -------------------------------------------------------------


def precision_at_k(recommended: Sequence[int], relevant: Collection[int], k: int) -> float:
    """Share of the first ``k`` recommendations that are relevant (the denominator is always ``k``)."""
    _check_k(k)
    return sum(1 for item in recommended[:k] if item in relevant) / k


def recall_at_k(recommended: Sequence[int], relevant: Collection[int], k: int) -> float:
    """Share of the relevant items found in the first ``k`` recommendations."""
    _check_k(k)
    if not relevant:
        return 0.0
    return sum(1 for item in recommended[:k] if item in relevant) / len(relevant)


def average_precision_at_k(recommended: Sequence[int], relevant: Collection[int], k: int) -> float:
    """AP@k: mean of precision@i over the ranks i of hits, divided by ``min(len(relevant), k)``."""
    _check_k(k)
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for rank, item in enumerate(recommended[:k], start=1):
        if item in relevant:
            hits += 1
            total += hits / rank
    return total / min(len(relevant), k)


def ndcg_at_k(recommended: Sequence[int], relevant: Collection[int], k: int) -> float:
    """NDCG@k with binary gains: DCG = Σ 1/log2(rank + 1) over hits, over the ideal DCG."""
    _check_k(k)
    if not relevant:
        return 0.0
    dcg = sum(
        1.0 / math.log2(rank + 1) for rank, item in enumerate(recommended[:k], start=1) if item in relevant
    )
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return dcg / ideal


def catalogue_coverage(recommendations: Iterable[Sequence[int]], n_items: int) -> float:
    """Share of the catalogue that appears in at least one shopper's list."""
    if n_items < 1:
        raise ValueError(f"n_items must be >= 1, got {n_items}")
    shown: set[int] = set()
    for items in recommendations:
        shown.update(int(item) for item in items)
    return len(shown) / n_items


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


# --- the time split ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeSplit:
    """Interactions before ``cutoff`` (train) and from ``cutoff`` on (test)."""

    train: pl.DataFrame
    test: pl.DataFrame
    cutoff: datetime


def time_split(interactions: pl.DataFrame, *, test_days: float, cutoff: datetime | None = None) -> TimeSplit:
    """Split at ``cutoff`` (default: ``test_days`` before the last interaction); test keeps ``test_days``.

    Nothing at or after the cutoff is in train, so no model can see the future it is tested on.
    """
    if test_days <= 0:
        raise ValueError(f"test_days must be > 0, got {test_days}")
    if interactions.height == 0:
        raise ValueError("cannot split an empty interactions frame")
    if cutoff is None:
        last = interactions["occurred_at"].max()
        if not isinstance(last, datetime):
            raise ValueError("occurred_at must be a datetime column")
        cutoff = last - timedelta(days=test_days)
    end = cutoff + timedelta(days=test_days)
    train = interactions.filter(pl.col("occurred_at") < cutoff)
    test = interactions.filter((pl.col("occurred_at") >= cutoff) & (pl.col("occurred_at") <= end))
    if train.height == 0 or test.height == 0:
        raise ValueError(
            f"cutoff {cutoff.isoformat()} leaves train ({train.height}) or test ({test.height}) empty"
        )
    return TimeSplit(train=train, test=test, cutoff=cutoff)


# --- models under evaluation -------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingData:
    """What every model is fitted on: the training matrix and the training interactions it came from."""

    matrix: InteractionMatrix
    interactions: pl.DataFrame


class Ranker(Protocol):
    """A model under evaluation: fitted once, then scores every product for a batch of shoppers."""

    def fit(self, data: TrainingData) -> None: ...

    def scores(self, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        """Shape ``(len(rows), n_items)``; higher is better."""
        ...


class ALSRanker:
    """implicit ALS (see :class:`recsys.model.ALSModel`)."""

    def __init__(self, params: ALSParams | None = None, *, num_threads: int = 2) -> None:
        self.model = ALSModel(params, num_threads=num_threads)

    def fit(self, data: TrainingData) -> None:
        self.model.fit(data.matrix.user_items)

    def scores(self, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        return np.asarray(self.model.user_factors[rows] @ self.model.item_factors.T, dtype=np.float32)


class PopularityRanker:
    """Products bought by the most distinct shoppers, over the whole train or its last ``window_days``."""

    def __init__(self, window_days: float | None = None) -> None:
        self.window_days = window_days
        self._popularity: NDArray[np.float32] | None = None

    def fit(self, data: TrainingData) -> None:
        purchases = data.interactions.filter(pl.col("kind") == "purchase")
        if self.window_days is not None and data.matrix.window_end is not None:
            since = data.matrix.window_end - timedelta(days=self.window_days)
            purchases = purchases.filter(pl.col("occurred_at") >= since)
        buyers = purchases.group_by("product_id").agg(pl.col("person_id").n_unique().alias("buyers"))
        popularity = np.zeros(data.matrix.shape[1], dtype=np.float32)
        index = data.matrix.product_index
        for product_id, count in buyers.iter_rows():
            column = index.get(str(product_id))
            if column is not None:
                popularity[column] = count
        self._popularity = popularity

    def scores(self, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        if self._popularity is None:
            raise ValueError("the popularity baseline is not fitted")
        return np.tile(self._popularity, (len(rows), 1))


class ItemKNNRanker:
    """implicit's item-item nearest neighbours (``BM25Recommender`` or ``CosineRecommender``)."""

    def __init__(self, *, neighbours: int = 100, bm25: bool = True, num_threads: int = 2) -> None:
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

        self.knn = (
            BM25Recommender(K=neighbours, num_threads=num_threads)
            if bm25
            else CosineRecommender(K=neighbours, num_threads=num_threads)
        )
        self._user_items: sp.csr_matrix | None = None

    def fit(self, data: TrainingData) -> None:
        with warnings.catch_warnings():
            # implicit's own BM25 weighting hands its fit a COO matrix and warns about it
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            self.knn.fit(data.matrix.user_items, show_progress=False)
        self._user_items = data.matrix.user_items

    def scores(self, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        if self._user_items is None:
            raise ValueError("the item-kNN baseline is not fitted")
        return np.asarray((self._user_items[rows] @ self.knn.similarity).toarray(), dtype=np.float32)


class BlendRanker:
    """A hybrid, never to be reported as ALS: each part's scores scaled to [0, 1] per shopper, then mixed.

    Parameters
    ----------
    parts : mapping of Ranker → weight
        Weights ≥ 0; the parts are fitted here, on the same training data.
    """

    def __init__(self, parts: Mapping[Ranker, float]) -> None:
        if not parts or any(weight < 0 for weight in parts.values()):
            raise ValueError(f"a blend needs at least one part and weights >= 0, got {list(parts.values())}")
        self.parts = dict(parts)

    def fit(self, data: TrainingData) -> None:
        for part in self.parts:
            part.fit(data)

    def scores(self, rows: NDArray[np.int64]) -> NDArray[np.float32]:
        total: NDArray[np.float32] | None = None
        for part, weight in self.parts.items():
            scores = np.asarray(part.scores(rows), dtype=np.float32)
            low = scores.min(axis=1, keepdims=True)
            span = np.maximum(scores.max(axis=1, keepdims=True) - low, np.float32(1e-12))
            scaled = weight * (scores - low) / span
            total = scaled if total is None else total + scaled
        assert total is not None
        return total


def default_rankers(
    params: ALSParams | None = None, *, num_threads: int = 2, recent_days: float = 30.0
) -> dict[str, Ranker]:
    """ALS and the three baselines the issue asks for, by display name."""
    return {
        "ALS": ALSRanker(params, num_threads=num_threads),
        "global popularity": PopularityRanker(),
        "recent popularity": PopularityRanker(window_days=recent_days),
        "item-kNN (BM25)": ItemKNNRanker(num_threads=num_threads),
    }


def top_n(scores: NDArray[np.float32], exclude: sp.csr_matrix, n: int) -> NDArray[np.int64]:
    """The ``n`` best columns per row, leaving out each row's ``exclude`` items; ties go to the lower index.

    Returns an array of shape ``(rows, n)`` padded with ``-1`` when fewer items are allowed.
    """
    if scores.shape[0] != exclude.shape[0]:
        raise ValueError(f"scores has {scores.shape[0]} rows, exclude has {exclude.shape[0]}")
    masked = np.array(scores, dtype=np.float64)
    coo = exclude.tocoo()
    masked[coo.row, coo.col] = -np.inf
    # stable sort on the negated scores: equal scores keep index order, so results are deterministic
    order = np.argsort(-masked, axis=1, kind="stable")[:, :n]
    picked = np.take_along_axis(masked, order, axis=1)
    return np.where(np.isfinite(picked), order, -1).astype(np.int64)


# --- the evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelResult:
    """One row of the evaluation table."""

    name: str
    precision: float
    recall: float
    map: float
    ndcg: float
    coverage: float
    fit_seconds: float


@dataclass(frozen=True)
class EvaluationReport:
    """Every model's metrics on the same shoppers, with the facts of the split."""

    results: list[ModelResult]
    k: int
    n_users: int
    n_items: int
    cutoff: datetime
    train_window: tuple[datetime | None, datetime | None]
    extra: dict[str, Any] = field(default_factory=dict)

    def result(self, name: str) -> ModelResult:
        for result in self.results:
            if result.name == name:
                return result
        raise ValueError(f"no model named {name!r}; have {[r.name for r in self.results]}")

    def best_popularity_ndcg(self) -> float:
        return max((r.ndcg for r in self.results if r.name in POPULARITY_BASELINES), default=float("nan"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "n_users": self.n_users,
            "n_items": self.n_items,
            "cutoff": self.cutoff.isoformat(),
            "models": {
                r.name: {
                    f"precision@{self.k}": r.precision,
                    f"recall@{self.k}": r.recall,
                    f"map@{self.k}": r.map,
                    f"ndcg@{self.k}": r.ndcg,
                    "coverage": r.coverage,
                    "fit_seconds": r.fit_seconds,
                }
                for r in self.results
            },
        }


def relevant_items(test: pl.DataFrame, train: InteractionMatrix) -> dict[int, set[int]]:
    """Train row → products bought in test that the shopper had not bought in train (known products only)."""
    person_index, product_index = train.person_index, train.product_index
    relevant: dict[int, set[int]] = {}
    for person_id, product_id in (
        test.filter(pl.col("kind") == "purchase").select("person_id", "product_id").iter_rows()
    ):
        row, column = person_index.get(str(person_id)), product_index.get(str(product_id))
        if row is None or column is None:
            continue
        relevant.setdefault(row, set()).add(column)
    purchased = train.purchased
    for row in list(relevant):
        relevant[row] -= set(purchased.indices[purchased.indptr[row] : purchased.indptr[row + 1]].tolist())
        if not relevant[row]:
            del relevant[row]
    return relevant


def evaluate(
    rankers: Mapping[str, Ranker],
    split: TimeSplit,
    *,
    weights: InteractionWeights | None = None,
    k: int = 10,
    batch_size: int = 1024,
) -> EvaluationReport:
    """Fit every ranker on the train side of ``split`` and score it on the test side.

    Parameters
    ----------
    rankers : mapping of name → Ranker
        Fitted here, in order, on the same training matrix.
    split : TimeSplit
    weights : InteractionWeights, optional
        How the training matrix is built (kinds, decay).
    k : int
        List length for every metric.
    batch_size : int
        Shoppers scored at once (bounds memory: ``batch_size × n_items`` floats).

    Returns
    -------
    EvaluationReport
    """
    _check_k(k)
    matrix = build_interaction_matrix(split.train, weights=weights, as_of=split.cutoff)
    data = TrainingData(matrix=matrix, interactions=split.train)
    relevant = relevant_items(split.test, matrix)
    if not relevant:
        raise ValueError("no shopper in train bought a new known product in test; nothing to evaluate")
    rows = np.asarray(sorted(relevant), dtype=np.int64)
    results = []
    for name, ranker in rankers.items():
        started = time.perf_counter()
        ranker.fit(data)
        fit_seconds = time.perf_counter() - started
        lists = _rank(ranker, rows, matrix.purchased, k, batch_size)
        per_user = [
            (
                precision_at_k(items, relevant[row], k),
                recall_at_k(items, relevant[row], k),
                average_precision_at_k(items, relevant[row], k),
                ndcg_at_k(items, relevant[row], k),
            )
            for row, items in zip(rows.tolist(), lists, strict=True)
        ]
        means = np.mean(np.asarray(per_user), axis=0)
        results.append(
            ModelResult(
                name=name,
                precision=float(means[0]),
                recall=float(means[1]),
                map=float(means[2]),
                ndcg=float(means[3]),
                coverage=catalogue_coverage(lists, matrix.shape[1]),
                fit_seconds=fit_seconds,
            )
        )
    return EvaluationReport(
        results=results,
        k=k,
        n_users=len(rows),
        n_items=matrix.shape[1],
        cutoff=split.cutoff,
        train_window=(matrix.window_start, matrix.window_end),
    )


def _rank(
    ranker: Ranker, rows: NDArray[np.int64], exclude: sp.csr_matrix, k: int, batch_size: int
) -> list[list[int]]:
    from threadpoolctl import threadpool_limits

    lists: list[list[int]] = []
    # the scoring products are small; one BLAS thread leaves the other core to whoever shares the machine
    with threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            best = top_n(ranker.scores(batch), exclude[batch], k)
            lists.extend([int(item) for item in line if item >= 0] for line in best)
    return lists


def format_table(report: EvaluationReport) -> str:
    """The report as a Markdown table, with each model's NDCG over the best popularity baseline.

    The ratio has three decimals: a target of 1.5× must not look met at 1.499×.
    """
    k = report.k
    best = report.best_popularity_ndcg()
    lines = [
        f"| model | precision@{k} | recall@{k} | MAP@{k} | NDCG@{k} | coverage | NDCG / best popularity | fit s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report.results:
        ratio = r.ndcg / best if best > 0 else float("nan")
        lines.append(
            f"| {r.name} | {r.precision:.4f} | {r.recall:.4f} | {r.map:.4f} | {r.ndcg:.4f} | "
            f"{r.coverage:.3f} | {ratio:.3f}× | {r.fit_seconds:.2f} |"
        )
    return "\n".join(lines)
