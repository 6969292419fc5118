"""Group buys (拼团): deals for shoppers, start, join through a share, the share page; deals in the back office."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, status

from api.deps import ContainerDep, CurrentShopper, Marketer, Operator
from api.domain.errors import InvalidTransition
from api.schemas import (
    CountPublic,
    GroupBuyCreate,
    GroupBuyDealCreate,
    GroupBuyDealPublic,
    GroupBuyJoinCreate,
    GroupBuyPublic,
    GroupBuySeatPublic,
    OrderPublic,
)
from api.service_layer import group_buys

router = APIRouter(prefix="/v1", tags=["group buys"])
admin_router = APIRouter(prefix="/admin/v1", tags=["back office"])
IdempotencyKey = Annotated[str, Header(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def _checkout(container: ContainerDep) -> group_buys.Checkout:
    return group_buys.Checkout(
        now=container.now(),
        payment_window=timedelta(seconds=container.settings.payment_window_s),
        low_stock_threshold=container.settings.low_stock_threshold,
    )


@router.get("/group-buy-deals")
def list_deals(_: CurrentShopper, container: ContainerDep) -> list[GroupBuyDealPublic]:
    return [
        GroupBuyDealPublic(**row) for row in group_buys.active_deals(container.uow(), now=container.now())
    ]


@router.post("/group-buys", status_code=status.HTTP_201_CREATED)
def start_group_buy(
    body: GroupBuyCreate, shopper: CurrentShopper, container: ContainerDep, idempotency_key: IdempotencyKey
) -> GroupBuySeatPublic:
    """Open a group as its leader; the answer's order is the leader's seat, paid like any order."""
    container.order_limiter.hit(f"order:{shopper.user_id}")
    group, order = group_buys.start_group_buy(
        container.uow(),
        user_id=shopper.user_id,
        deal_id=body.deal_id,
        idempotency_key=idempotency_key,
        address_id=body.address_id,
        at=_checkout(container),
    )
    return GroupBuySeatPublic(group=GroupBuyPublic.of(group), order=OrderPublic.of(order))


@router.get("/group-buys/{group_id}")
def get_group_buy(group_id: str, _: CurrentShopper, container: ContainerDep) -> GroupBuyPublic:
    """The shared group page."""
    return GroupBuyPublic.of(group_buys.get_group_buy(container.uow(), group_id))


@router.post("/group-buys/{group_id}/join", status_code=status.HTTP_201_CREATED)
def join_group_buy(
    group_id: str,
    body: GroupBuyJoinCreate,
    shopper: CurrentShopper,
    container: ContainerDep,
    idempotency_key: IdempotencyKey,
) -> GroupBuySeatPublic:
    container.order_limiter.hit(f"order:{shopper.user_id}")
    group, order = group_buys.join_group_buy(
        container.uow(),
        user_id=shopper.user_id,
        group_id=group_id,
        idempotency_key=idempotency_key,
        address_id=body.address_id,
        at=_checkout(container),
    )
    return GroupBuySeatPublic(group=GroupBuyPublic.of(group), order=OrderPublic.of(order))


@admin_router.post("/group-buy-deals", status_code=status.HTTP_201_CREATED)
def create_deal(body: GroupBuyDealCreate, _: Marketer, container: ContainerDep) -> GroupBuyDealPublic:
    if body.valid_until <= body.valid_from:
        raise InvalidTransition("valid_until must be after valid_from")
    deal_id = group_buys.create_deal(
        container.uow(),
        sku_id=body.sku_id,
        group_price_fen=body.group_price_fen,
        group_size=body.group_size,
        window=timedelta(seconds=body.window_s),
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        now=container.now(),
    )
    return GroupBuyDealPublic(deal_id=deal_id, **body.model_dump())


@admin_router.post("/group-buys/settle-expired")
def settle_expired(_: Operator, container: ContainerDep) -> CountPublic:
    """Fail expired groups and refund their paid members (also done by the background loop)."""
    return CountPublic(
        count=group_buys.settle_expired_group_buys(
            container.uow(),
            container.pay,
            now=container.now(),
            notify_url=container.settings.refund_notify_url,
        )
    )
