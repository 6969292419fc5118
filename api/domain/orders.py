"""The order aggregate and its state machine.

pending_payment → paid → shipped → completed, with cancel (shopper, unpaid), close (payment window over),
and refund (paid/shipped/completed → refunding → refunded) paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from api.domain import events
from api.domain.errors import (
    EmptyOrder,
    InvalidTransition,
    PaymentAmountMismatch,
    RefundNotAllowed,
)


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    CLOSED = "closed"
    REFUNDING = "refunding"
    REFUNDED = "refunded"


# Which states each transition may start from; anything else is an InvalidTransition.
ALLOWED_FROM: dict[str, frozenset[OrderStatus]] = {
    "pay": frozenset({OrderStatus.PENDING_PAYMENT}),
    "ship": frozenset({OrderStatus.PAID}),
    "complete": frozenset({OrderStatus.SHIPPED}),
    "cancel": frozenset({OrderStatus.PENDING_PAYMENT}),
    "close": frozenset({OrderStatus.PENDING_PAYMENT}),
    "request_refund": frozenset({OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.COMPLETED}),
    "refund": frozenset({OrderStatus.REFUNDING}),
}
# States whose stock goes back on the shelf: the goods never left the warehouse.
RESTOCKED_ON_EXIT = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAID})


@dataclass(frozen=True)
class OrderLine:
    sku_id: str
    product_id: str
    title: str
    unit_price_fen: int
    quantity: int

    @property
    def amount_fen(self) -> int:
        return self.unit_price_fen * self.quantity


@dataclass
class Order:
    order_id: str
    user_id: str
    lines: list[OrderLine]
    created_at: datetime
    expires_at: datetime
    discount_fen: int = 0
    coupon_id: str | None = None
    status: OrderStatus = OrderStatus.PENDING_PAYMENT
    idempotency_key: str | None = None
    address_id: str | None = None
    transaction_id: str | None = None
    prepay_id: str | None = None
    tracking_no: str | None = None
    paid_at: datetime | None = None
    refunded_fen: int = 0
    status_before_refund: OrderStatus | None = None
    group_buy_id: str | None = None
    # The member level's (and member day's) share of discount_fen.
    member_discount_fen: int = 0
    version: int = 0
    events: list[events.Event] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def place(
        cls,
        *,
        order_id: str,
        user_id: str,
        lines: list[OrderLine],
        now: datetime,
        payment_window: timedelta,
        discount_fen: int = 0,
        coupon_id: str | None = None,
        idempotency_key: str | None = None,
        address_id: str | None = None,
        group_buy_id: str | None = None,
        pay_before: datetime | None = None,
        member_discount_fen: int = 0,
        shipping_region: tuple[str, str] | None = None,
    ) -> Order:
        """`shipping_region` is the address's (province, city), plaintext in the event for the regional
        analytics; the recipient, phone and street stay encrypted and out of events."""
        if not lines or any(line.quantity <= 0 for line in lines):
            raise EmptyOrder("an order needs at least one line with a positive quantity")
        subtotal = sum(line.amount_fen for line in lines)
        # WeChat Pay refuses amount 0, so a discount can at most leave one fen to pay.
        member_discount_fen = max(0, min(member_discount_fen, subtotal - 1 - max(0, discount_fen)))
        discount_fen = max(0, min(discount_fen + member_discount_fen, subtotal - 1))
        order = cls(
            order_id=order_id,
            user_id=user_id,
            lines=list(lines),
            created_at=now,
            # A group-buy seat cannot be paid after its group has expired.
            expires_at=min(now + payment_window, pay_before) if pay_before else now + payment_window,
            discount_fen=discount_fen,
            coupon_id=coupon_id,
            idempotency_key=idempotency_key,
            address_id=address_id,
            group_buy_id=group_buy_id,
            member_discount_fen=member_discount_fen,
        )
        order.events.append(
            events.OrderPlaced(
                key=order_id,
                occurred_at=now,
                order_id=order_id,
                user_id=user_id,
                total_fen=order.total_fen,
                discount_fen=discount_fen,
                coupon_id=coupon_id,
                lines=tuple((line.sku_id, line.quantity, line.unit_price_fen) for line in lines),
                shipping_province=shipping_region[0] if shipping_region else None,
                shipping_city=shipping_region[1] if shipping_region else None,
            )
        )
        return order

    @property
    def subtotal_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)

    @property
    def total_fen(self) -> int:
        return self.subtotal_fen - self.discount_fen

    def is_payable(self, now: datetime) -> bool:
        return self.status == OrderStatus.PENDING_PAYMENT and now < self.expires_at

    def _require(self, transition: str) -> None:
        if self.status not in ALLOWED_FROM[transition]:
            raise InvalidTransition(f"cannot {transition.replace('_', ' ')} an order that is {self.status}")

    def pay(self, *, transaction_id: str, amount_fen: int, now: datetime) -> bool:
        """Record a confirmed payment. Returns False when this payment was already recorded."""
        if self.transaction_id == transaction_id and self.status != OrderStatus.PENDING_PAYMENT:
            return False
        if amount_fen != self.total_fen:
            raise PaymentAmountMismatch(f"paid {amount_fen} fen for an order of {self.total_fen} fen")
        self._require("pay")
        self.status = OrderStatus.PAID
        self.transaction_id = transaction_id
        self.paid_at = now
        self.events.append(
            events.OrderPaid(
                key=self.order_id,
                occurred_at=now,
                order_id=self.order_id,
                user_id=self.user_id,
                total_fen=self.total_fen,
                transaction_id=transaction_id,
            )
        )
        return True

    def ship(self, *, tracking_no: str, now: datetime) -> None:
        self._require("ship")
        self.status = OrderStatus.SHIPPED
        self.tracking_no = tracking_no
        self.events.append(
            events.OrderShipped(
                key=self.order_id,
                occurred_at=now,
                order_id=self.order_id,
                user_id=self.user_id,
                tracking_no=tracking_no,
            )
        )

    def complete(self, *, now: datetime) -> None:
        self._require("complete")
        self.status = OrderStatus.COMPLETED
        self.events.append(
            events.OrderCompleted(
                key=self.order_id, occurred_at=now, order_id=self.order_id, user_id=self.user_id
            )
        )

    def cancel(self, *, now: datetime) -> None:
        self._require("cancel")
        self.status = OrderStatus.CANCELLED
        self.events.append(
            events.OrderCancelled(
                key=self.order_id, occurred_at=now, order_id=self.order_id, user_id=self.user_id
            )
        )

    def close(self, *, now: datetime, reason: str = "payment_window_elapsed") -> None:
        self._require("close")
        self.status = OrderStatus.CLOSED
        self.events.append(
            events.OrderClosed(
                key=self.order_id,
                occurred_at=now,
                order_id=self.order_id,
                user_id=self.user_id,
                reason=reason,
            )
        )

    def request_refund(self, *, refund_id: str, reason: str, now: datetime) -> int:
        """Start a full refund; returns the amount to refund in fen."""
        if self.status not in ALLOWED_FROM["request_refund"]:
            raise RefundNotAllowed(f"an order that is {self.status} cannot be refunded")
        self.status_before_refund = self.status
        self.status = OrderStatus.REFUNDING
        amount = self.total_fen - self.refunded_fen
        self.events.append(
            events.RefundRequested(
                key=self.order_id,
                occurred_at=now,
                order_id=self.order_id,
                user_id=self.user_id,
                refund_id=refund_id,
                amount_fen=amount,
                reason=reason,
            )
        )
        return amount

    def refund_succeeded(self, *, refund_id: str, amount_fen: int, now: datetime) -> bool:
        """Record WeChat's refund success. Returns False when it was already recorded."""
        if self.status == OrderStatus.REFUNDED:
            return False
        self._require("refund")
        self.status = OrderStatus.REFUNDED
        self.refunded_fen += amount_fen
        self.events.append(
            events.RefundSucceeded(
                key=self.order_id,
                occurred_at=now,
                order_id=self.order_id,
                user_id=self.user_id,
                refund_id=refund_id,
                amount_fen=amount_fen,
            )
        )
        return True

    def refund_failed(self) -> None:
        """WeChat closed or could not complete the refund: the order goes back to where it was."""
        if self.status == OrderStatus.REFUNDING and self.status_before_refund is not None:
            self.status = self.status_before_refund
            self.status_before_refund = None

    @property
    def restocks_on_exit(self) -> bool:
        """Whether leaving the current state returns the reserved stock (goods never shipped)."""
        return self.status in RESTOCKED_ON_EXIT or self.status_before_refund == OrderStatus.PAID
