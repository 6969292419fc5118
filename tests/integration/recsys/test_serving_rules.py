"""The order core's recommendation use cases on a real database: its rules hold beside the model's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from api.adapters.db import make_engine, make_read_only_session_factory, make_session_factory
from api.adapters.recommender import LiveRecommender
from api.domain.errors import ProductNotFound
from api.migrate import upgrade_database
from api.service_layer import catalogue, orders, recommendations
from api.service_layer.recommendations import ShelfCache, read_shelf
from api.service_layer.unit_of_work import UnitOfWork
from recsys.dataset import basket_matrix, build_interaction_matrix
from recsys.model import ALSModel, ALSParams, Recommender

MCHID, APPID = "1900000109", "wxtest"
DAY = datetime(2025, 5, 1, tzinfo=UTC)
COFFEE = [f"coffee-{i}" for i in range(6)]
TEA = [f"tea-{i}" for i in range(6)]


class Shop:
    def __init__(self, folder: Path) -> None:
        url = f"sqlite:///{folder / 'shop.db'}"
        upgrade_database(url)
        engine = make_engine(url)
        self.writes = make_session_factory(engine)
        self.reads = make_read_only_session_factory(engine)
        for product_id in COFFEE + TEA:
            catalogue.create_product(
                UnitOfWork(self.writes),
                product_id=product_id,
                title=product_id.replace("-", " No."),
                category="Coffee" if product_id in COFFEE else "Tea",
                description="",
                skus=[{"sku_id": f"k-{product_id}", "price_fen": 1500, "stock": 10}],
                now=DAY,
            )
        # a month-old model: coffee drinkers and tea drinkers, each having bought three of their six
        rows = [
            (f"{kind}-drinker-{person}", shelf[(person + i) % 6], i)
            for kind, shelf in (("coffee", COFFEE), ("tea", TEA))
            for person in range(8)
            for i in range(3)
        ]
        frame = pl.DataFrame(
            {
                "person_id": [r[0] for r in rows],
                "product_id": [r[1] for r in rows],
                "kind": "purchase",
                "occurred_at": [DAY + timedelta(days=r[2]) for r in rows],
                "quantity": 1,
                "basket_id": [f"{r[0]}-{r[2] // 2}" for r in rows],
            }
        )
        matrix = build_interaction_matrix(frame)
        model = ALSModel(ALSParams(factors=4, iterations=15, regularization=0.1), num_threads=1)
        products = pl.DataFrame(
            {
                "product_id": COFFEE + TEA,
                "name": COFFEE + TEA,
                "category": ["Coffee"] * 6 + ["Tea"] * 6,
            }
        )
        self.recommender = Recommender.from_training(
            matrix,
            model.fit(matrix.user_items),
            baskets=basket_matrix(frame, matrix.product_ids),
            products=products,
        )
        self.live = LiveRecommender(lambda: self.recommender)
        self.shelves = ShelfCache(lambda: read_shelf(UnitOfWork(self.reads)), max_age_s=3600)

    def guess_you_like(self, user_id: str, n: int = 6) -> list[str]:
        found = recommendations.for_shopper(
            UnitOfWork(self.reads), self.live, self.shelves, user_id=user_id, n=n
        )
        assert found.source == "model"
        return [item.product_id for item in found.items]

    def sell_out(self, product_id: str) -> None:
        catalogue.set_stock(
            UnitOfWork(self.writes), sku_id=f"k-{product_id}", stock=0, low_stock_threshold=0, now=DAY
        )

    def pay_for(self, user_id: str, product_id: str) -> None:
        order = orders.place_order(
            UnitOfWork(self.writes),
            orders.PlaceOrder(
                user_id=user_id, idempotency_key=f"{user_id}-{product_id}", items=[(f"k-{product_id}", 1)]
            ),
            now=DAY,
            payment_window=timedelta(minutes=30),
            low_stock_threshold=0,
        )
        orders.confirm_payment(
            UnitOfWork(self.writes),
            {
                "mchid": MCHID,
                "appid": APPID,
                "trade_state": "SUCCESS",
                "out_trade_no": order.order_id,
                "transaction_id": f"42{abs(hash(order.order_id)) % 10**20:020d}",
                "amount": {"total": order.total_fen},
            },
            mchid=MCHID,
            appid=APPID,
            now=DAY,
            notification_id=order.order_id,
        )


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    return Shop(tmp_path)


def test_a_product_paid_for_after_the_training_is_not_recommended_again(shop: Shop) -> None:
    first = shop.guess_you_like("coffee-drinker-0")[0]

    shop.pay_for("coffee-drinker-0", first)

    assert first not in shop.guess_you_like("coffee-drinker-0")


def test_a_product_that_sold_out_after_the_shelf_snapshot_is_not_shown(shop: Shop) -> None:
    first = shop.guess_you_like("coffee-drinker-0")[0]  # the shelf snapshot is read here, kept an hour

    shop.sell_out(first)

    assert first not in shop.guess_you_like("coffee-drinker-0")
    partner = (
        recommendations.complements(
            UnitOfWork(shop.reads), shop.live, shop.shelves, user_id="coffee-drinker-0", product_id=first, n=3
        )
        .items[0]
        .product_id
    )
    shop.sell_out(partner)
    assert partner not in [
        item.product_id
        for item in recommendations.complements(
            UnitOfWork(shop.reads), shop.live, shop.shelves, user_id="coffee-drinker-0", product_id=first, n=3
        ).items
    ]


def test_an_unknown_product_has_no_similar_products(shop: Shop) -> None:
    with pytest.raises(ProductNotFound):
        recommendations.similar(
            UnitOfWork(shop.reads),
            shop.live,
            shop.shelves,
            user_id="coffee-drinker-0",
            product_id="nothing",
            n=3,
        )


def _every_list(shop: Shop, user_id: str, product_id: str) -> dict[str, list[str]]:
    def ids(found: recommendations.Recommendations) -> list[str]:
        return [item.product_id for item in found.items]

    reads = UnitOfWork(shop.reads)
    return {
        "guess you like": ids(
            recommendations.for_shopper(reads, shop.live, shop.shelves, user_id=user_id, n=11)
        ),
        "similar": ids(
            recommendations.similar(
                reads, shop.live, shop.shelves, user_id=user_id, product_id=product_id, n=11
            )
        ),
        "complements": ids(
            recommendations.complements(
                reads, shop.live, shop.shelves, user_id=user_id, product_id=product_id, n=11
            )
        ),
    }


def test_a_hidden_product_never_comes_back_in_any_list_until_the_shopper_unhides_it(shop: Shop) -> None:
    anchor = COFFEE[0]
    before = _every_list(shop, "coffee-drinker-0", anchor)
    tops = {found[0] for found in before.values()}  # the first of each list

    for product_id in tops:
        recommendations.hide(
            UnitOfWork(shop.writes), user_id="coffee-drinker-0", product_id=product_id, now=DAY
        )

    after = _every_list(shop, "coffee-drinker-0", anchor)
    assert all(found and not tops & set(found) for found in after.values()), after
    assert _every_list(shop, "coffee-drinker-1", anchor)["similar"][0] == before["similar"][0]  # theirs only
    assert set(recommendations.hidden_products(UnitOfWork(shop.reads), user_id="coffee-drinker-0")) == tops

    for product_id in tops:
        recommendations.unhide(UnitOfWork(shop.writes), user_id="coffee-drinker-0", product_id=product_id)

    assert _every_list(shop, "coffee-drinker-0", anchor) == before


def test_a_hidden_product_is_not_among_the_best_sellers_before_any_model(shop: Shop) -> None:
    no_model = LiveRecommender(lambda: (_ for _ in ()).throw(OSError("no model")))
    reads = UnitOfWork(shop.reads)
    best = recommendations.for_shopper(reads, no_model, shop.shelves, user_id="new-shopper", n=12).items
    assert len(best) == 12

    recommendations.hide(
        UnitOfWork(shop.writes), user_id="new-shopper", product_id=best[0].product_id, now=DAY
    )

    after = recommendations.for_shopper(reads, no_model, shop.shelves, user_id="new-shopper", n=12)
    assert after.source == "popular"
    assert best[0].product_id not in [item.product_id for item in after.items]


def test_hiding_a_product_that_does_not_exist_is_refused(shop: Shop) -> None:
    with pytest.raises(ProductNotFound):
        recommendations.hide(
            UnitOfWork(shop.writes), user_id="coffee-drinker-0", product_id="nothing", now=DAY
        )
