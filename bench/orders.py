"""Flash-sale benchmark: 2,000 concurrent buyers for 100 units; exactly 100 paid, nothing oversold.

Runs the real service layer (stock reservation, order placement, payment confirmation) on threads against
SQLite and PostgreSQL. Usage: `.venv/bin/python bench/orders.py [--buyers 2000] [--units 100]`.
"""

from __future__ import annotations

import argparse
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import psycopg
from sqlalchemy import select

from api.adapters import tables as t
from api.adapters.db import make_engine, make_session_factory
from api.domain.errors import OutOfStock
from api.migrate import upgrade_database
from api.service_layer import catalogue, orders
from api.service_layer.unit_of_work import UnitOfWork

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
MCHID, APPID = "1900000109", "wxbench"


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
        stock = session.execute(select(t.skus.c.stock).where(t.skus.c.sku_id == "flash")).scalar_one()
    engine.dispose()
    return {
        "buyers": buyers,
        "won": sum(results),
        "paid_orders": paid,
        "stock_left": stock,
        "seconds": round(elapsed, 2),
        "attempts_per_s": round(buyers / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--buyers", type=int, default=2000)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args()
    with TemporaryDirectory() as folder:
        result = flash_sale(
            f"sqlite:///{Path(folder) / 'flash.db'}",
            buyers=args.buyers,
            units=args.units,
            threads=args.threads,
        )
        print("sqlite    ", result)
        assert result["paid_orders"] == args.units and result["stock_left"] == 0
    schema = f"shoploop_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        result = flash_sale(
            f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}",
            buyers=args.buyers,
            units=args.units,
            threads=args.threads,
        )
        print("postgresql", result)
        assert result["paid_orders"] == args.units and result["stock_left"] == 0
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
