"""Request and response bodies (XCreate / XUpdate / XPublic). Money is integer fen."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.domain.coupons import Coupon
from api.domain.group_buys import GroupBuy
from api.domain.orders import Order
from api.service_layer.recommendations import Recommendations
from recsys.reasons import Language


class ErrorPublic(BaseModel):
    code: str
    message: str


class LoginCreate(BaseModel):
    code: str = Field(min_length=1, max_length=128, description="The code from wx.login()")


class TokenPublic(BaseModel):
    token: str
    user_id: str
    expires_at: datetime


class StaffLoginCreate(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class StaffCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=12, max_length=256)
    role: Literal["admin", "operator", "marketer", "analyst"]


class StaffPublic(BaseModel):
    staff_id: str
    username: str
    role: str


class CategoryPublic(BaseModel):
    category_id: str
    name: str


class ProductSummaryPublic(BaseModel):
    product_id: str
    category_id: str
    title: str
    sales_count: int
    min_price_fen: int
    stock: int
    created_at: datetime


class SkuPublic(BaseModel):
    sku_id: str
    colour: str
    size: str
    price_fen: int
    stock: int


class ProductPublic(BaseModel):
    product_id: str
    category_id: str
    title: str
    description: str
    sales_count: int
    created_at: datetime
    skus: list[SkuPublic]


class SkuCreate(BaseModel):
    sku_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,40}$")
    colour: str = Field(default="", max_length=32)
    size: str = Field(default="", max_length=16)
    price_fen: int = Field(gt=0, le=10_000_000_00)
    stock: int = Field(ge=0, le=10_000_000)


class ProductCreate(BaseModel):
    title: str = Field(min_length=1, max_length=128)
    category: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=4000)
    skus: list[SkuCreate] = Field(min_length=1, max_length=100)


class StockUpdate(BaseModel):
    stock: int = Field(ge=0, le=10_000_000)


class CartItemUpdate(BaseModel):
    quantity: int = Field(ge=0, le=99)


class CartLinePublic(BaseModel):
    sku_id: str
    product_id: str
    title: str
    colour: str
    size: str
    quantity: int
    price_fen: int
    amount_fen: int
    stock: int


class CartPublic(BaseModel):
    items: list[CartLinePublic]
    subtotal_fen: int
    best_coupon_id: str | None = None
    best_discount_fen: int = 0


class AddressCreate(BaseModel):
    recipient: str = Field(min_length=1, max_length=32)
    phone: str = Field(pattern=r"^\+?[0-9-]{5,20}$")
    province: str = Field(min_length=1, max_length=32)
    city: str = Field(min_length=1, max_length=32)
    detail: str = Field(min_length=1, max_length=200)


class AddressPublic(AddressCreate):
    address_id: str


class CampaignCreate(BaseModel):
    title: str = Field(min_length=1, max_length=64)
    threshold_fen: int = Field(default=0, ge=0, le=10_000_000_00)
    discount_fen: int = Field(default=0, ge=0, le=10_000_000_00)
    percent_off: int = Field(default=0, ge=0, le=99)
    max_discount_fen: int | None = Field(default=None, ge=0, le=10_000_000_00)
    total_quantity: int = Field(gt=0, le=10_000_000)
    valid_from: datetime
    valid_until: datetime
    is_claimable: bool = True


class CampaignPublic(BaseModel):
    campaign_id: str
    title: str
    threshold_fen: int
    discount_fen: int
    percent_off: int
    max_discount_fen: int | None
    valid_from: datetime
    valid_until: datetime


class CouponPublic(BaseModel):
    coupon_id: str
    campaign_id: str
    title: str
    status: str
    threshold_fen: int
    discount_fen: int
    percent_off: int
    valid_until: datetime

    @classmethod
    def of(cls, coupon: Coupon) -> CouponPublic:
        return cls(
            coupon_id=coupon.coupon_id,
            campaign_id=coupon.campaign_id,
            title=coupon.title,
            status=str(coupon.status),
            threshold_fen=coupon.offer.threshold_fen,
            discount_fen=coupon.offer.discount_fen,
            percent_off=coupon.offer.percent_off,
            valid_until=coupon.valid_until,
        )


class RewardCouponCreate(BaseModel):
    command_id: str = Field(min_length=1, max_length=100)
    user_id: str = Field(min_length=1, max_length=40)
    campaign_id: str = Field(min_length=1, max_length=40)


class OrderItemCreate(BaseModel):
    sku_id: str = Field(min_length=1, max_length=40)
    quantity: int = Field(gt=0, le=99)


class OrderCreate(BaseModel):
    items: list[OrderItemCreate] | None = Field(
        default=None, max_length=50, description="Omit to check out the whole cart"
    )
    coupon: str = Field(
        default="auto", max_length=40, description='"auto" (best discount), "none" or a coupon_id'
    )
    address_id: str | None = Field(default=None, max_length=40)


class OrderLinePublic(BaseModel):
    sku_id: str
    product_id: str
    title: str
    unit_price_fen: int
    quantity: int


class OrderPublic(BaseModel):
    order_id: str
    status: str
    lines: list[OrderLinePublic]
    subtotal_fen: int
    discount_fen: int
    total_fen: int
    coupon_id: str | None
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    tracking_no: str | None
    refunded_fen: int
    group_buy_id: str | None = None

    @classmethod
    def of(cls, order: Order) -> OrderPublic:
        return cls(
            order_id=order.order_id,
            status=str(order.status),
            lines=[OrderLinePublic(**vars(line)) for line in order.lines],
            subtotal_fen=order.subtotal_fen,
            discount_fen=order.discount_fen,
            total_fen=order.total_fen,
            coupon_id=order.coupon_id,
            created_at=order.created_at,
            expires_at=order.expires_at,
            paid_at=order.paid_at,
            tracking_no=order.tracking_no,
            refunded_fen=order.refunded_fen,
            group_buy_id=order.group_buy_id,
        )


class AdminOrderPublic(OrderPublic):
    user_id: str
    address_id: str | None


class RequestPaymentPublic(BaseModel):
    """Pass as-is to wx.requestPayment()."""

    timeStamp: str
    nonceStr: str
    package: str
    signType: str
    paySign: str


class RefundCreate(BaseModel):
    reason: str = Field(min_length=1, max_length=128)


class RefundPublic(BaseModel):
    refund_id: str
    order_id: str
    amount_fen: int
    reason: str
    status: str


class ShipmentCreate(BaseModel):
    tracking_no: str = Field(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9-]+$")


class LowStockPublic(BaseModel):
    sku_id: str
    product_id: str
    title: str
    stock: int


class CountPublic(BaseModel):
    count: int


class GroupBuyDealCreate(BaseModel):
    sku_id: str = Field(min_length=1, max_length=40)
    group_price_fen: int = Field(gt=0, le=10_000_000_00)
    group_size: int = Field(ge=2, le=50)
    window_s: int = Field(default=24 * 3600, ge=60, le=7 * 24 * 3600)
    valid_from: datetime
    valid_until: datetime


class GroupBuyDealPublic(BaseModel):
    deal_id: str
    sku_id: str
    group_price_fen: int
    group_size: int
    window_s: int
    valid_from: datetime
    valid_until: datetime


class GroupBuyCreate(BaseModel):
    deal_id: str = Field(min_length=1, max_length=32)
    address_id: str | None = Field(default=None, max_length=40)


class GroupBuyJoinCreate(BaseModel):
    address_id: str | None = Field(default=None, max_length=40)


class GroupBuyPublic(BaseModel):
    """What the share page shows: no member's identity or order, only how far the group has got."""

    group_id: str
    deal_id: str
    sku_id: str
    status: str
    group_size: int
    group_price_fen: int
    members_joined: int
    members_paid: int
    expires_at: datetime

    @classmethod
    def of(cls, group: GroupBuy) -> GroupBuyPublic:
        return cls(
            group_id=group.group_id,
            deal_id=group.deal_id,
            sku_id=group.sku_id,
            status=str(group.status),
            group_size=group.group_size,
            group_price_fen=group.group_price_fen,
            members_joined=len(group.members),
            members_paid=group.paid_count,
            expires_at=group.expires_at,
        )


class GroupBuySeatPublic(BaseModel):
    group: GroupBuyPublic
    order: OrderPublic


class RecommendedProductPublic(BaseModel):
    product_id: str
    title: str
    category_id: str
    min_price_fen: int
    score: float
    reason: str = Field(description="why it is shown, in the language asked for (`lang`)")
    reason_code: str = Field(
        description="the reason as a code (viewed, added_to_cart, bought, similar_to, bought_with, popular, "
        "popular_in_region, popular_with_channel, popular_in_shop, more_in_category), for clients that word "
        "it themselves"
    )
    reason_params: dict[str, str] = Field(
        description="the code's parameters: product (name) and product_id, region, channel"
    )


class RecommendationsPublic(BaseModel):
    source: Literal["model", "popular"] = Field(
        description='"model": the recommender\'s live model; "popular": best sellers (no model yet)'
    )
    items: list[RecommendedProductPublic]
    model_version: str | None = Field(
        default=None,
        description='the model\'s run id when source is "model"; the mini-program sends it back in '
        "Recommendation Shown / Clicked so that click-through rate is measured per model version",
    )

    @classmethod
    def of(cls, found: Recommendations, language: Language = "zh") -> RecommendationsPublic:
        return cls(
            source=found.source,
            items=[
                RecommendedProductPublic(
                    product_id=item.product_id,
                    title=item.title,
                    category_id=item.category_id,
                    min_price_fen=item.min_price_fen,
                    score=item.score,
                    reason=item.reason.text(language),
                    reason_code=item.reason.code,
                    reason_params=item.reason.parameters,
                )
                for item in found.items
            ],
            model_version=found.model_version,
        )


# -- membership ---------------------------------------------------------------------------------------------
class PointsEntryPublic(BaseModel):
    entry_id: str
    delta: int
    reason: str
    ref: str
    balance_after: int
    created_at: datetime


class MemberDayPublic(BaseModel):
    day_of_month: int
    extra_discount_percent: int
    points_multiplier: int
    is_active: bool
    is_today: bool = False


class MembershipPublic(BaseModel):
    points_balance: int
    spend_fen: int
    level: str
    level_discount_percent: int
    next_level: str | None
    next_level_spend_fen: int | None
    member_day: MemberDayPublic | None
    entries: list[PointsEntryPublic]


class MemberDayUpdate(BaseModel):
    # 29–31 fall on the last day of shorter months.
    day_of_month: int = Field(ge=1, le=31)
    extra_discount_percent: int = Field(default=0, ge=0, le=30)
    points_multiplier: int = Field(default=2, ge=1, le=10)
    is_active: bool = True


class PointRewardCreate(BaseModel):
    title: str = Field(min_length=1, max_length=64)
    kind: Literal["coupon", "gift"]
    cost_points: int = Field(ge=1, le=10_000_000)
    campaign_id: str | None = Field(default=None, max_length=40)
    sku_id: str | None = Field(default=None, max_length=40)


class PointRewardPublic(BaseModel):
    reward_id: str
    title: str
    kind: str
    cost_points: int
    campaign_id: str | None
    sku_id: str | None


class RedemptionPublic(BaseModel):
    redemption_id: str
    reward_id: str
    kind: str
    cost_points: int
    coupon_id: str | None
    points_balance: int


# -- abnormal-account review ------------------------------------------------------------------------------
class AccountFlagPublic(BaseModel):
    flag_id: str
    user_id: str
    reason: str
    evidence: dict[str, object]
    flagged_at: datetime
    received_at: datetime
    status: str
    reviewed_by: str | None
    reviewed_at: datetime | None
    is_frozen: bool


class FlagReviewCreate(BaseModel):
    decision: Literal["confirm", "dismiss"]
    note: str = Field(default="", max_length=200)


class FlagReviewPublic(BaseModel):
    flag_id: str
    user_id: str
    status: str
    is_frozen: bool


class FreezeCreate(BaseModel):
    reason: str = Field(min_length=1, max_length=120)


class AccountStatusPublic(BaseModel):
    user_id: str
    is_frozen: bool


class AuditEntryPublic(BaseModel):
    entry_id: str
    user_id: str
    action: str
    actor: str
    note: str
    created_at: datetime


# -- 砍价 bargains ---------------------------------------------------------------------------------------
class BargainDealCreate(BaseModel):
    sku_id: str = Field(min_length=1, max_length=40)
    floor_price_fen: int = Field(gt=0, le=10_000_000_00)
    expected_cuts: int = Field(default=10, ge=1, le=1000)
    window_s: int = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600)
    valid_until: datetime


class BargainDealPublic(BaseModel):
    deal_id: str
    sku_id: str
    title: str
    price_fen: int
    floor_price_fen: int
    expected_cuts: int
    window_s: int
    valid_until: datetime


class BargainCreate(BaseModel):
    deal_id: str = Field(min_length=1, max_length=32)


class BargainCutPublic(BaseModel):
    cut_no: int
    amount_fen: int
    cut_at: datetime


class BargainPublic(BaseModel):
    bargain_id: str
    deal_id: str
    sku_id: str
    start_price_fen: int
    floor_price_fen: int
    price_fen: int
    status: str
    expires_at: datetime
    cuts: list[BargainCutPublic]


class CutPublic(BaseModel):
    amount_fen: int
    bargain: BargainPublic


class BargainOrderCreate(BaseModel):
    address_id: str | None = Field(default=None, max_length=40)


# -- experiments ------------------------------------------------------------------------------------------
class VariantCreate(BaseModel):
    name: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    weight: int = Field(ge=0, le=10_000, description="share of traffic, in proportion to the other weights")


class ExperimentCreate(BaseModel):
    experiment_id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=128)
    variants: list[VariantCreate] = Field(min_length=2, max_length=10)
    target_metric: Literal["conversion_rate", "orders_per_shopper", "revenue_per_shopper", "aov"] = (
        "conversion_rate"
    )
    starts_at: datetime | None = None
    stops_at: datetime | None = None


class ExperimentPublic(BaseModel):
    experiment_id: str
    name: str
    variants: list[VariantCreate]
    target_metric: str
    status: str
    starts_at: datetime | None
    stops_at: datetime | None


class AssignmentPublic(BaseModel):
    experiment_id: str
    variant: str


# -- stores -----------------------------------------------------------------------------------------------
class StoreCreate(BaseModel):
    store_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,40}$")
    name: str = Field(min_length=1, max_length=64)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    address: str = Field(default="", max_length=256)
    opens_at: str = Field(default="10:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    closes_at: str = Field(default="22:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    offer: str = Field(default="", max_length=128)


class StorePublic(BaseModel):
    store_id: str
    name: str
    latitude: float
    longitude: float
    address: str
    opens_at: str
    closes_at: str
    offer: str
    is_open: bool
    distance_m: int | None = None


# -- favourites and footprints ----------------------------------------------------------------------------
class SavedProductPublic(BaseModel):
    product_id: str
    title: str
    min_price_fen: int | None
    created_at: datetime | None = None
    last_viewed_at: datetime | None = None
    view_count: int | None = None


class FootprintCreate(BaseModel):
    product_id: str = Field(min_length=1, max_length=40)


class AccountErasurePublic(BaseModel):
    """What an account erasure did (row counts per table); see api/service_layer/account_erasure.py."""

    user_id: str
    erased_at: datetime
    was_already_erased: bool
    deleted: dict[str, int]
    anonymised: dict[str, int]
    kept: dict[str, int]
