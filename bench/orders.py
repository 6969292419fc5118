"""Order-core benchmarks on the real service layer.

(a) Flash sale: 2,000 concurrent buyers for 100 units; exactly 100 paid, nothing oversold (SQLite, PostgreSQL).
(b) Sustained load on PostgreSQL: orders placed and WeChat Pay notifications handled per second with p50/p99,
    against a bare `SELECT 1` round-trip rate measured in the same run, with the same processes and threads.

Part (b) runs like the API does in production: several worker processes (uvicorn workers), each with a pool of
threads, calling `orders.place_order` and, for notifications, the payment route's own steps
(`WeChatPayClient.parse_notification`, which verifies the RSA signature and decrypts AEAD_AES_256_GCM, then
`orders.confirm_payment`). The notifications are signed beforehand by the sandbox's platform key, since
signing is WeChat's work, not ours. HTTP parsing and JSON rendering are not part of the figures.

Usage: `.venv/bin/python bench/orders.py [--part flash|sustained|all] [--processes 2] [--threads 8]`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import psycopg
from sqlalchemy import Engine, event, func, select, text

from api.adapters import tables as t
from api.adapters.db import make_engine, make_session_factory
from api.domain.errors import OutOfStock
from api.domain.orders import Order
from api.migrate import upgrade_database
from api.service_layer import catalogue, orders
from api.service_layer.unit_of_work import UnitOfWork
from api.wechat import signing
from api.wechat.pay import WeChatPayClient
from api.wechat.sandbox import Sandbox

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
MCHID, APPID = "1900000109", "wxbench"
APIV3_KEY = b"0123456789abcdef0123456789abcdef"
PAYMENT_WINDOW = timedelta(minutes=30)
SHOPPERS = 20_000
PRODUCTS = 200
STOCK_PER_SKU = 1_000_000


def flash_sale(database_url: str, *, buyers: int, units: int, threads: int) -> dict[str, float]:
    upgrade_database(database_url)
    engine = make_engine(database_url, pool_size=threads)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    catalogue.create_product(
        UnitOfWork(factory),
        product_id="p-flash",
        title="Flash-sale panda",
        category="Flash",
        description="",
        skus=[{"sku_id": "flash", "price_fen": 990, "stock": units}],
        now=now,
    )

    def buy(buyer: int) -> bool:
        try:
            order = orders.place_order(
                UnitOfWork(factory),
                orders.PlaceOrder(
                    user_id=f"buyer{buyer}", idempotency_key=uuid.uuid4().hex, items=[("flash", 1)]
                ),
                now=datetime.now(UTC),
                payment_window=timedelta(minutes=30),
                low_stock_threshold=5,
            )
        except OutOfStock:
            return False
        orders.confirm_payment(
            UnitOfWork(factory),
            {
                "mchid": MCHID,
                "appid": APPID,
                "trade_state": "SUCCESS",
                "out_trade_no": order.order_id,
                "transaction_id": f"42{buyer:020d}",
                "amount": {"total": order.total_fen},
            },
            mchid=MCHID,
            appid=APPID,
            now=datetime.now(UTC),
            notification_id=f"n{buyer}",
        )
        return True

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(buy, range(buyers)))
    elapsed = time.perf_counter() - started
    with factory() as session:
        paid = len(list(session.execute(select(t.orders.c.order_id).where(t.orders.c.status == "paid"))))
        stock: int = session.execute(select(t.skus.c.stock).where(t.skus.c.sku_id == "flash")).scalar_one()
    engine.dispose()
    return {
        "buyers": buyers,
        "won": sum(results),
        "paid_orders": paid,
        "stock_left": stock,
        "seconds": round(elapsed, 2),
        "attempts_per_s": round(buyers / elapsed, 1),
    }


# -- (b) sustained placement and notifications ----------------------------------------------------------------
def seed_catalogue(database_url: str) -> list[tuple[str, int]]:
    """PRODUCTS products with one SKU each and plenty of stock; returns (sku_id, price_fen)."""
    upgrade_database(database_url)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    rng = random.Random(7)
    skus = [(f"bench-sku-{n:04d}", rng.randrange(990, 29_900, 10)) for n in range(PRODUCTS)]
    for n, (sku_id, price_fen) in enumerate(skus):
        catalogue.create_product(
            UnitOfWork(factory),
            product_id=f"bench-p-{n:04d}",
            title=f"Bench mug {n}",
            category=f"Bench {n % 10}",
            description="",
            skus=[{"sku_id": sku_id, "price_fen": price_fen, "stock": STOCK_PER_SKU, "colour": "blue"}],
            now=datetime.now(UTC),
        )
    engine.dispose()
    return skus


def random_basket(rng: random.Random, skus: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(sku_id, rng.randint(1, 2)) for sku_id, _ in rng.sample(skus, rng.randint(1, 3))]


def place(factory: Any, rng: random.Random, skus: list[tuple[str, int]]) -> Order:
    return orders.place_order(
        UnitOfWork(factory),
        orders.PlaceOrder(
            user_id=f"shopper{rng.randrange(SHOPPERS)}",
            idempotency_key=uuid.uuid4().hex,
            items=random_basket(rng, skus),
        ),
        now=datetime.now(UTC),
        payment_window=PAYMENT_WINDOW,
        low_stock_threshold=5,
    )


def pay_client(platform_serial: str, platform_public_pem: bytes) -> WeChatPayClient:
    """The API's own client, knowing the platform key already (no certificate download during the run)."""
    return WeChatPayClient(
        base_url="http://127.0.0.1:9",
        appid=APPID,
        mchid=MCHID,
        merchant_serial="BENCH",
        merchant_key=signing.generate_private_key(),
        apiv3_key=APIV3_KEY,
        platform_keys={platform_serial: signing.load_public_key(platform_public_pem)},
    )


def handle_notification(
    pay: WeChatPayClient, factory: Any, headers: dict[str, str], body: bytes
) -> Order | None:
    """What POST /v1/payments/wechat/notify does after reading the request (api/routes/payments.py)."""
    notification = pay.parse_notification(headers, body, max_skew_s=300)
    assert notification.event_type == "TRANSACTION.SUCCESS"
    return orders.confirm_payment(
        UnitOfWork(factory),
        notification.resource,
        mchid=MCHID,
        appid=APPID,
        now=datetime.now(UTC),
        notification_id=notification.notification_id,
    )


def warm_pool(engine: Engine, threads: int) -> None:
    """Open `threads` pooled connections before the clock starts."""
    barrier = threading.Barrier(threads)

    def hold() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            barrier.wait()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda _: hold(), range(threads)))


def run_threads(
    threads: int, start_at: float, end_at: float, step: Callable[[random.Random], bool]
) -> list[float]:
    """Each thread calls `step` until `end_at` or until it returns False; returns every call's latency."""
    latencies: list[float] = []

    def loop(seed: int) -> None:
        rng = random.Random(seed)
        mine: list[float] = []
        time.sleep(max(0.0, start_at - time.time()))
        while time.time() < end_at:
            began = time.perf_counter()
            if not step(rng):
                break
            mine.append(time.perf_counter() - began)
        latencies.extend(mine)

    if time.time() > start_at:
        raise RuntimeError("the workers were not ready at the start; raise run_phase's lead time")

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(loop, [random.randrange(1 << 30) for _ in range(threads)]))
    return latencies


def worker(job: dict[str, Any]) -> dict[str, Any]:
    """One process of a phase: 'select1', 'place' or 'notify'. Runs in a fresh (spawned) interpreter."""
    threads, start_at, end_at = job["threads"], job["start_at"], job["end_at"]
    if job["phase"] == "select1":
        connections = [psycopg.connect(job["psycopg_url"], autocommit=True) for _ in range(threads)]
        slots = iter(connections)
        lock = threading.Lock()
        local = threading.local()

        def select_one(_: random.Random) -> bool:
            if not hasattr(local, "connection"):
                with lock:
                    local.connection = next(slots)
            local.connection.execute("SELECT 1").fetchone()
            return True

        latencies = run_threads(threads, start_at, end_at, select_one)
        for connection in connections:
            connection.close()
        return {"latencies": latencies, "finished_at": time.time()}
    engine = make_engine(job["database_url"], pool_size=threads)
    factory = make_session_factory(engine)
    warm_pool(engine, threads)
    placed: list[tuple[str, int]] = []
    if job["phase"] == "place":
        skus = job["skus"]

        def place_one(rng: random.Random) -> bool:
            order = place(factory, rng, skus)
            placed.append((order.order_id, order.total_fen))
            return True

        latencies = run_threads(threads, start_at, end_at, place_one)
    else:
        pay = pay_client(job["platform_serial"], job["platform_public_pem"])
        pending = iter(job["notifications"])
        lock = threading.Lock()

        def notify_one(_: random.Random) -> bool:
            with lock:
                item = next(pending, None)
            if item is None:
                return False
            paid = handle_notification(pay, factory, *item)
            assert paid is not None and paid.status == "paid", paid
            return True

        latencies = run_threads(threads, start_at, end_at, notify_one)
    engine.dispose()
    return {"latencies": latencies, "placed": placed, "finished_at": time.time()}


def run_phase(
    pool: ProcessPoolExecutor, jobs: list[dict[str, Any]], *, seconds: float
) -> tuple[list[dict[str, Any]], float, float]:
    start_at = time.time() + 3.0  # each process opens its connections first
    for job in jobs:
        job.update(start_at=start_at, end_at=start_at + seconds)
    results = list(pool.map(worker, jobs))
    return results, start_at, min(start_at + seconds, max(r.get("finished_at", 0.0) for r in results))


def percentiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "p50_ms": round(pick(0.50), 2),
        "p99_ms": round(pick(0.99), 2),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


@contextmanager
def counting_statements(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def round_trips(database_url: str, skus: list[tuple[str, int]], sandbox: Sandbox) -> dict[str, int]:
    """Round trips to PostgreSQL for one placement and one notification: the statements, plus psycopg's BEGIN,
    the COMMIT and the pool's pre-ping on checkout (three per transaction, not seen by the statement hook)."""
    engine = make_engine(database_url, pool_size=1)
    factory = make_session_factory(engine)
    pay = pay_client(sandbox.platform_serial, signing.public_key_pem(sandbox.platform_key.public_key()))
    rng = random.Random(1)
    place(factory, rng, skus)  # the first order of a shopper creates nothing extra, but warm the caches
    with counting_statements(engine) as placing:
        order = place(factory, rng, skus)
    headers, body = sign_notifications(sandbox, [(order.order_id, order.total_fen)])[0]
    with counting_statements(engine) as notifying:
        handle_notification(pay, factory, headers, body)
    engine.dispose()
    return {"place_order": len(placing) + 3, "notification": len(notifying) + 3}


def sign_notifications(sandbox: Sandbox, placed: list[tuple[str, int]]) -> list[tuple[dict[str, str], bytes]]:
    signed = []
    for order_id, total_fen in placed:
        resource = {
            "mchid": MCHID,
            "appid": APPID,
            "out_trade_no": order_id,
            "transaction_id": "42" + uuid.uuid4().hex[:26],
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "success_time": datetime.now(UTC).isoformat(timespec="seconds"),
            "amount": {"total": total_fen, "payer_total": total_fen, "currency": "CNY"},
        }
        _, body = sandbox.notification(
            event_type="TRANSACTION.SUCCESS", resource=resource, original_type="transaction"
        )
        headers = {key.lower(): value for key, value in sandbox.signed_headers(body).items()}
        signed.append((headers, body))
    return signed


def check_nothing_oversold(database_url: str, skus: list[tuple[str, int]]) -> dict[str, int]:
    """Stock taken off the shelf equals the quantities ordered, SKU by SKU; payments match the outbox."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        stock: dict[str, int] = dict(connection.execute(select(t.skus.c.sku_id, t.skus.c.stock)).all())
        ordered: dict[str, int] = dict(
            connection.execute(
                select(t.order_lines.c.sku_id, func.sum(t.order_lines.c.quantity)).group_by(
                    t.order_lines.c.sku_id
                )
            ).all()
        )
        paid = connection.execute(
            select(func.count()).select_from(t.orders).where(t.orders.c.status == "paid")
        ).scalar_one()
        paid_events = connection.execute(
            select(func.count()).select_from(t.outbox).where(t.outbox.c.event_name == "OrderPaid")
        ).scalar_one()
        points = connection.execute(
            select(func.count())
            .select_from(t.points_entries)
            .where(t.points_entries.c.reason == "order_paid")
        ).scalar_one()
    engine.dispose()
    mismatched = [s for s, _ in skus if STOCK_PER_SKU - stock[s] != int(ordered.get(s, 0))]
    assert not mismatched, f"stock does not match the orders for {mismatched[:5]}"
    assert paid == paid_events == points, (paid, paid_events, points)
    return {"units_ordered": int(sum(ordered.values())), "paid_orders": int(paid)}


def sustained(
    database_url: str, psycopg_url: str, *, processes: int, threads: int, seconds: float
) -> dict[str, Any]:
    skus = seed_catalogue(database_url)
    sandbox = Sandbox(
        appid=APPID,
        app_secret="bench-secret",
        mchid=MCHID,
        merchant_serial="BENCH",
        merchant_public_key=signing.generate_private_key().public_key(),
        apiv3_key=APIV3_KEY,
    )
    trips = round_trips(database_url, skus, sandbox)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        list(pool.map(time.sleep, [0.5] * processes))  # start the interpreters (and their imports) now
        base = {"threads": threads, "database_url": database_url, "psycopg_url": psycopg_url}
        ceiling, start, end = run_phase(
            pool, [{**base, "phase": "select1"} for _ in range(processes)], seconds=seconds
        )
        select1 = [x for r in ceiling for x in r["latencies"]]
        select1_per_s = len(select1) / (end - start)
        placing, start, end = run_phase(
            pool, [{**base, "phase": "place", "skus": skus} for _ in range(processes)], seconds=seconds
        )
        place_latencies = [x for r in placing for x in r["latencies"]]
        placed_per_s = len(place_latencies) / (end - start)
        public_pem = signing.public_key_pem(sandbox.platform_key.public_key())
        jobs = [
            {
                **base,
                "phase": "notify",
                "platform_serial": sandbox.platform_serial,
                "platform_public_pem": public_pem,
                "notifications": sign_notifications(sandbox, r["placed"]),
            }
            for r in placing
        ]
        notifying, start, end = run_phase(pool, jobs, seconds=seconds * 4)
        notify_latencies = [x for r in notifying for x in r["latencies"]]
        notified_per_s = len(notify_latencies) / (end - start)
    checked = check_nothing_oversold(database_url, skus)
    return {
        "concurrency": f"{processes} processes x {threads} threads",
        "select1_per_s": round(select1_per_s),
        "select1": percentiles(select1),
        "round_trips": trips,
        "orders_placed": len(place_latencies),
        "orders_placed_per_s": round(placed_per_s, 1),
        "place": percentiles(place_latencies),
        "notifications_per_s": round(notified_per_s, 1),
        "notify": percentiles(notify_latencies),
        "placed_vs_select1": round(placed_per_s / select1_per_s, 4),
        "placed_x_round_trips_vs_select1": round(placed_per_s * trips["place_order"] / select1_per_s, 2),
        **checked,
    }


@contextmanager
def postgres_schema() -> Iterator[tuple[str, str]]:
    """A schema of our own in the shared `test` database, dropped afterwards: (SQLAlchemy URL, psycopg URL)."""
    schema = f"shoploop_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}",
            f"{POSTGRES_ADMIN}?options=-csearch_path%3D{schema}",
        )
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=["flash", "sustained", "all"], default="all")
    parser.add_argument("--buyers", type=int, default=2000)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--flash-threads", type=int, default=32)
    parser.add_argument("--processes", type=int, default=2, help="worker processes in part (b)")
    parser.add_argument("--threads", type=int, default=8, help="threads per process in part (b)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed phase in part (b)")
    args = parser.parse_args()
    if args.part in ("flash", "all"):
        with TemporaryDirectory() as folder:
            result = flash_sale(
                f"sqlite:///{Path(folder) / 'flash.db'}",
                buyers=args.buyers,
                units=args.units,
                threads=args.flash_threads,
            )
        print("flash sale, sqlite    ", result)
        assert result["paid_orders"] == args.units and result["stock_left"] == 0
        with postgres_schema() as (url, _):
            result = flash_sale(url, buyers=args.buyers, units=args.units, threads=args.flash_threads)
        print("flash sale, postgresql", result)
        assert result["paid_orders"] == args.units and result["stock_left"] == 0
    if args.part in ("sustained", "all"):
        with postgres_schema() as (url, psycopg_url):
            figures = sustained(
                url, psycopg_url, processes=args.processes, threads=args.threads, seconds=args.seconds
            )
        print("sustained, postgresql:")
        for key, value in figures.items():
            print(f"  {key:32} {value}")
        met = (
            figures["orders_placed_per_s"] >= 500
            and figures["place"]["p99_ms"] < 100
            and figures["notify"]["p99_ms"] < 100
        )
        print(f"  targets (>= 500 orders/s, p99 < 100 ms): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
