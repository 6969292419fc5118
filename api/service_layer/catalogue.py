"""Catalogue reads and back-office writes: categories, products with SKUs, stock."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, func, insert, select, update

from api.adapters import tables as t
from api.domain import events
from api.domain.errors import ProductNotFound
from api.domain.inventory import is_low_stock
from api.service_layer.unit_of_work import UnitOfWork

ProductSort = Literal["sales", "price_asc", "price_desc", "newest"]


def list_categories(uow: UnitOfWork) -> list[dict[str, Any]]:
    with uow:
        return [
            dict(r)
            for r in uow.session.execute(select(t.categories).order_by(t.categories.c.name)).mappings()
        ]


def search_products(
    uow: UnitOfWork,
    *,
    query: str | None = None,
    category_id: str | None = None,
    min_price_fen: int | None = None,
    max_price_fen: int | None = None,
    in_stock: bool = False,
    sort: ProductSort = "sales",
    limit: int = 20,
    offset: int = 0,
) -> list[dict[str, Any]]:
    price = func.min(t.skus.c.price_fen).label("min_price_fen")
    stock = func.sum(t.skus.c.stock).label("stock")
    statement = (
        select(
            t.products.c.product_id,
            t.products.c.category_id,
            t.products.c.title,
            t.products.c.sales_count,
            t.products.c.created_at,
            price,
            stock,
        )
        .join(t.skus, t.skus.c.product_id == t.products.c.product_id)
        .where(t.products.c.is_listed.is_(True))
        .group_by(t.products.c.product_id)
    )
    if query:
        # LIKE with a bound parameter; wildcards in the shopper's text are escaped.
        pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(func.lower(t.products.c.title).like(pattern, escape="\\"))
    if category_id:
        statement = statement.where(t.products.c.category_id == category_id)
    if min_price_fen is not None:
        statement = statement.having(func.min(t.skus.c.price_fen) >= min_price_fen)
    if max_price_fen is not None:
        statement = statement.having(func.min(t.skus.c.price_fen) <= max_price_fen)
    if in_stock:
        statement = statement.having(func.sum(t.skus.c.stock) > 0)
    order = {
        "sales": (t.products.c.sales_count.desc(), t.products.c.product_id),
        "price_asc": (price.asc(), t.products.c.product_id),
        "price_desc": (price.desc(), t.products.c.product_id),
        "newest": (t.products.c.created_at.desc(), t.products.c.product_id),
    }[sort]
    statement = statement.order_by(*order).limit(limit).offset(offset)
    with uow:
        return [dict(r) for r in uow.session.execute(statement).mappings()]


def product_detail(uow: UnitOfWork, product_id: str) -> dict[str, Any]:
    with uow:
        product = (
            uow.session.execute(
                select(t.products).where(
                    and_(t.products.c.product_id == product_id, t.products.c.is_listed.is_(True))
                )
            )
            .mappings()
            .first()
        )
        if product is None:
            raise ProductNotFound("no such product")
        skus = uow.session.execute(
            select(t.skus.c.sku_id, t.skus.c.colour, t.skus.c.size, t.skus.c.price_fen, t.skus.c.stock)
            .where(t.skus.c.product_id == product_id)
            .order_by(t.skus.c.sku_id)
        ).mappings()
        return {**dict(product), "skus": [dict(s) for s in skus]}


def ensure_category(uow: UnitOfWork, name: str) -> str:
    existing = uow.session.execute(
        select(t.categories.c.category_id).where(t.categories.c.name == name)
    ).scalar_one_or_none()
    if existing:
        return str(existing)
    category_id = "c" + secrets.token_hex(6)
    uow.session.execute(insert(t.categories).values(category_id=category_id, name=name))
    return category_id


def create_product(
    uow: UnitOfWork,
    *,
    title: str,
    category: str,
    description: str,
    skus: list[dict[str, Any]],
    now: datetime,
    product_id: str | None = None,
) -> str:
    """Add a product and its SKUs (each: colour, size, price_fen, stock, optional sku_id)."""
    with uow:
        product_id = product_id or "p" + secrets.token_hex(8)
        uow.session.execute(
            insert(t.products).values(
                product_id=product_id,
                category_id=ensure_category(uow, category),
                title=title,
                description=description,
                is_listed=True,
                sales_count=0,
                created_at=now,
            )
        )
        uow.session.execute(
            insert(t.skus),
            [
                {
                    "sku_id": sku.get("sku_id") or "k" + secrets.token_hex(8),
                    "product_id": product_id,
                    "colour": sku.get("colour", ""),
                    "size": sku.get("size", ""),
                    "price_fen": int(sku["price_fen"]),
                    "stock": int(sku["stock"]),
                }
                for sku in skus
            ],
        )
        uow.commit()
    return product_id


def set_stock(uow: UnitOfWork, *, sku_id: str, stock: int, low_stock_threshold: int, now: datetime) -> int:
    with uow:
        before = uow.session.execute(
            select(t.skus.c.stock).where(t.skus.c.sku_id == sku_id)
        ).scalar_one_or_none()
        if before is None:
            raise ProductNotFound("no such SKU")
        uow.session.execute(update(t.skus).where(t.skus.c.sku_id == sku_id).values(stock=stock))
        if is_low_stock(stock_before=int(before), stock_after=stock, threshold=low_stock_threshold):
            uow.record(
                events.StockLow(
                    key=sku_id, occurred_at=now, sku_id=sku_id, stock=stock, threshold=low_stock_threshold
                )
            )
        uow.commit()
    return stock


def low_stock(uow: UnitOfWork, *, threshold: int) -> list[dict[str, Any]]:
    with uow:
        return [
            dict(r)
            for r in uow.session.execute(
                select(t.skus.c.sku_id, t.skus.c.product_id, t.products.c.title, t.skus.c.stock)
                .join(t.products, t.products.c.product_id == t.skus.c.product_id)
                .where(t.skus.c.stock <= threshold)
                .order_by(t.skus.c.stock, t.skus.c.sku_id)
            ).mappings()
        ]


def has_products(uow: UnitOfWork) -> bool:
    with uow:
        return uow.session.execute(select(t.products.c.product_id).limit(1)).first() is not None
