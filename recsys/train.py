"""The recommender's composition root: read data → matrix → search → evaluate → fit → save to the registry.

Functions for the command line (``shoploop recsys …``):

- :func:`train` — one full training run, saved to the registry; returns a :class:`TrainingRun`;
- :func:`evaluate_only` — the evaluation table on the time split, nothing saved;
- :func:`rollback` — serve the previously live model again;
- :func:`main` — ``train`` with settings from the environment, printing the table.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl
import structlog

from recsys.dataset import basket_matrix, build_interaction_matrix, load_online_retail
from recsys.erasure import ErasureLog
from recsys.evaluate import EvaluationReport, default_rankers, evaluate, format_table, time_split
from recsys.model import ALSModel, Recommender
from recsys.registry import ModelRegistry, RunCard
from recsys.search import SearchResult, search
from recsys.settings import RecsysSettings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TrainingRun:
    """What one training run produced.

    Attributes
    ----------
    card : RunCard
        The registry entry (artifact path, metrics, data window).
    report : EvaluationReport
        ALS and the baselines on the test period, with the chosen configuration.
    search : SearchResult
        Every hyperparameter trial on the validation split, best first.
    seconds : dict[str, float]
        Wall time per stage.
    """

    card: RunCard
    report: EvaluationReport
    search: SearchResult
    seconds: dict[str, float] = field(default_factory=dict)


def _read(
    settings: RecsysSettings, interactions: pl.DataFrame | None, products: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    if interactions is not None:
        return interactions, products
    data = load_online_retail(settings.online_retail_path)
    return data.interactions, data.products


def evaluate_only(
    settings: RecsysSettings | None = None,
    *,
    interactions: pl.DataFrame | None = None,
    search_trials: int | None = None,
    show_progress: bool = True,
) -> tuple[EvaluationReport, SearchResult]:
    """Tune on the validation split, then evaluate ALS beside the baselines on the test period.

    Parameters
    ----------
    settings : RecsysSettings, optional
        Defaults to ``RecsysSettings()`` (environment, prefix ``SHOPLOOP_RECSYS_``).
    interactions : polars.DataFrame, optional
        The interactions frame; defaults to the bundled Online Retail purchases.
    search_trials : int, optional
        Overrides ``settings.search_trials``; 0 or 1 evaluates the default configuration only.
    """
    settings = settings or RecsysSettings()
    frame, _ = _read(settings, interactions, None)
    split = time_split(frame, test_days=settings.test_days)
    result = search(
        split.train,
        validation_days=settings.validation_days,
        n_trials=max(1, settings.search_trials if search_trials is None else search_trials),
        random_state=settings.random_state,
        num_threads=settings.num_threads,
        k=settings.k,
        show_progress=show_progress,
    )
    best = result.best
    report = evaluate(
        default_rankers(best.params, num_threads=settings.num_threads),
        split,
        weights=best.weights,
        k=settings.k,
    )
    return report, result


def train(
    settings: RecsysSettings | None = None,
    *,
    interactions: pl.DataFrame | None = None,
    products: pl.DataFrame | None = None,
    shoppers: pl.DataFrame | None = None,
    search_trials: int | None = None,
    show_progress: bool = True,
) -> TrainingRun:
    """One training run: tune, evaluate, refit on all the data, save to the registry.

    The saved model is fitted on every interaction (train and test periods) with the configuration
    chosen on the validation split; its card records the test-period table and the validation score
    that :meth:`recsys.registry.ModelRegistry.load_live` compares runs on.

    Parameters
    ----------
    settings : RecsysSettings, optional
    interactions, products : polars.DataFrame, optional
        Default to the bundled Online Retail purchases and product names (see :func:`train_latest` for
        the warehouse marts).
    shoppers : polars.DataFrame, optional
        ``person_id``, ``region``, ``channel``: the cold-start hot lists per region and channel.
    search_trials : int, optional
        Overrides ``settings.search_trials``.
    show_progress : bool
        tqdm progress bar for the search.

    Returns
    -------
    TrainingRun
    """
    settings = settings or RecsysSettings()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    frame, catalogue = _read(settings, interactions, products)
    seconds["read"] = time.perf_counter() - started

    started = time.perf_counter()
    report, result = evaluate_only(
        settings, interactions=frame, search_trials=search_trials, show_progress=show_progress
    )
    seconds["search_and_evaluate"] = time.perf_counter() - started

    started = time.perf_counter()
    best = result.best
    matrix = build_interaction_matrix(frame, weights=best.weights)
    baskets = basket_matrix(frame, matrix.product_ids) if "basket_id" in frame.columns else None
    seconds["matrix"] = time.perf_counter() - started

    started = time.perf_counter()
    model = ALSModel(best.params, num_threads=settings.num_threads).fit(matrix.user_items)
    seconds["fit"] = time.perf_counter() - started

    started = time.perf_counter()
    data_window = {
        "start": _iso(matrix.window_start),
        "end": _iso(matrix.window_end),
        "test_cutoff": report.cutoff.isoformat(),
        "validation_cutoff": (report.cutoff - timedelta(days=settings.validation_days)).isoformat(),
    }
    metrics = report.to_dict()
    recommender = Recommender.from_training(
        matrix,
        model,
        baskets=baskets,
        products=catalogue,
        repurchasable_categories=settings.repurchasable_categories,
        metadata={"data_window": data_window, "metrics": metrics},
        weights=best.weights,
        shoppers=shoppers,
    )
    params: dict[str, Any] = {"als": asdict(best.params), "weights": asdict(best.weights)}
    card = ModelRegistry(settings.resolved_registry_dir()).save_run(
        recommender,
        validation_score=best.score,
        validation_metric=f"ndcg@{settings.k}",
        metrics={**metrics, "search": [trial.to_dict() for trial in result.trials]},
        data_window=data_window,
        params=params,
    )
    seconds["save"] = time.perf_counter() - started
    log.info("recsys_trained", run_id=card.run_id, validation_score=best.score, **seconds)
    return TrainingRun(card=card, report=report, search=result, seconds=seconds)


def train_latest(
    settings: RecsysSettings | None = None, *, search_trials: int | None = None, show_progress: bool = True
) -> TrainingRun:
    """``shoploop recsys train``: train on the warehouse marts when a published warehouse has enough
    purchases (``settings.min_warehouse_purchases``), else on the bundled Online Retail purchases.

    Parameters
    ----------
    settings : RecsysSettings, optional
    search_trials : int, optional
        Overrides ``settings.search_trials``.
    show_progress : bool
    """
    from recsys.warehouse import read_warehouse

    settings = settings or RecsysSettings()
    path = settings.resolved_warehouse_path()
    if path.exists():
        data = read_warehouse(path)
        if data.purchases >= settings.min_warehouse_purchases:
            log.info("recsys_training_source", source="warehouse", path=str(path), purchases=data.purchases)
            return train(
                settings,
                interactions=data.interactions,
                products=data.products,
                shoppers=data.shoppers,
                search_trials=search_trials,
                show_progress=show_progress,
            )
        log.info(
            "recsys_training_source",
            source="online_retail",
            why=f"the warehouse has {data.purchases} purchases, fewer than {settings.min_warehouse_purchases}",
        )
    else:
        log.info("recsys_training_source", source="online_retail", why=f"no published warehouse at {path}")
    return train(settings, search_trials=search_trials, show_progress=show_progress)


def rollback(settings: RecsysSettings | None = None) -> RunCard:
    """Serve the previously live model again; the withdrawn one is never promoted again."""
    settings = settings or RecsysSettings()
    return ModelRegistry(settings.resolved_registry_dir()).rollback()


def load_live(settings: RecsysSettings | None = None) -> Recommender:
    """The model serving should use: the newest run that beats the live one on the validation metric."""
    settings = settings or RecsysSettings()
    return ModelRegistry(settings.resolved_registry_dir()).load_live()


def live_run_id(settings: RecsysSettings | None = None) -> str:
    """The run serving should use (promoting a better one first), without reading its artifact."""
    settings = settings or RecsysSettings()
    return ModelRegistry(settings.resolved_registry_dir()).promote_best().run_id


def erasure_log(settings: RecsysSettings | None = None) -> ErasureLog:
    """The registry's erasure generation and recently erased id digests (what serving polls)."""
    settings = settings or RecsysSettings()
    return ModelRegistry(settings.resolved_registry_dir()).erasure_log()


def erase_people(ids: Collection[str], settings: RecsysSettings | None = None) -> dict[str, int]:
    """Rewrite every saved run without the shoppers ``ids`` (``shoploop privacy forget``); rows removed per run."""
    settings = settings or RecsysSettings()
    return ModelRegistry(settings.resolved_registry_dir()).erase_people(ids)


def main() -> None:
    """Train with settings from the environment and print the evaluation table."""
    run = train_latest()
    structlog.get_logger(__name__).info(
        "recsys_evaluation", run_id=run.card.run_id, table="\n" + format_table(run.report)
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


if __name__ == "__main__":
    main()
