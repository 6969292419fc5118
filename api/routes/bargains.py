"""砍价 bargains: deals, start, the share page, a friend's cut, buy at the bargained price."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, status

from api.deps import ContainerDep, CurrentShopper, Marketer
from api.schemas import (
    BargainCreate,
    BargainDealCreate,
    BargainDealPublic,
    BargainOrderCreate,
    BargainPublic,
    CutPublic,
    OrderPublic,
)
from api.service_layer import bargains

router = APIRouter(prefix="/v1", tags=["bargains"])
admin_router = APIRouter(prefix="/admin/v1", tags=["back office"])
# The mini-program's own random id, kept in wx storage: one phone cuts a bargain once, whatever the account.
DeviceId = Annotated[
    str, Header(alias="X-Device-Id", min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]


@router.get("/bargain-deals")
def list_deals(_: CurrentShopper, container: ContainerDep) -> list[BargainDealPublic]:
    return [
        BargainDealPublic.model_validate(d) for d in bargains.list_deals(container.uow(), now=container.now())
    ]


@router.post("/bargains", status_code=status.HTTP_201_CREATED)
def start_bargain(
    body: BargainCreate, shopper: CurrentShopper, device_id: DeviceId, container: ContainerDep
) -> BargainPublic:
    bargain = bargains.start(
        container.uow(),
        user_id=shopper.user_id,
        deal_id=body.deal_id,
        device_id=device_id,
        now=container.now(),
    )
    return BargainPublic.model_validate(
        bargains.share_page(container.uow(), bargain_id=bargain.bargain_id, now=container.now())
    )


@router.get("/bargains/{bargain_id}")
def share_page(bargain_id: str, _: CurrentShopper, container: ContainerDep) -> BargainPublic:
    """The shared link's page: price and cuts, without the friends' identities."""
    return BargainPublic.model_validate(
        bargains.share_page(container.uow(), bargain_id=bargain_id, now=container.now())
    )


@router.post("/bargains/{bargain_id}/cut", status_code=status.HTTP_201_CREATED)
def cut(bargain_id: str, shopper: CurrentShopper, device_id: DeviceId, container: ContainerDep) -> CutPublic:
    amount = bargains.cut(
        container.uow(),
        bargain_id=bargain_id,
        helper_user_id=shopper.user_id,
        helper_openid=shopper.openid,
        device_id=device_id,
        now=container.now(),
    )
    page = bargains.share_page(container.uow(), bargain_id=bargain_id, now=container.now())
    return CutPublic(amount_fen=amount, bargain=BargainPublic.model_validate(page))


@router.post("/bargains/{bargain_id}/order", status_code=status.HTTP_201_CREATED)
def order(
    bargain_id: str,
    body: BargainOrderCreate,
    shopper: CurrentShopper,
    container: ContainerDep,
    idempotency_key: Annotated[str, Header(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")],
) -> OrderPublic:
    container.order_limiter.hit(f"order:{shopper.user_id}")
    placed = bargains.order(
        container.uow(),
        bargain_id=bargain_id,
        user_id=shopper.user_id,
        idempotency_key=idempotency_key,
        address_id=body.address_id,
        now=container.now(),
        payment_window=timedelta(seconds=container.settings.payment_window_s),
        low_stock_threshold=container.settings.low_stock_threshold,
    )
    return OrderPublic.of(placed)


@admin_router.post("/bargain-deals", status_code=status.HTTP_201_CREATED)
def create_deal(body: BargainDealCreate, _: Marketer, container: ContainerDep) -> BargainDealPublic:
    deal = bargains.create_deal(container.uow(), **body.model_dump(), now=container.now())
    return BargainDealPublic.model_validate(deal)
