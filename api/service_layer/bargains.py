"""砍价 bargains: deals (back office), start, friends' cuts (one per account, device and WeChat identity), buy.

The device id comes from the mini-program (`X-Device-Id`, from wx.getStorage'd random id); with the unique
(bargain, account), (bargain, device) and (bargain, openid) constraints and the unionid check, one person
cannot cut twice by switching accounts on one phone. Farms of many phones are the streams' crowded-device
flag's job; a flagged (frozen) account can neither start nor cut.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from api.adapters import tables as t
from api.domain import events
from api.domain.bargains import Bargain
from api.domain.errors import (
    BargainAlreadyCut,
    BargainClosed,
    BargainNotFound,
    ConcurrentUpdate,
    ProductNotFound,
)
from api.domain.orders import Order
from api.service_layer import account_review
from api.service_layer.orders import PlaceOrder, add_order
from api.service_layer.unit_of_work import UnitOfWork

RETRIES_ON_CONFLICT = 3


def create_deal(
    uow: UnitOfWork,
    *,
    sku_id: str,
    floor_price_fen: int,
    expected_cuts: int,
    window_s: int,
    valid_until: datetime,
    now: datetime,
) -> dict[str, Any]:
    with uow:
        sku = uow.inventory.sku(sku_id)
        if sku is None:
            raise ProductNotFound(f"no such SKU {sku_id}")
        if not 0 < floor_price_fen < int(sku["price_fen"]):
            raise BargainClosed("the floor price must be above zero and below the SKU's price")
        deal = {
            "deal_id": "bd" + secrets.token_hex(8),
            "sku_id": sku_id,
            "floor_price_fen": floor_price_fen,
            "expected_cuts": expected_cuts,
            "window_s": window_s,
            "valid_until": valid_until,
            "created_at": now,
        }
        uow.session.execute(insert(t.bargain_deals).values(**deal))
        uow.commit()
    return {**deal, "price_fen": int(sku["price_fen"]), "title": sku["title"]}


def list_deals(uow: UnitOfWork, *, now: datetime) -> list[dict[str, Any]]:
    d, s = t.bargain_deals.c, t.skus.c
    with uow:
        return [
            dict(row)
            for row in uow.session.execute(
                select(t.bargain_deals, s.price_fen, t.products.c.title)
                .join(t.skus, s.sku_id == d.sku_id)
                .join(t.products, t.products.c.product_id == s.product_id)
                .where(d.valid_until > now)
                .order_by(d.valid_until)
            ).mappings()
        ]


def _load(uow: UnitOfWork, bargain_id: str) -> Bargain | None:
    row = (
        uow.session.execute(select(t.bargains).where(t.bargains.c.bargain_id == bargain_id))
        .mappings()
        .first()
    )
    if row is None:
        return None
    fields = {k: row[k] for k in Bargain.__dataclass_fields__ if k != "events"}
    return Bargain(**fields)


def _save(uow: UnitOfWork, bargain: Bargain) -> None:
    changed = uow.session.execute(
        update(t.bargains)
        .where(t.bargains.c.bargain_id == bargain.bargain_id, t.bargains.c.version == bargain.version)
        .values(
            price_fen=bargain.price_fen,
            cut_count=bargain.cut_count,
            order_id=bargain.order_id,
            version=bargain.version + 1,
        )
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentUpdate("the bargain changed while it was being cut")
    bargain.version += 1
    for event in bargain.events:
        uow.record(event)
    bargain.events.clear()


def start(uow: UnitOfWork, *, user_id: str, deal_id: str, device_id: str, now: datetime) -> Bargain:
    """Start a bargain on the deal's product; starting again while one is open returns that one."""
    with uow:
        account_review.ensure_not_frozen(uow, user_id)
        deal = uow.session.execute(
            select(t.bargain_deals).where(t.bargain_deals.c.deal_id == deal_id)
        ).first()
        if deal is None or deal.valid_until <= now:
            raise BargainNotFound("no such bargain deal")
        mine = uow.session.execute(
            select(t.bargains.c.bargain_id).where(
                t.bargains.c.user_id == user_id,
                t.bargains.c.deal_id == deal_id,
                t.bargains.c.order_id.is_(None),
                t.bargains.c.expires_at > now,
            )
        ).scalar_one_or_none()
        if mine is not None:
            found = _load(uow, mine)
            assert found is not None
            return found
        sku = uow.inventory.sku(deal.sku_id)
        if sku is None or not sku["is_listed"]:
            raise ProductNotFound("the product is no longer sold")
        bargain = Bargain(
            bargain_id="bg" + secrets.token_hex(10),
            deal_id=deal_id,
            user_id=user_id,
            sku_id=deal.sku_id,
            device_id=device_id,
            seed=secrets.token_hex(16),
            start_price_fen=int(sku["price_fen"]),
            floor_price_fen=int(deal.floor_price_fen),
            price_fen=int(sku["price_fen"]),
            expected_cuts=int(deal.expected_cuts),
            expires_at=min(now + timedelta(seconds=deal.window_s), deal.valid_until),
        )
        row = {k: v for k, v in asdict(bargain).items() if k != "events"}
        uow.session.execute(insert(t.bargains).values(**row, created_at=now))
        uow.record(
            events.BargainStarted(
                key=bargain.bargain_id,
                occurred_at=now,
                bargain_id=bargain.bargain_id,
                deal_id=deal_id,
                user_id=user_id,
                sku_id=bargain.sku_id,
                start_price_fen=bargain.start_price_fen,
                floor_price_fen=bargain.floor_price_fen,
            )
        )
        uow.commit()
    return bargain


def share_page(uow: UnitOfWork, *, bargain_id: str, now: datetime) -> dict[str, Any]:
    """What a friend who opens the link sees: the price and the cuts, never who made them."""
    with uow:
        bargain = _load(uow, bargain_id)
        if bargain is None:
            raise BargainNotFound("no such bargain")
        cuts = [
            {"cut_no": row.cut_no, "amount_fen": int(row.amount_fen), "cut_at": row.cut_at}
            for row in uow.session.execute(
                select(t.bargain_cuts)
                .where(t.bargain_cuts.c.bargain_id == bargain_id)
                .order_by(t.bargain_cuts.c.cut_no)
            )
        ]
    return {
        "bargain_id": bargain.bargain_id,
        "deal_id": bargain.deal_id,
        "sku_id": bargain.sku_id,
        "start_price_fen": bargain.start_price_fen,
        "floor_price_fen": bargain.floor_price_fen,
        "price_fen": bargain.price_fen,
        "status": str(bargain.status(now)),
        "expires_at": bargain.expires_at,
        "cuts": cuts,
    }


def cut(
    uow: UnitOfWork,
    *,
    bargain_id: str,
    helper_user_id: str,
    helper_openid: str,
    device_id: str,
    now: datetime,
) -> int:
    """One friend's cut; the same account, device, openid or unionid cuts a bargain once."""
    for attempt in range(RETRIES_ON_CONFLICT):
        try:
            return _cut_once(
                uow,
                bargain_id=bargain_id,
                helper_user_id=helper_user_id,
                helper_openid=helper_openid,
                device_id=device_id,
                now=now,
            )
        except IntegrityError as error:
            # The unique constraints caught a second cut by the same person racing the first.
            raise BargainAlreadyCut("you already helped with this bargain") from error
        except ConcurrentUpdate:
            if attempt == RETRIES_ON_CONFLICT - 1:
                raise
    raise ConcurrentUpdate("the bargain is busy; try again")


def _cut_once(
    uow: UnitOfWork,
    *,
    bargain_id: str,
    helper_user_id: str,
    helper_openid: str,
    device_id: str,
    now: datetime,
) -> int:
    with uow:
        account_review.ensure_not_frozen(uow, helper_user_id)
        bargain = _load(uow, bargain_id)
        if bargain is None:
            raise BargainNotFound("no such bargain")
        unionid = uow.session.execute(
            select(t.users.c.unionid).where(t.users.c.user_id == helper_user_id)
        ).scalar_one_or_none()
        c = t.bargain_cuts.c
        same_person = (
            (c.helper_user_id == helper_user_id)
            | (c.device_id == device_id)
            | (c.helper_openid == helper_openid)
        )
        if unionid:
            # Helpers' unionids as they are now: WeChat may reveal a unionid after the earlier cut.
            same_unionid = select(t.users.c.user_id).where(t.users.c.unionid == unionid)
            same_person = same_person | (c.helper_unionid == unionid) | c.helper_user_id.in_(same_unionid)
        if uow.session.execute(select(c.cut_no).where(c.bargain_id == bargain_id, same_person)).first():
            raise BargainAlreadyCut("you already helped with this bargain")
        amount = bargain.cut(helper_user_id=helper_user_id, helper_device_id=device_id, now=now)
        # The version check first: a friend racing another friend for the same cut number waits here and
        # retries (ConcurrentUpdate), so an IntegrityError below can only be the same person cutting twice.
        _save(uow, bargain)
        uow.session.execute(
            insert(t.bargain_cuts).values(
                bargain_id=bargain_id,
                cut_no=bargain.cut_count,
                helper_user_id=helper_user_id,
                helper_openid=helper_openid,
                helper_unionid=unionid,
                device_id=device_id,
                amount_fen=amount,
                cut_at=now,
            )
        )
        uow.commit()
    return amount


def order(
    uow: UnitOfWork,
    *,
    bargain_id: str,
    user_id: str,
    idempotency_key: str,
    address_id: str | None,
    now: datetime,
    payment_window: timedelta,
    low_stock_threshold: int,
) -> Order:
    """The starter buys one unit at the bargained price, once, before the deadline."""
    with uow:
        existing = uow.orders.by_idempotency_key(user_id, idempotency_key)
        if existing:
            return existing
        bargain = _load(uow, bargain_id)
        if bargain is None or bargain.user_id != user_id:
            raise BargainNotFound("no such bargain")
        placed = add_order(
            uow,
            PlaceOrder(
                user_id=user_id,
                idempotency_key=idempotency_key,
                items=[(bargain.sku_id, 1)],
                coupon="none",
                address_id=address_id,
                unit_price_fen=bargain.price_fen,
            ),
            now=now,
            payment_window=payment_window,
            low_stock_threshold=low_stock_threshold,
        )
        bargain.ordered(order_id=placed.order_id, now=now)
        _save(uow, bargain)
        uow.commit()
    return placed
