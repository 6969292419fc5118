"""Group buys (拼团): deals (back office), start, join through a share, settle expired groups with refunds."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, select

from api.adapters import tables as t
from api.domain.errors import (
    DomainError,
    GroupBuyClosed,
    GroupBuyNotFound,
    InvalidTransition,
    ProductNotFound,
)
from api.domain.group_buys import GroupBuy, GroupBuyStatus
from api.domain.orders import Order, OrderStatus
from api.service_layer import orders
from api.service_layer.unit_of_work import UnitOfWork
from api.wechat.pay import WeChatPayClient, WeChatPayError

log = logging.getLogger(__name__)
FAILED_GROUP_REFUND_REASON = "拼团未成团"


@dataclass(frozen=True)
class Checkout:
    """What placing a group-buy seat needs from the order core's settings."""

    now: datetime
    payment_window: timedelta
    low_stock_threshold: int


def create_deal(
    uow: UnitOfWork,
    *,
    sku_id: str,
    group_price_fen: int,
    group_size: int,
    window: timedelta,
    valid_from: datetime,
    valid_until: datetime,
    now: datetime,
) -> str:
    deal_id = "gd" + secrets.token_hex(8)
    with uow:
        if uow.inventory.sku(sku_id) is None:
            raise ProductNotFound(f"no such SKU {sku_id}")
        uow.session.execute(
            insert(t.group_buy_deals).values(
                deal_id=deal_id,
                sku_id=sku_id,
                group_price_fen=group_price_fen,
                group_size=group_size,
                window_s=int(window.total_seconds()),
                valid_from=valid_from,
                valid_until=valid_until,
                created_at=now,
            )
        )
        uow.commit()
    return deal_id


def active_deals(uow: UnitOfWork, *, now: datetime) -> list[dict[str, Any]]:
    c = t.group_buy_deals.c
    with uow:
        return [
            dict(row)
            for row in uow.session.execute(
                select(t.group_buy_deals)
                .where(and_(c.valid_from <= now, c.valid_until > now))
                .order_by(c.valid_until)
            ).mappings()
        ]


def _deal(uow: UnitOfWork, deal_id: str, now: datetime) -> dict[str, Any]:
    row = (
        uow.session.execute(select(t.group_buy_deals).where(t.group_buy_deals.c.deal_id == deal_id))
        .mappings()
        .first()
    )
    if row is None:
        raise GroupBuyNotFound("no such group-buy deal")
    if not row["valid_from"] <= now < row["valid_until"]:
        raise GroupBuyClosed("this group-buy deal is not running")
    return dict(row)


def _replayed(uow: UnitOfWork, user_id: str, idempotency_key: str) -> tuple[GroupBuy, Order] | None:
    existing = uow.orders.by_idempotency_key(user_id, idempotency_key)
    if existing is None:
        return None
    if existing.group_buy_id is None:
        raise InvalidTransition("this Idempotency-Key was already used for another order")
    group = uow.group_buys.get(existing.group_buy_id)
    assert group is not None
    return group, existing


def _take_seat(
    uow: UnitOfWork,
    group: GroupBuy,
    *,
    user_id: str,
    idempotency_key: str,
    address_id: str | None,
    at: Checkout,
) -> Order:
    order = orders.add_order(
        uow,
        orders.PlaceOrder(
            user_id=user_id,
            idempotency_key=idempotency_key,
            items=[(group.sku_id, 1)],
            coupon="none",
            address_id=address_id,
            group_buy_id=group.group_id,
            unit_price_fen=group.group_price_fen,
            pay_before=group.expires_at,
        ),
        now=at.now,
        payment_window=at.payment_window,
        low_stock_threshold=at.low_stock_threshold,
    )
    group.join(user_id=user_id, order_id=order.order_id, now=at.now)
    return order


def start_group_buy(
    uow: UnitOfWork, *, user_id: str, deal_id: str, idempotency_key: str, address_id: str | None, at: Checkout
) -> tuple[GroupBuy, Order]:
    """Open a group as its leader: the leader's seat is an order at the group price."""
    with uow:
        replayed = _replayed(uow, user_id, idempotency_key)
        if replayed:
            return replayed
        deal = _deal(uow, deal_id, at.now)
        group = GroupBuy(
            group_id="gb" + secrets.token_hex(8),
            deal_id=deal_id,
            sku_id=deal["sku_id"],
            leader_id=user_id,
            group_size=deal["group_size"],
            group_price_fen=deal["group_price_fen"],
            created_at=at.now,
            expires_at=min(at.now + timedelta(seconds=deal["window_s"]), deal["valid_until"]),
        )
        uow.group_buys.add(group)
        order = _take_seat(
            uow, group, user_id=user_id, idempotency_key=idempotency_key, address_id=address_id, at=at
        )
        uow.group_buys.save(group)
        uow.commit()
    return group, order


def join_group_buy(
    uow: UnitOfWork,
    *,
    user_id: str,
    group_id: str,
    idempotency_key: str,
    address_id: str | None,
    at: Checkout,
) -> tuple[GroupBuy, Order]:
    """Join a friend's group through the share; one seat per shopper, never more seats than the group size."""
    with uow:
        replayed = _replayed(uow, user_id, idempotency_key)
        if replayed:
            return replayed
        group = uow.group_buys.get(group_id)
        if group is None:
            raise GroupBuyNotFound("no such group buy")
        order = _take_seat(
            uow, group, user_id=user_id, idempotency_key=idempotency_key, address_id=address_id, at=at
        )
        uow.group_buys.save(group)
        uow.commit()
    return group, order


def get_group_buy(uow: UnitOfWork, group_id: str) -> GroupBuy:
    with uow:
        group = uow.group_buys.get(group_id)
    if group is None:
        raise GroupBuyNotFound("no such group buy")
    return group


def settle_expired_group_buys(
    uow: UnitOfWork, pay: WeChatPayClient, *, now: datetime, notify_url: str
) -> int:
    """Fail groups whose window is over; close their unpaid seats and refund every paid member.

    Idempotent: a failed group's paid orders are refunded once (their state moves to refunding), and a late
    payment for a failed group is refunded on the next run.
    """
    with uow:
        expired = uow.group_buys.expired_open_ids(now)
    for group_id in expired:
        with uow:
            group = uow.group_buys.get(group_id)
            if group is not None and group.expire(now=now):
                uow.group_buys.save(group)
                uow.commit()
    with uow:
        seats = list(
            uow.session.execute(
                select(t.orders.c.order_id, t.orders.c.user_id, t.orders.c.status)
                .join(t.group_buys, t.group_buys.c.group_id == t.orders.c.group_buy_id)
                .where(
                    and_(
                        t.group_buys.c.status == GroupBuyStatus.FAILED,
                        t.orders.c.status.in_([OrderStatus.PENDING_PAYMENT, OrderStatus.PAID]),
                    )
                )
                .limit(200)
            ).mappings()
        )
    for seat in seats:
        try:
            if seat["status"] == OrderStatus.PENDING_PAYMENT:
                orders.close_unpaid_order(uow, pay, order_id=seat["order_id"], now=now)
            else:
                refund_id = orders.request_refund(
                    uow,
                    user_id=seat["user_id"],
                    order_id=seat["order_id"],
                    reason=FAILED_GROUP_REFUND_REASON,
                    now=now,
                )
                orders.approve_refund(uow, pay, refund_id=refund_id, notify_url=notify_url, now=now)
        except (DomainError, WeChatPayError) as error:
            log.warning("group-buy seat %s not settled: %s", seat["order_id"], error)
    return len(expired)
