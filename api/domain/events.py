"""Domain events: facts the rest of ShopLoop (streams, warehouse) learns about through the outbox."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    name: ClassVar[str] = "Event"
    # The key that keeps one aggregate's events in order on its Kafka partition.
    key: str
    occurred_at: datetime

    def payload(self) -> dict[str, Any]:
        body = asdict(self)
        body["occurred_at"] = self.occurred_at.isoformat()
        return body


@dataclass(frozen=True)
class OrderPlaced(Event):
    name: ClassVar[str] = "OrderPlaced"
    order_id: str
    user_id: str
    total_fen: int
    discount_fen: int
    coupon_id: str | None
    lines: tuple[tuple[str, int, int], ...] = field(default=())  # (sku_id, quantity, unit_price_fen)
    # The shipping address's province and city (the warehouse's regional marts); None without an address.
    shipping_province: str | None = None
    shipping_city: str | None = None


@dataclass(frozen=True)
class OrderPaid(Event):
    name: ClassVar[str] = "OrderPaid"
    order_id: str
    user_id: str
    total_fen: int
    transaction_id: str


@dataclass(frozen=True)
class OrderShipped(Event):
    name: ClassVar[str] = "OrderShipped"
    order_id: str
    user_id: str
    tracking_no: str


@dataclass(frozen=True)
class OrderCompleted(Event):
    name: ClassVar[str] = "OrderCompleted"
    order_id: str
    user_id: str


@dataclass(frozen=True)
class OrderCancelled(Event):
    name: ClassVar[str] = "OrderCancelled"
    order_id: str
    user_id: str


@dataclass(frozen=True)
class OrderClosed(Event):
    name: ClassVar[str] = "OrderClosed"
    order_id: str
    user_id: str
    reason: str


@dataclass(frozen=True)
class RefundRequested(Event):
    name: ClassVar[str] = "RefundRequested"
    order_id: str
    user_id: str
    refund_id: str
    amount_fen: int
    reason: str


@dataclass(frozen=True)
class RefundSucceeded(Event):
    name: ClassVar[str] = "RefundSucceeded"
    order_id: str
    user_id: str
    refund_id: str
    amount_fen: int


@dataclass(frozen=True)
class CouponGranted(Event):
    name: ClassVar[str] = "CouponGranted"
    coupon_id: str
    campaign_id: str
    user_id: str
    source: str


@dataclass(frozen=True)
class CouponRedeemed(Event):
    name: ClassVar[str] = "CouponRedeemed"
    coupon_id: str
    user_id: str
    order_id: str
    discount_fen: int


@dataclass(frozen=True)
class StockLow(Event):
    name: ClassVar[str] = "StockLow"
    sku_id: str
    stock: int
    threshold: int


@dataclass(frozen=True)
class GroupBuyJoined(Event):
    name: ClassVar[str] = "GroupBuyJoined"
    group_id: str
    deal_id: str
    user_id: str
    order_id: str
    is_leader: bool


@dataclass(frozen=True)
class GroupBuyCompleted(Event):
    """The group is full and paid. `order_ids[i]` is the order of `member_user_ids[i]`, so an erased member can be
    taken out with her order (warehouse.erasure.group_buy_without_erased_members)."""

    name: ClassVar[str] = "GroupBuyCompleted"
    group_id: str
    deal_id: str
    member_user_ids: tuple[str, ...]
    order_ids: tuple[str, ...]


@dataclass(frozen=True)
class GroupBuyFailed(Event):
    name: ClassVar[str] = "GroupBuyFailed"
    group_id: str
    deal_id: str
    paid_count: int
    group_size: int


@dataclass(frozen=True)
class SubscribeMessageSent(Event):
    """One attempt's outcome for an order subscribe message: sent, no_quota (43101) or failed."""

    name: ClassVar[str] = "SubscribeMessageSent"
    notification_id: str
    order_id: str
    user_id: str
    kind: str
    template_id: str
    status: str
    errcode: int


@dataclass(frozen=True)
class PointsChanged(Event):
    """One points-ledger entry (keyed by user id); `balance` is the balance after it."""

    name: ClassVar[str] = "PointsChanged"
    entry_id: str
    user_id: str
    delta: int
    reason: str
    ref: str
    balance: int


@dataclass(frozen=True)
class MemberLevelChanged(Event):
    name: ClassVar[str] = "MemberLevelChanged"
    user_id: str
    level: str
    previous_level: str
    spend_fen: int


@dataclass(frozen=True)
class PointsRedeemed(Event):
    name: ClassVar[str] = "PointsRedeemed"
    redemption_id: str
    user_id: str
    reward_id: str
    kind: str
    cost_points: int
    coupon_id: str | None


@dataclass(frozen=True)
class MemberDayConfigured(Event):
    name: ClassVar[str] = "MemberDayConfigured"
    day_of_month: int
    extra_discount_percent: int
    points_multiplier: int
    is_active: bool
    staff_id: str


@dataclass(frozen=True)
class AccountFlagged(Event):
    name: ClassVar[str] = "AccountFlagged"
    flag_id: str
    user_id: str
    reason: str


@dataclass(frozen=True)
class AccountFrozenEvent(Event):
    name: ClassVar[str] = "AccountFrozen"
    user_id: str
    reason: str
    actor: str


@dataclass(frozen=True)
class AccountUnfrozen(Event):
    name: ClassVar[str] = "AccountUnfrozen"
    user_id: str
    reason: str
    actor: str


@dataclass(frozen=True)
class AccountFlagReviewed(Event):
    name: ClassVar[str] = "AccountFlagReviewed"
    flag_id: str
    user_id: str
    decision: str
    actor: str


@dataclass(frozen=True)
class BargainStarted(Event):
    name: ClassVar[str] = "BargainStarted"
    bargain_id: str
    deal_id: str
    user_id: str
    sku_id: str
    start_price_fen: int
    floor_price_fen: int


@dataclass(frozen=True)
class BargainCut(Event):
    name: ClassVar[str] = "BargainCut"
    bargain_id: str
    user_id: str
    helper_user_id: str
    cut_no: int
    amount_fen: int
    price_fen: int


@dataclass(frozen=True)
class BargainOrdered(Event):
    name: ClassVar[str] = "BargainOrdered"
    bargain_id: str
    user_id: str
    order_id: str
    price_fen: int


@dataclass(frozen=True)
class ExperimentChanged(Event):
    """An experiment was defined, started or stopped in the back office (keyed by experiment id)."""

    name: ClassVar[str] = "ExperimentChanged"
    experiment_id: str
    status: str
    variants: tuple[tuple[str, int], ...]
    target_metric: str


@dataclass(frozen=True)
class ProductFavourited(Event):
    name: ClassVar[str] = "ProductFavourited"
    user_id: str
    product_id: str
    is_favourite: bool


@dataclass(frozen=True)
class ProductViewed(Event):
    """A footprint the mini-program recorded through the order core (keyed by user id)."""

    name: ClassVar[str] = "ProductViewed"
    user_id: str
    product_id: str
