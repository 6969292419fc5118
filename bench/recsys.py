"""Recommender benchmark: the full Online Retail evaluation and the training pipeline against a bare fit.

Run from the project root::

    .venv/bin/python -m bench.recsys                 # Online Retail: search, table, pipeline timing
    .venv/bin/python -m bench.recsys --synthetic     # also 100k users × 20k items × 2M interactions
    .venv/bin/python -m bench.recsys --serving       # the order core's HTTP API at 300 requests/s, freshness
    .venv/bin/python -m bench.recsys --serving --workers 2   # the API in two worker processes

Prints Markdown; docs/recsys.md holds the last recorded output.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl

# run as a script, this file's folder comes first on sys.path and this file would shadow the recsys package
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

from recsys.dataset import build_interaction_matrix, load_online_retail
from recsys.evaluate import (
    ALSRanker,
    BlendRanker,
    PopularityRanker,
    Ranker,
    evaluate,
    format_table,
    time_split,
)
from recsys.model import ALSModel, ALSParams, Recommender, weight_matrix
from recsys.search import Trial
from recsys.settings import RecsysSettings
from recsys.train import evaluate_only, train

BENCH_MCHID, BENCH_APPID = "1900000109", "wxd0000000shoploop"
REQUEST_TIMEOUT_S = 10.0


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


def seed_spread(best: Trial, settings: RecsysSettings, best_popularity: float, seeds: int = 5) -> None:
    """The chosen configuration refitted with other seeds on the same test split: how much of a ratio is luck."""
    split = time_split(
        load_online_retail(settings.online_retail_path).interactions, test_days=settings.test_days
    )
    rankers: dict[str, Ranker] = {
        f"ALS seed {seed}": ALSRanker(
            replace(best.params, random_state=seed), num_threads=settings.num_threads
        )
        for seed in range(1, seeds + 1)
    }
    ndcgs = [r.ndcg for r in evaluate(rankers, split, weights=best.weights, k=settings.k).results]
    ratios = [ndcg / best_popularity for ndcg in ndcgs]
    print(
        f"Same configuration, seeds 1-{seeds}, same test split: NDCG@{settings.k} {min(ndcgs):.4f}-{max(ndcgs):.4f} "
        f"(mean {np.mean(ndcgs):.4f}) = {min(ratios):.3f}-{max(ratios):.3f}× the best popularity baseline "
        f"(mean {np.mean(ratios):.3f}×)\n"
    )


def hybrid(
    best: Trial, settings: RecsysSettings, shares: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)
) -> None:
    """ALS mixed with recent popularity, reported as its own row and never as ALS: the popularity share is
    chosen on the validation split, then the blend is evaluated once on the test split beside the baselines."""
    frame = load_online_retail(settings.online_retail_path).interactions
    split = time_split(frame, test_days=settings.test_days)
    validation = time_split(split.train, test_days=settings.validation_days)

    def blend(share: float) -> BlendRanker:
        return BlendRanker(
            {
                ALSRanker(best.params, num_threads=settings.num_threads): 1.0 - share,
                PopularityRanker(window_days=30.0): share,
            }
        )

    on_validation = {
        share: evaluate({"blend": blend(share)}, validation, weights=best.weights, k=settings.k)
        .results[0]
        .ndcg
        for share in shares
    }
    chosen = max(shares, key=lambda share: (on_validation[share], -share))
    name = f"hybrid (not ALS): {1 - chosen:.1f} ALS + {chosen:.1f} recent popularity"
    report = evaluate(
        {
            name: blend(chosen),
            "global popularity": PopularityRanker(),
            "recent popularity": PopularityRanker(window_days=30.0),
        },
        split,
        weights=best.weights,
        k=settings.k,
    )
    print(
        "Hybrid, popularity share chosen on validation ("
        + ", ".join(f"{share}: {ndcg:.4f}" for share, ndcg in on_validation.items())
        + "), on the test split with the popularity baselines in the same run:\n"
    )
    print(format_table(report) + "\n")


def online_retail(trials: int, num_threads: int) -> None:
    settings = RecsysSettings(search_trials=trials, num_threads=num_threads)
    started = time.perf_counter()
    report, result = evaluate_only(settings)
    search_seconds = time.perf_counter() - started
    best = result.best
    als = report.result("ALS")
    ratio = als.ndcg / report.best_popularity_ndcg()
    print(
        f"## Online Retail: test period from {report.cutoff:%Y-%m-%d} (30 days), {report.n_users} shoppers\n"
    )
    print(format_table(report))
    print(
        f"\nALS NDCG@10 / best popularity baseline = {ratio:.4f}× "
        f"(target 1.5×: {'met' if ratio >= 1.5 else 'not met'}). Search: {len(result.trials)} trials, seed {settings.random_state}, "
        f"{search_seconds:.0f} s in all."
    )
    print(f"\nChosen on validation (NDCG@10 {best.score:.4f}): {best.params}, {best.weights}\n")
    seed_spread(best, settings, report.best_popularity_ndcg())
    hybrid(best, settings)
    print("Top five trials on the validation split:\n")
    print(
        "| NDCG@10 | weighting | factors | regularization | alpha | iterations | half-life days | repeats |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    for trial in result.trials[:5]:
        p, w = trial.params, trial.weights
        print(
            f"| {trial.score:.4f} | {p.weighting} | {p.factors} | {p.regularization} | {p.alpha} | "
            f"{p.iterations} | {w.half_life_days} | {w.repeats} |"
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


# --- serving through the HTTP API ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServingShop:
    """A synthetic shop: the model in a registry, the same products on sale in the order core's database."""

    database_url: str
    registry_dir: Path
    recommender: Recommender
    tokens: list[str]  # bearer tokens of logged-in shoppers, most with history, some new
    product_ids: list[str]
    unlisted: frozenset[str]


def build_serving_shop(folder: Path, *, users: int, items: int, num_threads: int) -> ServingShop:
    """Train a model on synthetic purchases and put its catalogue on sale (5 % sold out, 2 % unlisted)."""
    from sqlalchemy import insert, update

    from api.adapters import tables as t
    from api.adapters.db import make_engine, make_session_factory
    from api.migrate import upgrade_database
    from api.service_layer import accounts, catalogue, orders
    from api.service_layer.unit_of_work import UnitOfWork
    from recsys.dataset import basket_matrix
    from recsys.registry import ModelRegistry

    rng = np.random.default_rng(7)
    n = users * 20
    product_of = rng.zipf(1.3, n) % items
    frame = pl.DataFrame(
        {
            "person_id": [f"u{i}" for i in rng.integers(0, users, n)],
            "product_id": [f"p{i}" for i in product_of],
            "kind": rng.choice(["view", "add_to_cart", "purchase"], n, p=[0.6, 0.2, 0.2]),
            "occurred_at": [
                datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=int(h))
                for h in rng.integers(0, 24 * 60, n)
            ],
            "quantity": 1,
        }
    ).with_columns(basket_id=pl.col("person_id") + "-" + (pl.col("occurred_at").dt.day()).cast(pl.Utf8))
    categories = [f"Aisle {c}" for c in range(20)]
    products = pl.DataFrame(
        {
            "product_id": [f"p{i}" for i in range(items)],
            "name": [f"Panda product {i}" for i in range(items)],
            "category": [categories[i % len(categories)] for i in range(items)],
        }
    )
    matrix = build_interaction_matrix(frame)
    model = ALSModel(ALSParams(factors=64, iterations=5), num_threads=num_threads).fit(matrix.user_items)
    purchases = frame.filter(pl.col("kind") == "purchase")
    recommender = Recommender.from_training(
        matrix, model, baskets=basket_matrix(purchases, matrix.product_ids), products=products
    )
    registry_dir = folder / "recsys-models"
    ModelRegistry(registry_dir).save_run(recommender, validation_score=0.1)

    database_url = f"sqlite:///{folder / 'shoploop.db'}"
    upgrade_database(database_url)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    for product_id, name, category in products.iter_rows():
        catalogue.create_product(
            UnitOfWork(factory),
            product_id=product_id,
            title=name,
            category=category,
            description="",
            skus=[{"sku_id": f"k{product_id}", "price_fen": int(rng.integers(500, 20_000)), "stock": 1_000}],
            now=now,
        )
    # 2,000 shoppers with a training history and 200 new ones log in; 200 of them have paid orders since.
    known = [str(p) for p in rng.choice(matrix.person_ids, 2_000, replace=False)]
    shoppers = known + [f"new{i}" for i in range(200)]
    tokens = []
    with factory.begin() as session:
        session.execute(
            insert(t.users),
            [
                {
                    "user_id": s,
                    "openid": f"o-{s}",
                    "session_key": "bench",
                    "created_at": now,
                    "last_login_at": now,
                }
                for s in shoppers
            ],
        )
    for shopper in shoppers:
        uow = UnitOfWork(factory)
        with uow:
            tokens.append(
                accounts._issue(uow, subject_id=shopper, kind="shopper", now=now, ttl=timedelta(days=1)).token
            )
            uow.commit()
    for number, shopper in enumerate(known[:200]):
        order = orders.place_order(
            UnitOfWork(factory),
            orders.PlaceOrder(
                user_id=shopper, idempotency_key=f"bench-{number}", items=[(f"kp{number % 50 + 1}", 1)]
            ),
            now=now,
            payment_window=timedelta(minutes=30),
            low_stock_threshold=5,
        )
        orders.confirm_payment(
            UnitOfWork(factory),
            {
                "mchid": BENCH_MCHID,
                "appid": BENCH_APPID,
                "trade_state": "SUCCESS",
                "out_trade_no": order.order_id,
                "transaction_id": f"42{number:020d}",
                "amount": {"total": order.total_fen},
            },
            mchid=BENCH_MCHID,
            appid=BENCH_APPID,
            now=now,
            notification_id=f"n{number}",
        )
    with factory.begin() as session:
        sold_out = [f"kp{i}" for i in rng.choice(items, items // 20, replace=False)]
        session.execute(update(t.skus).where(t.skus.c.sku_id.in_(sold_out)).values(stock=0))
        unlisted = [f"p{i}" for i in rng.choice(items, items // 50, replace=False)]
        session.execute(
            update(t.products).where(t.products.c.product_id.in_(unlisted)).values(is_listed=False)
        )
    engine.dispose()
    return ServingShop(
        database_url, registry_dir, recommender, tokens, list(matrix.product_ids), frozenset(unlisted)
    )


def _api_settings(database_url: str, registry_dir: Path, port: int, num_threads: int) -> Any:
    from api.settings import ApiSettings

    return ApiSettings(
        environment="development",
        database_url=database_url,
        wechat_appid=BENCH_APPID,
        wechat_pay_mchid=BENCH_MCHID,
        notify_base_url=f"http://127.0.0.1:{port}",
        auto_close_interval_s=0,
        notification_interval_s=0,
        reward_consumer_enabled=False,
        account_flag_consumer_enabled=False,
        outbox_relay_enabled=False,  # no Kafka here: freshness is measured on its own below
        recsys=RecsysSettings(registry_dir=registry_dir, num_threads=num_threads),
    )


def run_api_server(database_url: str, registry_dir: Path, port: int, num_threads: int, workers: int) -> None:
    """The order core as `shoploop api --workers N` runs it, on the benchmark's database."""
    from functools import partial

    import uvicorn

    from api.bootstrap import create_app
    from api.main import serve_worker
    from shoploop.serving import run_workers

    settings = _api_settings(database_url, registry_dir, port, num_threads)
    if workers <= 1:
        uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    else:
        run_workers(
            partial(serve_worker, settings, log_level="warning"),
            host="127.0.0.1",
            port=port,
            workers=workers,
            name="api",
        )


@dataclass(frozen=True)
class OpenLoopResult:
    latencies_ms: dict[str, list[float]]  # by route, from each request's scheduled time
    statuses: dict[int, int]
    sent: int
    late_starts: int  # requests that found no idle connection and waited for one


async def _open_loop(
    port: int, requests: list[tuple[str, bytes]], rate: float, connections: int
) -> OpenLoopResult:
    """Send ``requests`` at a fixed rate, whatever the answers do; latency counts from the scheduled time.

    Keep-alive HTTP/1.1 over asyncio streams (a general client spends hundreds of microseconds of CPU per
    request, taken from the server's cores). A request that finds every connection busy waits for one,
    and that wait is part of its latency.
    """
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: dict[str, list[float]] = {}
    statuses: dict[int, int] = {}
    late = 0

    async def one(route: str, request: bytes, due: float) -> None:
        nonlocal late
        if idle.empty():
            late += 1
        reader, writer = await idle.get()
        try:
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_S)
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            status = int(head[9:12])
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            # A dropped or stuck connection counts as a failed request (status 0) and is replaced.
            writer.close()
            status = 0
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        latencies.setdefault(route, []).append((time.perf_counter() - due) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        idle.put_nowait((reader, writer))

    tasks = []
    started = time.perf_counter() + 0.05
    for index, (route, request) in enumerate(requests):
        due = started + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(route, request, due)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        _, writer = idle.get_nowait()
        writer.close()
    return OpenLoopResult(latencies, statuses, len(requests), late)


def _load_process(
    port: int, requests: list[tuple[str, bytes]], rate: float, connections: int, results: Any
) -> None:
    import uvloop

    results.put(uvloop.run(_open_loop(port, requests, rate, connections)))


def _requests(shop: ServingShop, port: int, count: int, seed: int) -> list[tuple[str, bytes]]:
    """The mix a mini-program home and product page make: 60 % 猜你喜欢, 20 % complements, 20 % similar."""
    rng = np.random.default_rng(seed)
    popular = [
        shop.product_ids[i]
        for i in np.argsort(-shop.recommender.popularity)[:1_100]
        if shop.product_ids[i] not in shop.unlisted
    ][:1_000]
    made = []
    for _ in range(count):
        token = shop.tokens[int(rng.integers(len(shop.tokens)))]
        draw = rng.random()
        if draw < 0.6:
            route, path = "recommendations", "/v1/recommendations?n=10"
        else:
            product_id = popular[int(rng.integers(len(popular)))]
            route = "complements" if draw < 0.8 else "similar"
            path = f"/v1/products/{product_id}/{route}?n=10"
        made.append(
            (
                route,
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n".encode(),
            )
        )
    return made


def _wait_for_health(port: int, process: Any, timeout_s: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.exitcode is not None:
            raise RuntimeError(f"the API process exited with {process.exitcode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API did not answer on port {port} within {timeout_s} s")


def _ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def http_serving(
    num_threads: int,
    *,
    port: int,
    rate: float,
    seconds: float,
    workers: int = 1,
    users: int = 20_000,
    items: int = 5_000,
) -> None:
    """Recommendations through the order core's HTTP API under a steady open-loop load from another process,
    beside the bare ``recommend()`` call on the same model in the same run."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        shop = build_serving_shop(Path(folder), users=users, items=items, num_threads=num_threads)
        print(
            f"\n### Serving through the HTTP API ({users} users × {items} items, 64 factors; "
            f"shop built in {time.perf_counter() - started:.0f} s)\n"
        )
        # Not a daemon: with workers it starts the worker processes itself.
        server = context.Process(
            target=run_api_server, args=(shop.database_url, shop.registry_dir, port, num_threads, workers)
        )
        server.start()
        try:
            _wait_for_health(port, server)
            # Warm-up at the same rate (model load, connection pools, first-call caches), not measured.
            results = context.Queue()
            for _phase, count, seed in (("warm-up", int(rate * 3), 1), ("measured", int(rate * seconds), 2)):
                requests = _requests(shop, port, count, seed)
                cpu_before = _cpu_seconds(server.pid)
                load = context.Process(target=_load_process, args=(port, requests, rate, 64, results))
                load.start()
                try:
                    result: OpenLoopResult = results.get(timeout=count / rate + 60)
                except queue.Empty:
                    raise RuntimeError(
                        f"the load did not finish; API process exit code {server.exitcode}"
                    ) from None
                load.join()
                server_cpu = _cpu_seconds(server.pid) - cpu_before
            every = [v for values in result.latencies_ms.values() for v in values]
            print(
                f"{result.sent} requests at {rate:.0f}/s for {result.sent / rate:.0f} s (open loop, 64 keep-alive "
                f"connections, latency from the scheduled send time); statuses {result.statuses}; "
                f"{result.late_starts} waited for a free connection; API CPU ({workers} worker process(es)) "
                f"{server_cpu:.1f} s ({server_cpu / (result.sent / rate) * 100:.0f} % of a core)\n"
            )
            print("| route | requests | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|")
            for route, values in [*sorted(result.latencies_ms.items()), ("all", every)]:
                print(
                    f"| {route} | {len(values)} | {_ms(values, 50):.2f} | {_ms(values, 99):.2f} | {max(values):.1f} |"
                )
        finally:
            server.terminate()
            server.join(timeout=10)
        model, purchased = shop.recommender.model, shop.recommender.purchased
        rng = np.random.default_rng(3)
        rows = rng.integers(0, purchased.shape[0], 2_000)
        timings = []
        for row in rows:
            begun = time.perf_counter()
            model.recommend(int(row), purchased[int(row)], 10, filter_already_liked_items=False)
            timings.append((time.perf_counter() - begun) * 1000)
        print(
            f"| bare `ALSModel.recommend` in-process (ceiling) | {len(timings)} | {_ms(timings, 50):.3f} | "
            f"{_ms(timings, 99):.3f} | {max(timings):.2f} |"
        )
        print(
            f"\nAPI p99 (all routes) = {_ms(every, 99):.2f} ms at {rate:.0f} requests/s (target < 10 ms); "
            f"{_ms(every, 99) / _ms(timings, 99):.0f}× the bare call's p99"
        )


def _cpu_seconds(pid: int | None) -> float:
    """CPU time of a process and its live children (the API's worker processes), from /proc."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children")
    child_pids = children.read_text().split() if children.exists() else []
    return own + sum(_cpu_seconds(int(child)) for child in child_pids)


def in_process_serving(
    num_threads: int, *, users: int = 20_000, items: int = 5_000, requests: int = 2_000
) -> None:
    """In-process: bare recommend() vs Recommender.recommend_for, with and without a fresh
    vector recompute; and freshness through the embedded broker (event published → recommendation changed)."""

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
    parser.add_argument(
        "--serving", action="store_true", help="only serving latency (HTTP API under load) and freshness"
    )
    parser.add_argument("--port", type=int, default=18101, help="port of the API under test (--serving)")
    parser.add_argument("--rate", type=float, default=300.0, help="requests per second (--serving)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured load duration (--serving)")
    parser.add_argument("--workers", type=int, default=1, help="API worker processes (--serving)")
    parser.add_argument(
        "--http-only", action="store_true", help="with --serving: skip the in-process and freshness figures"
    )
    arguments = parser.parse_args()
    if arguments.serving:
        http_serving(
            arguments.threads,
            port=arguments.port,
            rate=arguments.rate,
            seconds=arguments.seconds,
            workers=arguments.workers,
        )
        if not arguments.http_only:
            in_process_serving(arguments.threads)
        return
    online_retail(arguments.trials, arguments.threads)
    if arguments.synthetic:
        synthetic(arguments.threads)


if __name__ == "__main__":
    main()
