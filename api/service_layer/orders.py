"""Checkout, the order lifecycle, WeChat Pay (prepay, notifications, active query, close) and refunds."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import bindparam, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from api.adapters import tables as t
from api.adapters.db import insert_or_merge
from api.domain import events
from api.domain.coupons import CouponStatus, best_coupon, discount_with
from api.domain.errors import (
    AccountFrozen,
    AddressNotFound,
    ConcurrentUpdate,
    CouponNotUsable,
    DomainError,
    EmptyOrder,
    GroupBuyIncomplete,
    InvalidTransition,
    OrderNotFound,
    PaymentMerchantMismatch,
    ProductNotFound,
    RefundNotAllowed,
)
from api.domain.group_buys import GroupBuyStatus
from api.domain.inventory import is_low_stock
from api.domain.membership import MemberDay, member_discount_fen
from api.domain.notifications import NotificationKind
from api.domain.orders import Order, OrderLine, OrderStatus
from api.service_layer import account_review, carts, membership, notifications
from api.service_layer.addresses import shipping_region
from api.service_layer.unit_of_work import UnitOfWork
from api.wechat.pay import WeChatPayClient, WeChatPayError

log = logging.getLogger(__name__)

CouponChoice = Literal["auto", "none"] | str
RETRIES_ON_CONFLICT = 3


@dataclass(frozen=True)
class PlaceOrder:
    user_id: str
    idempotency_key: str
    items: list[tuple[str, int]] | None  # None = check out the whole cart
    coupon: CouponChoice = "auto"
    address_id: str | None = None
    # Set only by the group-buy use cases, never from a request body: the seat's price and deadline.
    group_buy_id: str | None = None
    unit_price_fen: int | None = None
    pay_before: datetime | None = None


def new_order_id(now: datetime) -> str:
    # out_trade_no: 6–32 of [0-9A-Za-z_-|*]; time-prefixed so that it sorts, random so that it is unguessable.
    return "SL" + now.strftime("%Y%m%d%H%M%S") + secrets.token_hex(8)


@dataclass(frozen=True)
class ShopperStanding:
    """What checkout reads about the shopper, in one round trip."""

    is_frozen: bool
    spend_fen: int
    member_day: MemberDay | None
    order_id_for_key: str | None  # the order this idempotency key already placed
    has_available_coupons: bool  # when False, the automatic coupon choice has nothing to look at


def _scalar(column: Any, *conditions: Any) -> Any:
    return select(column).where(*conditions).scalar_subquery()


_user: Any = bindparam("user_id")
SHOPPER_STANDING = select(
    _scalar(t.account_freezes.c.is_frozen, t.account_freezes.c.user_id == _user).label("is_frozen"),
    _scalar(t.member_accounts.c.spend_fen, t.member_accounts.c.user_id == _user).label("spend_fen"),
    *(
        _scalar(column, t.member_day.c.config_id == membership.MEMBER_DAY_ID).label(column.name)
        for column in (
            t.member_day.c.day_of_month,
            t.member_day.c.extra_discount_percent,
            t.member_day.c.points_multiplier,
            t.member_day.c.is_active,
        )
    ),
    _scalar(
        t.orders.c.order_id,
        t.orders.c.user_id == _user,
        t.orders.c.idempotency_key == bindparam("idempotency_key"),
    ).label("order_id_for_key"),
    exists()
    .where(t.coupons.c.user_id == _user, t.coupons.c.status == CouponStatus.AVAILABLE)
    .label("has_available_coupons"),
)


def shopper_standing(uow: UnitOfWork, *, user_id: str, idempotency_key: str) -> ShopperStanding:
    row = uow.session.execute(
        SHOPPER_STANDING, {"user_id": user_id, "idempotency_key": idempotency_key}
    ).one()
    member_day = (
        MemberDay(
            day_of_month=row.day_of_month,
            extra_discount_percent=row.extra_discount_percent,
            points_multiplier=row.points_multiplier,
            is_active=bool(row.is_active),
        )
        if row.day_of_month is not None
        else None
    )
    return ShopperStanding(
        is_frozen=bool(row.is_frozen),
        spend_fen=int(row.spend_fen or 0),
        member_day=member_day,
        order_id_for_key=row.order_id_for_key,
        has_available_coupons=bool(row.has_available_coupons),
    )


def place_order(
    uow: UnitOfWork,
    command: PlaceOrder,
    *,
    now: datetime,
    payment_window: timedelta,
    low_stock_threshold: int,
) -> Order:
    """Reserve stock and place the order in one transaction; the same idempotency key returns the same order."""
    with uow:
        standing = shopper_standing(uow, user_id=command.user_id, idempotency_key=command.idempotency_key)
        if standing.order_id_for_key:
            existing = uow.orders.get(standing.order_id_for_key)
            assert existing is not None
            return existing
        order = add_order(
            uow,
            command,
            now=now,
            payment_window=payment_window,
            low_stock_threshold=low_stock_threshold,
            standing=standing,
        )
        try:
            uow.commit()
        except IntegrityError:
            # Another request with the same idempotency key won the race: answer with its order.
            uow.rollback()
            winner = uow.orders.by_idempotency_key(command.user_id, command.idempotency_key)
            if winner is None:
                raise
            return winner
    return order


def add_order(
    uow: UnitOfWork,
    command: PlaceOrder,
    *,
    now: datetime,
    payment_window: timedelta,
    low_stock_threshold: int,
    standing: ShopperStanding | None = None,
) -> Order:
    """Reserve the stock, use the coupon and add the order inside the caller's unit of work (not committed)."""
    if standing is None:
        standing = shopper_standing(uow, user_id=command.user_id, idempotency_key=command.idempotency_key)
    if standing.is_frozen:
        raise AccountFrozen(account_review.FROZEN_MESSAGE)
    region = None
    if command.address_id:
        region = shipping_region(uow, user_id=command.user_id, address_id=command.address_id)
        if region is None:
            raise AddressNotFound("no such address")
    items = command.items if command.items is not None else carts.cart_lines(uow, command.user_id)
    if not items:
        raise EmptyOrder("nothing to order")
    merged: dict[str, int] = {}
    for sku_id, quantity in items:
        merged[sku_id] = merged.get(sku_id, 0) + quantity
    skus = uow.inventory.skus(list(merged))
    lines: list[OrderLine] = []
    for sku_id, quantity in sorted(merged.items()):  # a fixed lock order avoids deadlocks between buyers
        sku = skus.get(sku_id)
        if sku is None or not sku["is_listed"]:
            raise ProductNotFound(f"no such SKU {sku_id}")
        if quantity <= 0:
            raise EmptyOrder("quantities must be positive")
        left = uow.inventory.reserve(sku_id, quantity)
        if is_low_stock(stock_before=left + quantity, stock_after=left, threshold=low_stock_threshold):
            uow.record(
                events.StockLow(
                    key=sku_id, occurred_at=now, sku_id=sku_id, stock=left, threshold=low_stock_threshold
                )
            )
        title = " ".join(part for part in (sku["title"], sku["colour"], sku["size"]) if part)
        lines.append(
            OrderLine(
                sku_id=sku_id,
                product_id=sku["product_id"],
                title=title[:128],
                unit_price_fen=command.unit_price_fen or int(sku["price_fen"]),
                quantity=quantity,
            )
        )
    order_id = new_order_id(now)
    subtotal = sum(line.amount_fen for line in lines)
    coupon_id, discount = _choose_coupon(
        uow, command, subtotal_fen=subtotal, now=now, has_available=standing.has_available_coupons
    )
    if coupon_id and not uow.coupons.mark_used(coupon_id, user_id=command.user_id, order_id=order_id):
        raise CouponNotUsable("this coupon was just used")
    # Special prices (group buys, bargains) are final; everything else gets the member level's discount.
    member_discount = (
        member_discount_fen(
            subtotal - discount, spend_fen=standing.spend_fen, member_day=standing.member_day, now=now
        )
        if command.unit_price_fen is None
        else 0
    )
    order = Order.place(
        order_id=order_id,
        user_id=command.user_id,
        lines=lines,
        now=now,
        payment_window=payment_window,
        discount_fen=discount,
        coupon_id=coupon_id,
        idempotency_key=command.idempotency_key,
        address_id=command.address_id,
        group_buy_id=command.group_buy_id,
        pay_before=command.pay_before,
        member_discount_fen=member_discount,
        shipping_region=region,
    )
    uow.orders.add(order)
    if coupon_id:
        uow.record(
            events.CouponRedeemed(
                key=command.user_id,
                occurred_at=now,
                coupon_id=coupon_id,
                user_id=command.user_id,
                order_id=order_id,
                discount_fen=order.discount_fen,
            )
        )
    if command.items is None:
        carts.remove_from_cart(uow, command.user_id, list(merged))
    return order


def _choose_coupon(
    uow: UnitOfWork, command: PlaceOrder, *, subtotal_fen: int, now: datetime, has_available: bool
) -> tuple[str | None, int]:
    if command.coupon == "none" or (command.coupon == "auto" and not has_available):
        return None, 0
    if command.coupon == "auto":
        coupon, discount = best_coupon(
            uow.coupons.for_user(command.user_id, status=CouponStatus.AVAILABLE),
            user_id=command.user_id,
            subtotal_fen=subtotal_fen,
            now=now,
        )
        return (coupon.coupon_id, discount) if coupon else (None, 0)
    named = uow.coupons.get(command.coupon)
    if named is None:
        raise CouponNotUsable("this coupon cannot be used")
    return named.coupon_id, discount_with(named, user_id=command.user_id, subtotal_fen=subtotal_fen, now=now)


def get_order(uow: UnitOfWork, *, user_id: str, order_id: str) -> Order:
    with uow:
        order = uow.orders.get_for_user(order_id, user_id)
    if order is None:
        raise OrderNotFound("no such order")
    return order


def list_orders(uow: UnitOfWork, *, user_id: str, status: str | None = None) -> list[Order]:
    with uow:
        return uow.orders.list_for_user(user_id, status=status)


def _release(uow: UnitOfWork, order: Order) -> None:
    """Put the reserved stock back and return the coupon; called while the order still holds them."""
    for line in order.lines:
        uow.inventory.release(line.sku_id, line.quantity)
    if order.coupon_id:
        uow.coupons.give_back(order.coupon_id, order_id=order.order_id)


# -- payment --------------------------------------------------------------------------------------------
def prepay(
    uow: UnitOfWork,
    pay: WeChatPayClient,
    *,
    user_id: str,
    openid: str,
    order_id: str,
    notify_url: str,
    now: datetime,
) -> dict[str, str]:
    """JSAPI prepay for the shopper's own unpaid order; returns the wx.requestPayment parameters."""
    order = get_order(uow, user_id=user_id, order_id=order_id)
    if not order.is_payable(now):
        raise InvalidTransition(f"an order that is {order.status} cannot be paid")
    # No database transaction is held open across the call to WeChat.
    prepay_id = pay.prepay(
        out_trade_no=order.order_id,
        description=order.lines[0].title
        if len(order.lines) == 1
        else f"{order.lines[0].title} 等{len(order.lines)}件",
        total_fen=order.total_fen,
        payer_openid=openid,
        notify_url=notify_url,
        time_expire=order.expires_at,
    )
    with uow:
        uow.session.execute(
            update(t.orders).where(t.orders.c.order_id == order.order_id).values(prepay_id=prepay_id)
        )
        uow.commit()
    return pay.request_payment_params(prepay_id)


def confirm_payment(
    uow: UnitOfWork,
    transaction: dict[str, Any],
    *,
    mchid: str,
    appid: str,
    now: datetime,
    notification_id: str | None = None,
) -> Order | None:
    """Apply a transaction WeChat reports as paid. Idempotent; anything that does not match changes nothing."""
    if transaction.get("mchid") != mchid or transaction.get("appid") != appid:
        raise PaymentMerchantMismatch("the payment is for another merchant or app")
    if transaction.get("trade_state") != "SUCCESS":
        return None
    order_id = str(transaction.get("out_trade_no", ""))
    amount = int((transaction.get("amount") or {}).get("total", -1))
    for attempt in range(RETRIES_ON_CONFLICT):
        try:
            return _apply_payment(
                uow, transaction, order_id, amount, now=now, notification_id=notification_id
            )
        except (IntegrityError, ConcurrentUpdate):
            # A duplicate notification raced us; the next attempt sees its result and changes nothing.
            if attempt == RETRIES_ON_CONFLICT - 1:
                raise
    return None


def _is_recorded(uow: UnitOfWork, notification_id: str | None) -> bool:
    if not notification_id:
        return False
    found = uow.session.execute(
        select(t.payment_notifications.c.notification_id).where(
            t.payment_notifications.c.notification_id == notification_id
        )
    ).first()
    return found is not None


def _record_notification(
    uow: UnitOfWork, notification_id: str | None, *, event_type: str, order_id: str, now: datetime
) -> bool:
    """Record WeChat's notification id; False when it was recorded before (a replay: change nothing).

    A concurrent copy of the same notification waits here for the first one's transaction, then sees it."""
    if not notification_id:
        return True
    recorded = uow.session.execute(
        insert_or_merge(uow.session, t.payment_notifications)
        .values(
            notification_id=notification_id, event_type=event_type, out_trade_no=order_id, received_at=now
        )
        .on_conflict_do_nothing(index_elements=["notification_id"])
        .returning(t.payment_notifications.c.notification_id)
    )
    return recorded.first() is not None


def _apply_payment(
    uow: UnitOfWork,
    transaction: dict[str, Any],
    order_id: str,
    amount: int,
    *,
    now: datetime,
    notification_id: str | None,
) -> Order | None:
    with uow:
        # Recorded first, in the same transaction: a refused payment rolls it back with everything else.
        if not _record_notification(
            uow, notification_id, event_type="TRANSACTION.SUCCESS", order_id=order_id, now=now
        ):
            return uow.orders.get(order_id)
        order = uow.orders.get(order_id, for_update=True)
        if order is None:
            raise OrderNotFound("the payment names an order we do not have")
        if order.pay(transaction_id=str(transaction["transaction_id"]), amount_fen=amount, now=now):
            uow.orders.save(order)
            if order.group_buy_id:
                _group_member_paid(uow, order, now=now)
            notifications.enqueue(
                uow, order, NotificationKind.ORDER_PAID, amount_fen=order.total_fen, now=now
            )
            membership.on_order_paid(uow, order, now=now)
            # Last, so that the rows every payment of a best seller shares are held only until the commit, and in
            # product order, so that two payments never wait for each other's rows in opposite orders.
            sold: dict[str, int] = {}
            for line in order.lines:
                sold[line.product_id] = sold.get(line.product_id, 0) + line.quantity
            for product_id, quantity in sorted(sold.items()):
                uow.inventory.add_sales(product_id, quantity)
        uow.commit()
        return order


def _group_member_paid(uow: UnitOfWork, order: Order, *, now: datetime) -> None:
    assert order.group_buy_id is not None
    group = uow.group_buys.get(order.group_buy_id)
    if group is not None:
        group.member_paid(user_id=order.user_id, now=now)
        uow.group_buys.save(group)


def sync_payment(
    uow: UnitOfWork, pay: WeChatPayClient, *, user_id: str | None, order_id: str, now: datetime
) -> Order:
    """Active query: ask WeChat Pay when no notification arrived. `user_id` None = back office."""
    with uow:
        order = uow.orders.get_for_user(order_id, user_id) if user_id else uow.orders.get(order_id)
    if order is None:
        raise OrderNotFound("no such order")
    if order.status != OrderStatus.PENDING_PAYMENT or not order.prepay_id:
        return order
    transaction = pay.query(order.order_id)
    confirmed = confirm_payment(uow, transaction, mchid=pay.mchid, appid=pay.appid, now=now)
    return confirmed or order


def _end_unpaid(uow: UnitOfWork, pay: WeChatPayClient, order_id: str, *, now: datetime, how: str) -> Order:
    """Cancel or close an unpaid order: close it at WeChat first (a payment may just have gone through)."""
    with uow:
        order = uow.orders.get(order_id)
    if order is None:
        raise OrderNotFound("no such order")
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise InvalidTransition(f"cannot {how} an order that is {order.status}")
    if order.prepay_id:
        transaction = pay.query(order.order_id)
        if transaction.get("trade_state") == "SUCCESS":
            paid = confirm_payment(uow, transaction, mchid=pay.mchid, appid=pay.appid, now=now)
            raise InvalidTransition(f"order was paid; it is {paid.status if paid else 'paid'}")
        try:
            pay.close_transaction(order.order_id)
        except WeChatPayError as error:
            if error.code == "ORDERPAID":
                confirm_payment(uow, pay.query(order.order_id), mchid=pay.mchid, appid=pay.appid, now=now)
                raise InvalidTransition("order was paid") from error
            if error.code != "ORDER_NOT_EXIST":
                raise
    with uow:
        order = uow.orders.get(order_id)
        assert order is not None
        if how == "cancel":
            order.cancel(now=now)
        else:
            order.close(now=now)
        _release(uow, order)
        uow.orders.save(order)
        if order.group_buy_id:
            group = uow.group_buys.get(order.group_buy_id)
            if group is not None:
                group.leave(user_id=order.user_id)
                uow.group_buys.save(group)
        uow.commit()
    return order


def cancel_order(
    uow: UnitOfWork, pay: WeChatPayClient, *, user_id: str, order_id: str, now: datetime
) -> Order:
    get_order(uow, user_id=user_id, order_id=order_id)  # ownership first
    return _end_unpaid(uow, pay, order_id, now=now, how="cancel")


def close_unpaid_order(uow: UnitOfWork, pay: WeChatPayClient, *, order_id: str, now: datetime) -> Order:
    """Close an unpaid order now (its group buy failed), including WeChat Pay's close call."""
    return _end_unpaid(uow, pay, order_id, now=now, how="close")


def close_expired_orders(uow: UnitOfWork, pay: WeChatPayClient, *, now: datetime, limit: int = 100) -> int:
    """Close unpaid orders whose payment window is over, including WeChat Pay's close call."""
    with uow:
        order_ids = uow.orders.expired_unpaid_ids(now, limit=limit)
    closed = 0
    for order_id in order_ids:
        try:
            _end_unpaid(uow, pay, order_id, now=now, how="close")
            closed += 1
        except (DomainError, WeChatPayError) as error:
            log.info("order %s not closed: %s", order_id, error)
    return closed


def confirm_receipt(uow: UnitOfWork, *, user_id: str, order_id: str, now: datetime) -> Order:
    with uow:
        order = uow.orders.get_for_user(order_id, user_id)
        if order is None:
            raise OrderNotFound("no such order")
        order.complete(now=now)
        uow.orders.save(order)
        uow.commit()
    return order


def ship_order(uow: UnitOfWork, *, order_id: str, tracking_no: str, now: datetime) -> Order:
    with uow:
        order = uow.orders.get(order_id)
        if order is None:
            raise OrderNotFound("no such order")
        if order.group_buy_id:
            group = uow.group_buys.get(order.group_buy_id)
            if group is None or group.status != GroupBuyStatus.COMPLETED:
                raise GroupBuyIncomplete("a group-buy order ships once its group is complete")
        order.ship(tracking_no=tracking_no, now=now)
        uow.orders.save(order)
        notifications.enqueue(uow, order, NotificationKind.ORDER_SHIPPED, amount_fen=order.total_fen, now=now)
        uow.commit()
    return order


# -- refunds --------------------------------------------------------------------------------------------
def request_refund(uow: UnitOfWork, *, user_id: str, order_id: str, reason: str, now: datetime) -> str:
    with uow:
        order = uow.orders.get_for_user(order_id, user_id)
        if order is None:
            raise OrderNotFound("no such order")
        refund_id = "RF" + now.strftime("%Y%m%d%H%M%S") + secrets.token_hex(8)
        amount = order.request_refund(refund_id=refund_id, reason=reason, now=now)
        uow.orders.save(order)
        uow.session.execute(
            insert(t.refunds).values(
                refund_id=refund_id,
                order_id=order_id,
                user_id=user_id,
                amount_fen=amount,
                reason=reason[:128],
                status="requested",
                created_at=now,
                updated_at=now,
            )
        )
        uow.commit()
    return refund_id


def _refund_row(uow: UnitOfWork, refund_id: str) -> dict[str, Any]:
    row = uow.session.execute(select(t.refunds).where(t.refunds.c.refund_id == refund_id)).mappings().first()
    if row is None:
        raise OrderNotFound("no such refund")
    return dict(row)


def approve_refund(
    uow: UnitOfWork, pay: WeChatPayClient, *, refund_id: str, notify_url: str, now: datetime
) -> str:
    """Back office approves; WeChat Pay refunds and tells us by a REFUND.SUCCESS notification."""
    with uow:
        refund = _refund_row(uow, refund_id)
        order = uow.orders.get(refund["order_id"])
        assert order is not None
    if refund["status"] not in ("requested", "processing"):
        raise RefundNotAllowed(f"the refund is already {refund['status']}")
    result = pay.refund(
        out_trade_no=order.order_id,
        out_refund_no=refund_id,
        reason=refund["reason"],
        refund_fen=refund["amount_fen"],
        total_fen=order.total_fen,
        notify_url=notify_url,
    )
    with uow:
        uow.session.execute(
            update(t.refunds)
            .where(t.refunds.c.refund_id == refund_id)
            .values(status="processing", wechat_refund_id=result.get("refund_id"), updated_at=now)
        )
        uow.commit()
    if result.get("status") == "SUCCESS":
        confirm_refund(uow, result, mchid=pay.mchid, now=now)
    return str(result.get("status", "PROCESSING"))


def reject_refund(uow: UnitOfWork, *, refund_id: str, now: datetime) -> None:
    with uow:
        refund = _refund_row(uow, refund_id)
        if refund["status"] != "requested":
            raise RefundNotAllowed(f"the refund is already {refund['status']}")
        order = uow.orders.get(refund["order_id"])
        assert order is not None
        order.refund_failed()
        uow.orders.save(order)
        uow.session.execute(
            update(t.refunds)
            .where(t.refunds.c.refund_id == refund_id)
            .values(status="rejected", updated_at=now)
        )
        uow.commit()


def confirm_refund(
    uow: UnitOfWork, refund: dict[str, Any], *, mchid: str, now: datetime, notification_id: str | None = None
) -> None:
    """Apply WeChat's refund result (notification or query). Idempotent."""
    if refund.get("mchid", mchid) != mchid:
        raise PaymentMerchantMismatch("the refund is for another merchant")
    status = refund.get("refund_status") or refund.get("status")
    for attempt in range(RETRIES_ON_CONFLICT):
        try:
            _apply_refund(uow, refund, status=str(status), now=now, notification_id=notification_id)
            return
        except (IntegrityError, ConcurrentUpdate):
            if attempt == RETRIES_ON_CONFLICT - 1:
                raise


def _apply_refund(
    uow: UnitOfWork, refund: dict[str, Any], *, status: str, now: datetime, notification_id: str | None
) -> None:
    refund_id = str(refund.get("out_refund_no", ""))
    with uow:
        if _is_recorded(uow, notification_id):
            return
        row = _refund_row(uow, refund_id)
        if row["status"] in ("succeeded", "failed", "rejected"):
            return
        order = uow.orders.get(row["order_id"])
        if order is None or order.order_id != refund.get("out_trade_no"):
            raise OrderNotFound("the refund names an order we do not have")
        if status == "SUCCESS":
            refunded = int((refund.get("amount") or {}).get("refund", row["amount_fen"]))
            restock = order.restocks_on_exit
            order.refund_succeeded(refund_id=refund_id, amount_fen=refunded, now=now)
            notifications.enqueue(uow, order, NotificationKind.ORDER_REFUNDED, amount_fen=refunded, now=now)
            membership.on_order_refunded(uow, order, refund_id=refund_id, refunded_fen=refunded, now=now)
            if restock:
                for line in order.lines:
                    uow.inventory.release(line.sku_id, line.quantity)
            new_status = "succeeded"
        elif status in ("CLOSED", "ABNORMAL"):
            order.refund_failed()
            new_status = "failed"
        else:
            return
        uow.orders.save(order)
        uow.session.execute(
            update(t.refunds)
            .where(t.refunds.c.refund_id == refund_id)
            .values(status=new_status, updated_at=now)
        )
        if not _record_notification(
            uow, notification_id, event_type=f"REFUND.{status}", order_id=order.order_id, now=now
        ):
            raise ConcurrentUpdate("a copy of this refund notification was applied meanwhile")
        uow.commit()


def list_refunds(uow: UnitOfWork, *, status: str | None = None) -> list[dict[str, Any]]:
    with uow:
        statement = select(t.refunds).order_by(t.refunds.c.created_at.desc()).limit(200)
        if status:
            statement = statement.where(t.refunds.c.status == status)
        return [dict(r) for r in uow.session.execute(statement).mappings()]
