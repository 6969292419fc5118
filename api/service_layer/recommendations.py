"""Recommendations for the mini-program: 猜你喜欢, similar products and 搭配推荐, served from recsys' live model.

Only listed, in-stock products of our catalogue are returned. Before the first model is trained (or for a
product the model does not know) the shop's best sellers answer instead, with source "popular".

A request costs one or two short database reads, both indexed: the shopper's paid products (猜你喜欢
only) and the listing and stock of the few candidate products it is about to show. The whole catalogue
(:class:`Shelf`: what is on sale, best sellers, category names) is read at most every few seconds by
:class:`ShelfCache` and only narrows the candidates; the per-request read is what decides, so a product
that sold out a moment ago is never shown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import and_, bindparam, delete, func, insert, literal, select, union_all
from sqlalchemy.exc import IntegrityError

from api.adapters import tables as t
from api.adapters.recommender import LiveRecommender
from api.domain.errors import ProductNotFound
from api.service_layer.unit_of_work import UnitOfWork
from recsys.model import Recommendation
from recsys.reasons import Reason

log = logging.getLogger(__name__)

Source = Literal["model", "popular"]
POPULAR_REASON = Reason.of("popular_in_shop")
# Candidates asked of the model per item shown: its catalogue is wider than what is on sale right now.
CANDIDATES_PER_ITEM = 3


@dataclass(frozen=True)
class RecommendedProduct:
    product_id: str
    title: str
    category_id: str
    min_price_fen: int
    score: float
    reason: Reason  # rendered in the reader's language at the edge


@dataclass(frozen=True)
class Recommendations:
    source: Source
    items: list[RecommendedProduct]
    model_version: str | None = None  # the registry run that ranked them (source "model")


@dataclass(frozen=True)
class ProductFacts:
    """What the answer shows about a product on sale."""

    title: str
    category_id: str
    min_price_fen: int
    sales_count: int


@dataclass(frozen=True)
class BestSeller:
    product_id: str
    category_id: str
    sales_count: int


@dataclass(frozen=True)
class Shelf:
    """A snapshot of the catalogue: what is not on sale, the best sellers, and category names."""

    not_on_sale: frozenset[str]  # unlisted or sold out when the snapshot was read
    best_sellers: tuple[BestSeller, ...]  # the BEST_SELLERS_KEPT most sold on-sale products (ties by id)
    category_names: dict[str, str]  # category_id → name


# The snapshot keeps this many best sellers: enough for the popular fallback, small enough to read in ms.
BEST_SELLERS_KEPT = 1_000


def read_shelf(uow: UnitOfWork) -> Shelf:
    """The catalogue snapshot for :class:`ShelfCache`: three reads that aggregate in the database and return
    few rows (the sold-out and unlisted, the best sellers, the categories), so a refresh takes milliseconds
    of the serving process's time rather than one Python object per product."""
    p, s = t.products.c, t.skus.c
    in_stock = func.sum(s.stock) > 0
    with uow:
        not_on_sale: list[str] = list(
            uow.session.execute(
                select(p.product_id)
                .join(t.skus, s.product_id == p.product_id)
                .group_by(p.product_id, p.is_listed)
                .having(~(p.is_listed.is_(True) & in_stock))
            ).scalars()
        )
        best_sellers = uow.session.execute(
            select(p.product_id, p.category_id, p.sales_count)
            .join(t.skus, s.product_id == p.product_id)
            .where(p.is_listed.is_(True))
            .group_by(p.product_id, p.category_id, p.sales_count)
            .having(in_stock)
            .order_by(p.sales_count.desc(), p.product_id)
            .limit(BEST_SELLERS_KEPT)
        ).all()
        category_names = {
            str(category_id): str(name)
            for category_id, name in uow.session.execute(
                select(t.categories.c.category_id, t.categories.c.name)
            ).all()
        }
        return Shelf(
            not_on_sale=frozenset(not_on_sale),
            best_sellers=tuple(BestSeller(str(r[0]), str(r[1]), int(r[2])) for r in best_sellers),
            category_names=category_names,
        )


class ShelfCache:
    """The last :class:`Shelf`, re-read in a background thread once it is `max_age_s` old.

    Requests never wait for the catalogue read except the very first. The snapshot only narrows what the
    model proposes; each answer checks its few candidates against the database (:func:`_on_sale_now`).
    """

    def __init__(
        self,
        read: Callable[[], Shelf],
        *,
        max_age_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_age_s < 0:
            raise ValueError(f"max_age_s must be >= 0, got {max_age_s}")
        self._read = read
        self._max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._shelf: Shelf | None = None
        self._read_at = float("-inf")
        self._refreshing = False

    def get(self) -> Shelf:
        shelf = self._shelf
        if shelf is None:
            with self._lock:
                if self._shelf is None:
                    self._shelf, self._read_at = self._read(), self._clock()
                return self._shelf
        if self._clock() - self._read_at >= self._max_age_s:
            with self._lock:
                if not self._refreshing and self._clock() - self._read_at >= self._max_age_s:
                    self._refreshing = True
                    threading.Thread(target=self._refresh, name="shelf-refresh", daemon=True).start()
        return shelf

    def _refresh(self) -> None:
        try:
            self._shelf, self._read_at = self._read(), self._clock()
        except Exception:
            # keep the previous snapshot; the per-request check still keeps sold-out products out
            log.exception("could not re-read the shelf; keeping the previous snapshot")
            self._read_at = self._clock()
        finally:
            self._refreshing = False


@dataclass(frozen=True)
class _Listing:
    is_listed: bool
    facts: ProductFacts | None  # None when not on sale (unlisted or no stock)


# Built once: the two reads every request makes (bound by parameter, so SQLAlchemy compiles each once).
_LISTINGS = (
    select(
        t.products.c.product_id,
        t.products.c.title,
        t.products.c.category_id,
        t.products.c.sales_count,
        t.products.c.is_listed,
        func.min(t.skus.c.price_fen),
        func.sum(t.skus.c.stock),
    )
    .join(t.skus, t.skus.c.product_id == t.products.c.product_id)
    .where(t.products.c.product_id.in_(bindparam("product_ids", expanding=True)))
    .group_by(
        t.products.c.product_id,
        t.products.c.title,
        t.products.c.category_id,
        t.products.c.sales_count,
        t.products.c.is_listed,
    )
)
# The shopper's paid products and the products they hid, in one round trip (both indexed by user id).
_BOUGHT_AND_HIDDEN = union_all(
    select(t.order_lines.c.product_id, literal(False).label("is_hidden"))
    .join(t.orders, t.orders.c.order_id == t.order_lines.c.order_id)
    .where(and_(t.orders.c.user_id == bindparam("user_id"), t.orders.c.paid_at.is_not(None))),
    select(t.hidden_products.c.product_id, literal(True).label("is_hidden")).where(
        t.hidden_products.c.user_id == bindparam("user_id")
    ),
)
_HIDDEN = select(t.hidden_products.c.product_id).where(t.hidden_products.c.user_id == bindparam("user_id"))


def _on_sale_now(uow: UnitOfWork, product_ids: Collection[str]) -> dict[str, _Listing]:
    """Listing, stock and display facts of these products as of now: one indexed read."""
    if not product_ids:
        return {}
    with uow:
        rows = uow.session.execute(_LISTINGS, {"product_ids": sorted(set(product_ids))}).all()
    return {
        str(product_id): _Listing(
            bool(is_listed),
            ProductFacts(str(title), str(category_id), int(min_price_fen), int(sales_count))  # type: ignore[call-overload]
            if is_listed and int(stock or 0) > 0  # type: ignore[call-overload]
            else None,
        )
        for product_id, title, category_id, sales_count, is_listed, min_price_fen, stock in rows
    }


def _bought_and_hidden(uow: UnitOfWork, user_id: str) -> tuple[set[str], frozenset[str]]:
    """Every product the shopper has paid for, and every product they hid."""
    bought: set[str] = set()
    hidden: set[str] = set()
    with uow:
        for product_id, is_hidden in uow.session.execute(_BOUGHT_AND_HIDDEN, {"user_id": user_id}):
            (hidden if is_hidden else bought).add(str(product_id))
    return bought, frozenset(hidden)


def _hidden(uow: UnitOfWork, user_id: str) -> frozenset[str]:
    with uow:
        found: list[str] = list(uow.session.execute(_HIDDEN, {"user_id": user_id}).scalars())
    return frozenset(found)


def hide(uow: UnitOfWork, *, user_id: str, product_id: str, now: datetime) -> None:
    """The shopper never wants to see this product recommended again (in any list) until they unhide it."""
    with uow:
        if (
            uow.session.execute(
                select(t.products.c.product_id).where(t.products.c.product_id == product_id)
            ).first()
            is None
        ):
            raise ProductNotFound("no such product")
        h = t.hidden_products.c
        if uow.session.execute(
            select(h.product_id).where(h.user_id == user_id, h.product_id == product_id)
        ).first():
            return
        uow.session.execute(
            insert(t.hidden_products).values(user_id=user_id, product_id=product_id, hidden_at=now)
        )
        try:
            uow.commit()
        except IntegrityError:
            return  # a double tap raced itself; the product is hidden


def unhide(uow: UnitOfWork, *, user_id: str, product_id: str) -> None:
    with uow:
        h = t.hidden_products.c
        uow.session.execute(delete(t.hidden_products).where(h.user_id == user_id, h.product_id == product_id))
        uow.commit()


def hidden_products(uow: UnitOfWork, *, user_id: str) -> list[str]:
    """The products the shopper hid, most recently hidden first."""
    h = t.hidden_products.c
    with uow:
        found: list[str] = list(
            uow.session.execute(
                select(h.product_id).where(h.user_id == user_id).order_by(h.hidden_at.desc(), h.product_id)
            ).scalars()
        )
    return found


def _present(
    listings: dict[str, _Listing],
    found: Sequence[tuple[str, float, Reason]],
    n: int,
    *,
    exclude: Collection[str] = (),
) -> list[RecommendedProduct]:
    items = []
    for product_id, score, reason in found:
        listing = listings.get(product_id)
        if listing is not None and listing.facts is not None and product_id not in exclude:
            facts = listing.facts
            items.append(
                RecommendedProduct(
                    product_id, facts.title, facts.category_id, facts.min_price_fen, score, reason
                )
            )
            if len(items) == n:
                break
    return items


def _scored(found: Sequence[Recommendation]) -> list[tuple[str, float, Reason]]:
    return [(item.product_id, item.score, item.why) for item in found]


def _best_sellers(
    shelf: Shelf,
    n: int,
    *,
    exclude: Collection[str],
    keep: Callable[[BestSeller], bool] = lambda _: True,
    reason: Reason = POPULAR_REASON,
) -> list[tuple[str, float, Reason]]:
    ranked = []
    for seller in shelf.best_sellers:
        if seller.product_id not in exclude and keep(seller):
            ranked.append((seller.product_id, float(seller.sales_count), reason))
            if len(ranked) == n:
                break
    return ranked


def for_shopper(
    uow: UnitOfWork,
    live: LiveRecommender,
    shelves: ShelfCache,
    *,
    user_id: str,
    n: int,
    category_id: str | None = None,
) -> Recommendations:
    """猜你喜欢: the shopper's top `n` products (nothing already bought, hidden, unlisted or sold out)."""
    shelf = shelves.get()
    bought, hidden = _bought_and_hidden(uow, user_id)
    model = live.get()
    wanted = n * CANDIDATES_PER_ITEM
    if model is not None:
        category = shelf.category_names.get(category_id) if category_id else None
        if category_id is None or category is not None:
            found = _scored(
                model.recommend_for(
                    user_id,
                    wanted,
                    hidden=hidden,
                    out_of_stock=shelf.not_on_sale,
                    category=category,
                    purchased=bought,
                )
            )
            items = _present(
                _on_sale_now(uow, [product_id for product_id, _, _ in found]), found, n, exclude=hidden
            )
            if items:
                return Recommendations("model", items, live.version)
    popular = _best_sellers(
        shelf,
        wanted,
        exclude=bought | hidden,
        keep=lambda seller: category_id is None or seller.category_id == category_id,
    )
    return Recommendations("popular", _present(_on_sale_now(uow, [p for p, _, _ in popular]), popular, n))


def _require_listed(listings: dict[str, _Listing], product_id: str) -> None:
    listing = listings.get(product_id)
    if listing is None or not listing.is_listed:
        raise ProductNotFound("no such product")


def similar(
    uow: UnitOfWork, live: LiveRecommender, shelves: ShelfCache, *, user_id: str, product_id: str, n: int
) -> Recommendations:
    """Products shoppers treat alike; without a model (or for a new product): best sellers of its category.
    Never a product the shopper hid."""
    shelf = shelves.get()
    hidden = _hidden(uow, user_id)
    model = live.get()
    wanted = n * CANDIDATES_PER_ITEM + len(hidden)
    found: list[tuple[str, float, Reason]] = []
    if model is not None and product_id in model.product_index:
        found = _scored(model.similar(product_id, wanted, out_of_stock=shelf.not_on_sale))
    listings = _on_sale_now(uow, [product_id, *(p for p, _, _ in found)])
    _require_listed(listings, product_id)
    items = _present(listings, found, n, exclude=hidden | {product_id})
    if items:
        return Recommendations("model", items, live.version)
    facts = listings[product_id].facts
    category = facts.category_id if facts is not None else None
    popular = _best_sellers(
        shelf,
        wanted,
        exclude=hidden | {product_id},
        keep=lambda seller: category is None or seller.category_id == category,
        reason=Reason.of("more_in_category"),
    )
    return Recommendations("popular", _present(_on_sale_now(uow, [p for p, _, _ in popular]), popular, n))


def complements(
    uow: UnitOfWork, live: LiveRecommender, shelves: ShelfCache, *, user_id: str, product_id: str, n: int
) -> Recommendations:
    """搭配推荐: what is bought in the same basket; without a model: best sellers of other categories.
    Never a product the shopper hid."""
    shelf = shelves.get()
    hidden = _hidden(uow, user_id)
    model = live.get()
    wanted = n * CANDIDATES_PER_ITEM + len(hidden)
    found: list[tuple[str, float, Reason]] = []
    if model is not None and product_id in model.product_index:
        found = _scored(model.complements(product_id, wanted, out_of_stock=shelf.not_on_sale))
    listings = _on_sale_now(uow, [product_id, *(p for p, _, _ in found)])
    _require_listed(listings, product_id)
    items = _present(listings, found, n, exclude=hidden)
    if items:
        return Recommendations("model", items, live.version)
    facts = listings[product_id].facts
    category = facts.category_id if facts is not None else None
    popular = _best_sellers(
        shelf, wanted, exclude=hidden | {product_id}, keep=lambda seller: seller.category_id != category
    )
    return Recommendations("popular", _present(_on_sale_now(uow, [p for p, _, _ in popular]), popular, n))
