"""Back office: staff, products and stock, shipping, refunds, coupons. Every route needs its role."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import Admin, ContainerDep, CurrentStaff, Marketer, Operator, Viewer
from api.domain.coupons import CouponOffer
from api.schemas import (
    AdminOrderPublic,
    CampaignCreate,
    CampaignPublic,
    CountPublic,
    LowStockPublic,
    OrderPublic,
    ProductCreate,
    ProductPublic,
    RefundPublic,
    RewardCouponCreate,
    ShipmentCreate,
    StaffCreate,
    StaffLoginCreate,
    StaffPublic,
    StockUpdate,
    TokenPublic,
)
from api.service_layer import accounts, catalogue, coupons, orders

router = APIRouter(prefix="/admin/v1", tags=["back office"])


@router.post("/login")
def login(body: StaffLoginCreate, container: ContainerDep) -> TokenPublic:
    container.login_limiter.hit(f"staff-login:{body.username}")
    issued = accounts.login_staff(
        container.uow(),
        username=body.username,
        password=body.password,
        now=container.now(),
        ttl=timedelta(hours=12),
    )
    return TokenPublic(token=issued.token, user_id=issued.subject_id, expires_at=issued.expires_at)


@router.get("/me")
def me(member: CurrentStaff) -> StaffPublic:
    return StaffPublic(staff_id=member.staff_id, username=member.username, role=member.role)


@router.post("/staff", status_code=status.HTTP_201_CREATED)
def create_staff(body: StaffCreate, _: Admin, container: ContainerDep) -> StaffPublic:
    member = accounts.create_staff(
        container.uow(),
        username=body.username,
        password=body.password,
        role=accounts.Role(body.role),
        now=container.now(),
    )
    return StaffPublic(staff_id=member.staff_id, username=member.username, role=member.role)


@router.post("/products", status_code=status.HTTP_201_CREATED)
def create_product(body: ProductCreate, _: Operator, container: ContainerDep) -> ProductPublic:
    product_id = catalogue.create_product(
        container.uow(),
        title=body.title,
        category=body.category,
        description=body.description,
        skus=[sku.model_dump() for sku in body.skus],
        now=container.now(),
    )
    return ProductPublic(**catalogue.product_detail(container.uow(), product_id))


@router.put("/skus/{sku_id}/stock")
def set_stock(sku_id: str, body: StockUpdate, _: Operator, container: ContainerDep) -> CountPublic:
    stock = catalogue.set_stock(
        container.uow(),
        sku_id=sku_id,
        stock=body.stock,
        low_stock_threshold=container.settings.low_stock_threshold,
        now=container.now(),
    )
    return CountPublic(count=stock)


@router.get("/skus/low-stock")
def low_stock(_: Viewer, container: ContainerDep) -> list[LowStockPublic]:
    found = catalogue.low_stock(container.uow(), threshold=container.settings.low_stock_threshold)
    return [LowStockPublic(**row) for row in found]


@router.get("/orders")
def list_orders(
    _: Viewer,
    container: ContainerDep,
    status_filter: Annotated[str | None, Query(alias="status", max_length=20)] = None,
) -> list[AdminOrderPublic]:
    with container.uow() as uow:
        found = uow.orders.list_all(status=status_filter)
    return [
        AdminOrderPublic(**OrderPublic.of(o).model_dump(), user_id=o.user_id, address_id=o.address_id)
        for o in found
    ]


@router.post("/orders/{order_id}/ship")
def ship_order(order_id: str, body: ShipmentCreate, _: Operator, container: ContainerDep) -> OrderPublic:
    order = orders.ship_order(
        container.uow(), order_id=order_id, tracking_no=body.tracking_no, now=container.now()
    )
    return OrderPublic.of(order)


@router.post("/orders/{order_id}/sync-payment")
def sync_payment(order_id: str, _: Operator, container: ContainerDep) -> OrderPublic:
    order = orders.sync_payment(
        container.uow(), container.pay, user_id=None, order_id=order_id, now=container.now()
    )
    return OrderPublic.of(order)


@router.post("/orders/close-expired")
def close_expired(_: Operator, container: ContainerDep) -> CountPublic:
    return CountPublic(count=orders.close_expired_orders(container.uow(), container.pay, now=container.now()))


@router.get("/refunds")
def list_refunds(
    _: Viewer,
    container: ContainerDep,
    status_filter: Annotated[str | None, Query(alias="status", max_length=16)] = None,
) -> list[RefundPublic]:
    return [RefundPublic(**row) for row in orders.list_refunds(container.uow(), status=status_filter)]


@router.post("/refunds/{refund_id}/approve")
def approve_refund(refund_id: str, _: Operator, container: ContainerDep) -> RefundPublic:
    orders.approve_refund(
        container.uow(),
        container.pay,
        refund_id=refund_id,
        notify_url=container.settings.refund_notify_url,
        now=container.now(),
    )
    return next(
        RefundPublic(**r) for r in orders.list_refunds(container.uow()) if r["refund_id"] == refund_id
    )


@router.post("/refunds/{refund_id}/reject")
def reject_refund(refund_id: str, _: Operator, container: ContainerDep) -> RefundPublic:
    orders.reject_refund(container.uow(), refund_id=refund_id, now=container.now())
    return next(
        RefundPublic(**r) for r in orders.list_refunds(container.uow()) if r["refund_id"] == refund_id
    )


@router.post("/coupon-campaigns", status_code=status.HTTP_201_CREATED)
def create_campaign(body: CampaignCreate, _: Marketer, container: ContainerDep) -> CampaignPublic:
    campaign_id = coupons.create_campaign(
        container.uow(),
        title=body.title,
        offer=CouponOffer(
            threshold_fen=body.threshold_fen,
            discount_fen=body.discount_fen,
            percent_off=body.percent_off,
            max_discount_fen=body.max_discount_fen,
        ),
        total_quantity=body.total_quantity,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        is_claimable=body.is_claimable,
    )
    return CampaignPublic(
        campaign_id=campaign_id, **body.model_dump(exclude={"total_quantity", "is_claimable"})
    )


@router.post("/reward-coupons", status_code=status.HTTP_201_CREATED)
def grant_reward_coupon(body: RewardCouponCreate, _: Marketer, container: ContainerDep) -> CountPublic:
    """Reward commands (e.g. referral coupons from the streams); the command id makes them idempotent."""
    coupons.grant_reward_coupon(
        container.uow(),
        command_id=body.command_id,
        user_id=body.user_id,
        campaign_id=body.campaign_id,
        now=container.now(),
    )
    return CountPublic(count=1)
