"""Mini-program order endpoints: place, list, read, cancel, pay, query payment, confirm receipt, refund."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query, status

from api.deps import ContainerDep, CurrentShopper
from api.schemas import OrderCreate, OrderPublic, RefundCreate, RefundPublic, RequestPaymentPublic
from api.service_layer import orders

router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.post("", status_code=status.HTTP_201_CREATED)
def place_order(
    body: OrderCreate,
    shopper: CurrentShopper,
    container: ContainerDep,
    idempotency_key: Annotated[str, Header(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")],
) -> OrderPublic:
    """Reserve stock and place an order. Re-sending the same Idempotency-Key returns the same order."""
    container.order_limiter.hit(f"order:{shopper.user_id}")
    order = orders.place_order(
        container.uow(),
        orders.PlaceOrder(
            user_id=shopper.user_id,
            idempotency_key=idempotency_key,
            items=[(item.sku_id, item.quantity) for item in body.items] if body.items is not None else None,
            coupon=body.coupon,
            address_id=body.address_id,
        ),
        now=container.now(),
        payment_window=timedelta(seconds=container.settings.payment_window_s),
        low_stock_threshold=container.settings.low_stock_threshold,
    )
    return OrderPublic.of(order)


@router.get("")
def list_orders(
    shopper: CurrentShopper,
    container: ContainerDep,
    status_filter: Annotated[str | None, Query(alias="status", max_length=20)] = None,
) -> list[OrderPublic]:
    return [
        OrderPublic.of(o)
        for o in orders.list_orders(container.uow(), user_id=shopper.user_id, status=status_filter)
    ]


@router.get("/{order_id}")
def get_order(order_id: str, shopper: CurrentShopper, container: ContainerDep) -> OrderPublic:
    return OrderPublic.of(orders.get_order(container.uow(), user_id=shopper.user_id, order_id=order_id))


@router.post("/{order_id}/cancel")
def cancel_order(order_id: str, shopper: CurrentShopper, container: ContainerDep) -> OrderPublic:
    order = orders.cancel_order(
        container.uow(), container.pay, user_id=shopper.user_id, order_id=order_id, now=container.now()
    )
    return OrderPublic.of(order)


@router.post("/{order_id}/prepay")
def prepay(order_id: str, shopper: CurrentShopper, container: ContainerDep) -> RequestPaymentPublic:
    """WeChat Pay JSAPI prepay; the answer goes straight into wx.requestPayment()."""
    params = orders.prepay(
        container.uow(),
        container.pay,
        user_id=shopper.user_id,
        openid=shopper.openid,
        order_id=order_id,
        notify_url=container.settings.notify_url,
        now=container.now(),
    )
    return RequestPaymentPublic(**params)


@router.post("/{order_id}/sync-payment")
def sync_payment(order_id: str, shopper: CurrentShopper, container: ContainerDep) -> OrderPublic:
    """Ask WeChat Pay for the payment state, for when requestPayment said ok but no notification came."""
    order = orders.sync_payment(
        container.uow(), container.pay, user_id=shopper.user_id, order_id=order_id, now=container.now()
    )
    return OrderPublic.of(order)


@router.post("/{order_id}/confirm-receipt")
def confirm_receipt(order_id: str, shopper: CurrentShopper, container: ContainerDep) -> OrderPublic:
    order = orders.confirm_receipt(
        container.uow(), user_id=shopper.user_id, order_id=order_id, now=container.now()
    )
    return OrderPublic.of(order)


@router.post("/{order_id}/refund", status_code=status.HTTP_201_CREATED)
def request_refund(
    order_id: str, body: RefundCreate, shopper: CurrentShopper, container: ContainerDep
) -> RefundPublic:
    refund_id = orders.request_refund(
        container.uow(), user_id=shopper.user_id, order_id=order_id, reason=body.reason, now=container.now()
    )
    order = orders.get_order(container.uow(), user_id=shopper.user_id, order_id=order_id)
    return RefundPublic(
        refund_id=refund_id,
        order_id=order_id,
        amount_fen=order.total_fen - order.refunded_fen,
        reason=body.reason,
        status="requested",
    )
