"""Favourites and footprints (收藏与足迹): a shopper's own, never anyone else's.

Footprints are recorded by the mini-program calling `POST /v1/footprints` when a product page is shown (the
order core cannot read the lake, where the tracked "Product Viewed" events land); both are published as
events (ProductFavourited, ProductViewed) for the recommender and the warehouse.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from api.adapters import tables as t
from api.domain import events
from api.domain.errors import ProductNotFound
from api.service_layer.unit_of_work import UnitOfWork

MAX_FOOTPRINTS = 100


def _require_listed(uow: UnitOfWork, product_id: str) -> None:
    found = uow.session.execute(
        select(t.products.c.product_id).where(
            t.products.c.product_id == product_id, t.products.c.is_listed.is_(True)
        )
    ).first()
    if found is None:
        raise ProductNotFound("no such product")


def _products(uow: UnitOfWork, table: Any, user_id: str, order_by: Any) -> list[dict[str, Any]]:
    p, s = t.products.c, t.skus.c
    min_price = select(func.min(s.price_fen)).where(s.product_id == table.c.product_id).scalar_subquery()
    return [
        dict(row)
        for row in uow.session.execute(
            select(table, p.title, min_price.label("min_price_fen"))
            .join(t.products, p.product_id == table.c.product_id)
            .where(table.c.user_id == user_id)
            .order_by(order_by.desc(), table.c.product_id)
            .limit(MAX_FOOTPRINTS)
        ).mappings()
    ]


def set_favourite(
    uow: UnitOfWork, *, user_id: str, product_id: str, is_favourite: bool, now: datetime
) -> None:
    with uow:
        f = t.favourites.c
        if is_favourite:
            _require_listed(uow, product_id)
            if uow.session.execute(
                select(f.product_id).where(f.user_id == user_id, f.product_id == product_id)
            ).first():
                return
            uow.session.execute(
                insert(t.favourites).values(user_id=user_id, product_id=product_id, created_at=now)
            )
        else:
            gone = uow.session.execute(
                delete(t.favourites).where(f.user_id == user_id, f.product_id == product_id)
            )
            if gone.rowcount == 0:  # type: ignore[attr-defined]
                return
        uow.record(
            events.ProductFavourited(
                key=user_id,
                occurred_at=now,
                user_id=user_id,
                product_id=product_id,
                is_favourite=is_favourite,
            )
        )
        try:
            uow.commit()
        except IntegrityError:
            return  # a double tap raced itself; the favourite is there


def favourites(uow: UnitOfWork, *, user_id: str) -> list[dict[str, Any]]:
    with uow:
        return _products(uow, t.favourites, user_id, t.favourites.c.created_at)


def record_view(uow: UnitOfWork, *, user_id: str, product_id: str, now: datetime) -> None:
    f = t.footprints.c
    with uow:
        _require_listed(uow, product_id)
        seen = uow.session.execute(
            update(t.footprints)
            .where(f.user_id == user_id, f.product_id == product_id)
            .values(view_count=f.view_count + 1, last_viewed_at=now)
        )
        if seen.rowcount == 0:  # type: ignore[attr-defined]
            uow.session.execute(
                insert(t.footprints).values(
                    user_id=user_id, product_id=product_id, view_count=1, last_viewed_at=now
                )
            )
        uow.record(events.ProductViewed(key=user_id, occurred_at=now, user_id=user_id, product_id=product_id))
        try:
            uow.commit()
        except IntegrityError:
            return


def footprints(uow: UnitOfWork, *, user_id: str) -> list[dict[str, Any]]:
    with uow:
        return _products(uow, t.footprints, user_id, t.footprints.c.last_viewed_at)


def clear_footprints(uow: UnitOfWork, *, user_id: str) -> int:
    with uow:
        gone = uow.session.execute(delete(t.footprints).where(t.footprints.c.user_id == user_id))
        uow.commit()
    return int(gone.rowcount)  # type: ignore[attr-defined]
