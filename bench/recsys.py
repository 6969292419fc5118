"""Recommender benchmark: the full Online Retail evaluation and the training pipeline against a bare fit.

Run from the project root::

    .venv/bin/python -m bench.recsys                 # Online Retail: search, table, pipeline timing
    .venv/bin/python -m bench.recsys --synthetic     # also 100k users × 20k items × 2M interactions

Prints Markdown; docs/recsys.md holds the last recorded output.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import polars as pl

# run as a script, this file's folder comes first on sys.path and this file would shadow the recsys package
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

from recsys.dataset import build_interaction_matrix, load_online_retail
from recsys.evaluate import format_table
from recsys.model import ALSModel, ALSParams, Recommender, weight_matrix
from recsys.settings import RecsysSettings
from recsys.train import evaluate_only, train


def bare_fit_seconds(user_items: object, params: ALSParams, num_threads: int) -> float:
    """implicit's own fit on the already-weighted matrix: the ceiling for our pipeline."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        model = AlternatingLeastSquares(
            factors=params.factors,
            regularization=params.regularization,
            alpha=params.alpha,
            iterations=params.iterations,
            num_threads=num_threads,
            random_state=params.random_state,
        )
        started = time.perf_counter()
        model.fit(user_items, show_progress=False)
        return time.perf_counter() - started


def online_retail(trials: int, num_threads: int) -> None:
    settings = RecsysSettings(search_trials=trials, num_threads=num_threads)
    started = time.perf_counter()
    report, result = evaluate_only(settings)
    search_seconds = time.perf_counter() - started
    best = result.best
    als = report.result("ALS")
    print(
        f"## Online Retail: test period from {report.cutoff:%Y-%m-%d} (30 days), {report.n_users} shoppers\n"
    )
    print(format_table(report))
    print(
        f"\nALS NDCG@10 / best popularity baseline = {als.ndcg / report.best_popularity_ndcg():.2f}× "
        f"(target 1.5×). Search: {len(result.trials)} trials, seed {settings.random_state}, "
        f"{search_seconds:.0f} s in all."
    )
    print(f"\nChosen on validation (NDCG@10 {best.score:.4f}): {best.params}, {best.weights}\n")
    print("Top five trials on the validation split:\n")
    print("| NDCG@10 | weighting | factors | regularization | alpha | iterations | half-life days |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for trial in result.trials[:5]:
        p, w = trial.params, trial.weights
        print(
            f"| {trial.score:.4f} | {p.weighting} | {p.factors} | {p.regularization} | {p.alpha} | "
            f"{p.iterations} | {w.half_life_days} |"
        )

    with tempfile.TemporaryDirectory() as registry:
        pipeline = train(
            RecsysSettings(registry_dir=Path(registry), search_trials=1, num_threads=num_threads),
            show_progress=False,
        )
    data = load_online_retail()
    matrix = build_interaction_matrix(data.interactions)
    params = ALSParams()
    bare = bare_fit_seconds(weight_matrix(matrix.user_items, params), params, num_threads)
    total = sum(pipeline.seconds.values())
    print(
        f"\n## Online Retail training pipeline ({matrix.shape[0]} × {matrix.shape[1]}, {matrix.user_items.nnz} cells)\n"
    )
    print("| stage | seconds |\n|---|---:|")
    for stage, seconds in pipeline.seconds.items():
        print(f"| {stage} | {seconds:.2f} |")
    print(f"| **pipeline total** | **{total:.2f}** |")
    print(f"| implicit bare fit, same matrix and parameters | {bare:.2f} |")
    print(
        f"\npipeline / bare fit = {total / bare:.1f}× (the pipeline fits ALS twice and three baselines once)"
    )


def synthetic(
    num_threads: int, users: int = 100_000, items: int = 20_000, interactions: int = 2_000_000
) -> None:
    """Read → matrix → fit → save for the issue's 100k × 20k × 2M shape, beside implicit's bare fit."""
    rng = np.random.default_rng(7)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    # popular products are much more popular (Zipf-like), as in a real shop
    item_weights = 1.0 / np.arange(1, items + 1) ** 0.8
    frame = pl.DataFrame(
        {
            "person_id": rng.integers(0, users, interactions).astype(str),
            "product_id": rng.choice(items, interactions, p=item_weights / item_weights.sum()).astype(str),
            "kind": rng.choice(["view", "add_to_cart", "purchase"], interactions, p=[0.8, 0.15, 0.05]),
            "occurred_at": [
                start + timedelta(minutes=int(m)) for m in rng.integers(0, 90 * 24 * 60, interactions)
            ],
            "quantity": np.ones(interactions, dtype=np.int64),
        }
    )
    params = ALSParams(factors=64, iterations=15)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    matrix = build_interaction_matrix(frame)
    seconds["matrix"] = time.perf_counter() - started
    started = time.perf_counter()
    model = ALSModel(params, num_threads=num_threads).fit(matrix.user_items)
    seconds["fit (incl. BM25 weighting)"] = time.perf_counter() - started
    started = time.perf_counter()
    recommender = Recommender.from_training(matrix, model)
    with tempfile.TemporaryDirectory() as folder:
        recommender.save(Path(folder) / "model.npz")
    seconds["assemble and save"] = time.perf_counter() - started
    bare = bare_fit_seconds(weight_matrix(matrix.user_items, params), params, num_threads)
    total = sum(seconds.values())
    print(f"\n## Synthetic {matrix.shape[0]} × {matrix.shape[1]}, {matrix.user_items.nnz} cells\n")
    print("| stage | seconds |\n|---|---:|")
    for stage, value in seconds.items():
        print(f"| {stage} | {value:.2f} |")
    print(f"| **matrix → fit → save** | **{total:.2f}** |")
    print(f"| implicit bare fit, same matrix | {bare:.2f} |")
    print(f"\npipeline / bare fit = {total / bare:.2f}× (target ≤ 2×)")


def serving(num_threads: int, *, users: int = 20_000, items: int = 5_000, requests: int = 2_000) -> None:
    """Serving latency in-process: bare recommend() vs Recommender.recommend_for, with and without a fresh
    vector recompute; and freshness through the embedded broker (event published → recommendation changed)."""
    import asyncio

    from aiokafka import AIOKafkaProducer

    from recsys.freshness import RecentInteraction, RecentInteractions, consume_interactions
    from shoploop.broker import embedded_broker
    from shoploop.kafka import KafkaSettings, Topics, ensure_topics

    rng = np.random.default_rng(7)
    n = users * 20
    frame = pl.DataFrame(
        {
            "person_id": [f"u{i}" for i in rng.integers(0, users, n)],
            "product_id": [f"p{i}" for i in (rng.zipf(1.3, n) % items)],
            "kind": "purchase",
            "occurred_at": datetime(2026, 1, 1, tzinfo=UTC),
            "quantity": 1,
        }
    )
    matrix = build_interaction_matrix(frame)
    model = ALSModel(ALSParams(factors=64, iterations=5), num_threads=num_threads).fit(matrix.user_items)
    shop = Recommender.from_training(matrix, model)
    people = [str(p) for p in rng.choice(matrix.person_ids, requests)]
    rows = [matrix.person_index[p] for p in people]

    def percentiles(call: object) -> tuple[float, float]:
        timings = []
        for row, person in zip(rows, people, strict=True):
            started = time.perf_counter()
            call(row, person)  # type: ignore[operator]
            timings.append((time.perf_counter() - started) * 1000)
        return float(np.percentile(timings, 50)), float(np.percentile(timings, 99))

    now = datetime.now(UTC)
    recent = tuple(RecentInteraction(f"p{i}", "add_to_cart", now) for i in range(5))
    bare = percentiles(
        lambda row, _: model.recommend(row, shop.purchased[row], 10, filter_already_liked_items=False)
    )
    served = percentiles(lambda _, person: shop.recommend_for(person, 10))
    fresh = percentiles(lambda _, person: shop.recommend_for(person, 10, recent=recent))
    print(f"\n### Serving ({len(matrix.person_ids)} users × {len(matrix.product_ids)} items, 64 factors)\n")
    print("| call | p50 ms | p99 ms |\n|---|---:|---:|")
    print(f"| bare `ALSModel.recommend` (ceiling) | {bare[0]:.3f} | {bare[1]:.3f} |")
    print(f"| `Recommender.recommend_for` | {served[0]:.3f} | {served[1]:.3f} |")
    print(
        f"| `recommend_for` with a fresh vector (5 recent add-to-carts) | {fresh[0]:.3f} | {fresh[1]:.3f} |"
    )

    async def freshness(bootstrap: str, samples: int = 50) -> list[float]:
        store = RecentInteractions()
        live = shop.with_fresh(store)
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(consume_interactions(store, bootstrap, stop=stop, ready=ready.set))
        await asyncio.wait_for(ready.wait(), 30)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        delays = []
        for sample in range(samples):
            person = people[sample]
            before = live.recommend_for(person, 10)
            event = {
                "type": "track",
                "event": "Product Added",
                "person_id": person,
                "user_id": person,
                "properties": {"product_id": f"p{items - 1 - sample}"},
                "channel": "direct",
            }
            started = time.perf_counter()
            await producer.send_and_wait(Topics.EVENTS.name, orjson.dumps(event))
            while live.recommend_for(person, 10) == before:
                await asyncio.sleep(0.005)
            delays.append(time.perf_counter() - started)
        await producer.stop()
        stop.set()
        await task
        return delays

    with embedded_broker() as bootstrap:
        ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), (Topics.EVENTS,))
        delays = asyncio.run(freshness(bootstrap))
    print(
        f"\nFreshness (add-to-cart published on the embedded broker → that shopper's list changed), "
        f"{len(delays)} events: p50 {np.percentile(delays, 50) * 1000:.0f} ms, "
        f"p95 {np.percentile(delays, 95) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=24, help="hyperparameter search trials")
    parser.add_argument("--threads", type=int, default=2, help="implicit threads")
    parser.add_argument("--synthetic", action="store_true", help="also run the 100k × 20k × 2M pipeline")
    parser.add_argument("--serving", action="store_true", help="only serving latency and freshness")
    arguments = parser.parse_args()
    if arguments.serving:
        serving(arguments.threads)
        return
    online_retail(arguments.trials, arguments.threads)
    if arguments.synthetic:
        synthetic(arguments.threads)


if __name__ == "__main__":
    main()
