"""Coupons: campaigns define the offer, a claimed coupon belongs to one shopper and is used once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from api.domain.errors import CouponNotUsable


class CouponStatus(StrEnum):
    AVAILABLE = "available"
    USED = "used"


@dataclass(frozen=True)
class CouponOffer:
    """满减 (threshold + fixed discount) or 折扣 (percent off, capped) — one of the two."""

    threshold_fen: int = 0
    discount_fen: int = 0
    percent_off: int = 0
    max_discount_fen: int | None = None

    def discount_for(self, subtotal_fen: int) -> int:
        if subtotal_fen < self.threshold_fen or subtotal_fen <= 0:
            return 0
        if self.percent_off:
            discount = subtotal_fen * self.percent_off // 100
            if self.max_discount_fen is not None:
                discount = min(discount, self.max_discount_fen)
        else:
            discount = self.discount_fen
        return max(0, min(discount, subtotal_fen - 1))


@dataclass(frozen=True)
class Coupon:
    coupon_id: str
    campaign_id: str
    user_id: str
    title: str
    offer: CouponOffer
    valid_from: datetime
    valid_until: datetime
    status: CouponStatus = CouponStatus.AVAILABLE

    def is_usable(self, *, user_id: str, now: datetime) -> bool:
        return (
            self.status == CouponStatus.AVAILABLE
            and self.user_id == user_id
            and self.valid_from <= now < self.valid_until
        )


def discount_with(coupon: Coupon, *, user_id: str, subtotal_fen: int, now: datetime) -> int:
    """The discount a named coupon gives; CouponNotUsable when it is not the shopper's, used or expired."""
    if not coupon.is_usable(user_id=user_id, now=now):
        raise CouponNotUsable("this coupon cannot be used")
    discount = coupon.offer.discount_for(subtotal_fen)
    if discount == 0:
        raise CouponNotUsable("the order does not reach this coupon's threshold")
    return discount


def best_coupon(
    coupons: Iterable[Coupon], *, user_id: str, subtotal_fen: int, now: datetime
) -> tuple[Coupon | None, int]:
    """The usable coupon giving the largest discount (earliest expiry breaks ties), and that discount."""
    best: tuple[Coupon | None, int] = (None, 0)
    for coupon in sorted(coupons, key=lambda c: (c.valid_until, c.coupon_id)):
        if not coupon.is_usable(user_id=user_id, now=now):
            continue
        discount = coupon.offer.discount_for(subtotal_fen)
        if discount > best[1]:
            best = (coupon, discount)
    return best
