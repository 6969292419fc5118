"""Stores with coordinates, opening hours and an offer; the shopper's nearby stores by distance."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from api.adapters import tables as t
from api.domain.stores import bounding_box, haversine_m, is_open
from api.service_layer.unit_of_work import UnitOfWork


def create_store(uow: UnitOfWork, *, now: datetime, **fields: Any) -> dict[str, Any]:
    store = {"store_id": fields.pop("store_id", None) or "st" + secrets.token_hex(6), **fields}
    with uow:
        uow.session.execute(insert(t.stores).values(**store, is_active=True, created_at=now))
        uow.commit()
    return {**store, "is_open": is_open(store["opens_at"], store["closes_at"], now)}


def nearby(
    uow: UnitOfWork, *, lat: float, lng: float, radius_m: float, now: datetime, limit: int = 20
) -> list[dict[str, Any]]:
    """Active stores within `radius_m` of the shopper, nearest first, with distance, open now and offer."""
    min_lat, max_lat, min_lng, max_lng = bounding_box(lat, lng, radius_m)
    c = t.stores.c
    with uow:
        candidates = [
            dict(row)
            for row in uow.session.execute(
                select(t.stores).where(
                    c.is_active.is_(True),
                    c.latitude.between(min_lat, max_lat),
                    c.longitude.between(min_lng, max_lng),
                )
            ).mappings()
        ]
    found = []
    for store in candidates:
        distance = haversine_m(lat, lng, store["latitude"], store["longitude"])
        if distance <= radius_m:
            store["distance_m"] = round(distance)
            store["is_open"] = is_open(store["opens_at"], store["closes_at"], now)
            found.append(store)
    found.sort(key=lambda s: (s["distance_m"], s["store_id"]))
    return found[:limit]
