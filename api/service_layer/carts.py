"""The shopper's cart: SKU → quantity, priced from the catalogue on every read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select, update

from api.adapters import tables as t
from api.domain.errors import DomainError, ProductNotFound
from api.service_layer.unit_of_work import UnitOfWork

MAX_QUANTITY_PER_LINE = 99


def view_cart(uow: UnitOfWork, user_id: str) -> dict[str, Any]:
    with uow:
        lines = [
            dict(r)
            for r in uow.session.execute(
                select(
                    t.cart_items.c.sku_id,
                    t.cart_items.c.quantity,
                    t.skus.c.product_id,
                    t.skus.c.price_fen,
                    t.skus.c.stock,
                    t.skus.c.colour,
                    t.skus.c.size,
                    t.products.c.title,
                )
                .join(t.skus, t.skus.c.sku_id == t.cart_items.c.sku_id)
                .join(t.products, t.products.c.product_id == t.skus.c.product_id)
                .where(t.cart_items.c.user_id == user_id)
                .order_by(t.cart_items.c.added_at, t.cart_items.c.sku_id)
            ).mappings()
        ]
    for line in lines:
        line["amount_fen"] = line["price_fen"] * line["quantity"]
    return {"items": lines, "subtotal_fen": sum(line["amount_fen"] for line in lines)}


def set_quantity(uow: UnitOfWork, *, user_id: str, sku_id: str, quantity: int, now: datetime) -> None:
    if not 0 <= quantity <= MAX_QUANTITY_PER_LINE:
        raise DomainError(f"quantity must be between 0 and {MAX_QUANTITY_PER_LINE}")
    with uow:
        key = and_(t.cart_items.c.user_id == user_id, t.cart_items.c.sku_id == sku_id)
        if quantity == 0:
            uow.session.execute(delete(t.cart_items).where(key))
        else:
            if uow.inventory.sku(sku_id) is None:
                raise ProductNotFound("no such SKU")
            if uow.session.execute(select(t.cart_items.c.quantity).where(key)).first():
                uow.session.execute(update(t.cart_items).where(key).values(quantity=quantity))
            else:
                uow.session.execute(
                    insert(t.cart_items).values(
                        user_id=user_id, sku_id=sku_id, quantity=quantity, added_at=now
                    )
                )
        uow.commit()


def cart_lines(uow: UnitOfWork, user_id: str) -> list[tuple[str, int]]:
    """Inside an open unit of work: the cart as (sku_id, quantity)."""
    return [
        (r.sku_id, r.quantity)
        for r in uow.session.execute(
            select(t.cart_items.c.sku_id, t.cart_items.c.quantity).where(t.cart_items.c.user_id == user_id)
        )
    ]


def remove_from_cart(uow: UnitOfWork, user_id: str, sku_ids: list[str]) -> None:
    uow.session.execute(
        delete(t.cart_items).where(
            and_(t.cart_items.c.user_id == user_id, t.cart_items.c.sku_id.in_(sku_ids))
        )
    )
