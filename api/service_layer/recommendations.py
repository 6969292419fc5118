"""Recommendations for the mini-program: 猜你喜欢, similar products and 搭配推荐, served from recsys' live model.

Only listed, in-stock products of our catalogue are returned. Before the first model is trained (or for a
product the model does not know) the shop's best sellers answer instead, with source "popular".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import and_, func, select

from api.adapters import tables as t
from api.adapters.recommender import LiveRecommender
from api.domain.errors import ProductNotFound
from api.service_layer.unit_of_work import UnitOfWork
from recsys.model import Recommendation

Source = Literal["model", "popular"]
POPULAR_REASON = "popular in the shop"


@dataclass(frozen=True)
class RecommendedProduct:
    product_id: str
    title: str
    category_id: str
    min_price_fen: int
    score: float
    reason: str


@dataclass(frozen=True)
class Recommendations:
    source: Source
    items: list[RecommendedProduct]


@dataclass(frozen=True)
class _Shelf:
    """Listed products with stock, with what the answer shows about them."""

    products: dict[str, tuple[str, str, int, int]]  # product_id → (title, category_id, min price, sales)
    not_on_sale: set[str]  # unlisted or sold out: never recommended


def _shelf(uow: UnitOfWork) -> _Shelf:
    p, s = t.products.c, t.skus.c
    with uow:
        rows = uow.session.execute(
            select(
                p.product_id,
                p.title,
                p.category_id,
                p.sales_count,
                p.is_listed,
                func.min(s.price_fen).label("min_price_fen"),
                func.sum(s.stock).label("stock"),
            )
            .join(t.skus, s.product_id == p.product_id)
            .group_by(p.product_id, p.title, p.category_id, p.sales_count, p.is_listed)
        ).all()
    on_sale = {
        r.product_id: (r.title, r.category_id, int(r.min_price_fen), int(r.sales_count))
        for r in rows
        if r.is_listed and int(r.stock or 0) > 0
    }
    return _Shelf(products=on_sale, not_on_sale={r.product_id for r in rows} - set(on_sale))


def _category_name(uow: UnitOfWork, category_id: str) -> str | None:
    with uow:
        return uow.session.execute(
            select(t.categories.c.name).where(t.categories.c.category_id == category_id)
        ).scalar_one_or_none()


def _present(shelf: _Shelf, found: Sequence[Recommendation], n: int) -> list[RecommendedProduct]:
    items = []
    for item in found:
        known = shelf.products.get(item.product_id)
        if known is not None:
            title, category_id, price, _ = known
            items.append(
                RecommendedProduct(item.product_id, title, category_id, price, item.score, item.reason)
            )
    return items[:n]


def _popular(
    shelf: _Shelf, n: int, *, exclude: set[str], category_id: str | None = None, reason: str = POPULAR_REASON
) -> list[RecommendedProduct]:
    ranked = sorted(
        (
            (product_id, facts)
            for product_id, facts in shelf.products.items()
            if product_id not in exclude and (category_id is None or facts[1] == category_id)
        ),
        key=lambda pair: (-pair[1][3], pair[0]),
    )[:n]
    return [
        RecommendedProduct(product_id, title, category, price, float(sales), reason)
        for product_id, (title, category, price, sales) in ranked
    ]


def _bought(uow: UnitOfWork, user_id: str) -> set[str]:
    with uow:
        return set(
            uow.session.execute(
                select(t.order_lines.c.product_id)
                .join(t.orders, t.orders.c.order_id == t.order_lines.c.order_id)
                .where(and_(t.orders.c.user_id == user_id, t.orders.c.paid_at.is_not(None)))
            ).scalars()
        )


def for_shopper(
    uow: UnitOfWork, live: LiveRecommender, *, user_id: str, n: int, category_id: str | None = None
) -> Recommendations:
    """猜你喜欢: the shopper's top `n` products (nothing already bought, unlisted or sold out)."""
    shelf = _shelf(uow)
    model = live.get()
    if model is not None:
        category = _category_name(uow, category_id) if category_id else None
        if category_id is None or category is not None:
            # Ask for more than n: the model's catalogue is wider than what is on sale today.
            found = model.recommend_for(user_id, n * 3, out_of_stock=shelf.not_on_sale, category=category)
            items = _present(shelf, found, n)
            if items:
                return Recommendations("model", items)
    return Recommendations(
        "popular", _popular(shelf, n, exclude=_bought(uow, user_id), category_id=category_id)
    )


def _require_product(uow: UnitOfWork, product_id: str) -> None:
    with uow:
        listed = uow.session.execute(
            select(t.products.c.product_id).where(
                and_(t.products.c.product_id == product_id, t.products.c.is_listed.is_(True))
            )
        ).scalar_one_or_none()
    if listed is None:
        raise ProductNotFound("no such product")


def similar(uow: UnitOfWork, live: LiveRecommender, *, product_id: str, n: int) -> Recommendations:
    """Products shoppers treat alike; without a model (or for a new product): best sellers of its category."""
    shelf = _shelf(uow)
    _require_product(uow, product_id)
    model = live.get()
    if model is not None and product_id in model.product_index:
        items = _present(shelf, model.similar(product_id, n * 3 + 1, out_of_stock=shelf.not_on_sale), n + 1)
        items = [item for item in items if item.product_id != product_id][:n]
        if items:
            return Recommendations("model", items)
    category = shelf.products.get(product_id, ("", "", 0, 0))[1] or None
    return Recommendations(
        "popular",
        _popular(shelf, n, exclude={product_id}, category_id=category, reason="more in this category"),
    )


def complements(uow: UnitOfWork, live: LiveRecommender, *, product_id: str, n: int) -> Recommendations:
    """搭配推荐: what is bought in the same basket; without a model: best sellers of other categories."""
    shelf = _shelf(uow)
    _require_product(uow, product_id)
    model = live.get()
    if model is not None and product_id in model.product_index:
        items = _present(shelf, model.complements(product_id, n * 3, out_of_stock=shelf.not_on_sale), n)
        if items:
            return Recommendations("model", items)
    category = shelf.products.get(product_id, ("", "", 0, 0))[1]
    others = {pid for pid, facts in shelf.products.items() if facts[1] == category} | {product_id}
    return Recommendations("popular", _popular(shelf, n, exclude=others))
