"""Coupon offers and best-discount selection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.domain.coupons import Coupon, CouponOffer, CouponStatus, best_coupon, discount_with
from api.domain.errors import CouponNotUsable

NOW = datetime(2026, 6, 18, 12, 0, tzinfo=UTC)


def coupon(coupon_id: str, offer: CouponOffer, *, user_id: str = "xiaoming", **overrides: object) -> Coupon:
    fields: dict[str, object] = {
        "coupon_id": coupon_id,
        "campaign_id": "c",
        "user_id": user_id,
        "title": coupon_id,
        "offer": offer,
        "valid_from": NOW - timedelta(days=1),
        "valid_until": NOW + timedelta(days=1),
    }
    fields.update(overrides)
    return Coupon(**fields)  # type: ignore[arg-type]


def test_the_best_coupon_is_the_one_with_the_largest_discount_for_this_order() -> None:
    ten_off = coupon("ten-off", CouponOffer(discount_fen=1000))
    twenty_over_100 = coupon("twenty-over-100", CouponOffer(threshold_fen=10000, discount_fen=2000))
    fifteen_percent = coupon("15pc", CouponOffer(percent_off=15, max_discount_fen=1800))
    found, discount = best_coupon(
        [ten_off, twenty_over_100, fifteen_percent], user_id="xiaoming", subtotal_fen=9900, now=NOW
    )
    assert (found and found.coupon_id, discount) == ("15pc", 1485)
    found, discount = best_coupon(
        [ten_off, twenty_over_100, fifteen_percent], user_id="xiaoming", subtotal_fen=19800, now=NOW
    )
    assert (found and found.coupon_id, discount) == ("twenty-over-100", 2000)


def test_used_expired_and_other_peoples_coupons_are_never_chosen() -> None:
    big = CouponOffer(discount_fen=5000)
    coupons = [
        coupon("used", big, status=CouponStatus.USED),
        coupon("expired", big, valid_until=NOW - timedelta(seconds=1)),
        coupon("hers", big, user_id="xiaohong"),
    ]
    assert best_coupon(coupons, user_id="xiaoming", subtotal_fen=9900, now=NOW) == (None, 0)


def test_naming_someone_elses_coupon_at_checkout_is_refused() -> None:
    with pytest.raises(CouponNotUsable):
        discount_with(
            coupon("hers", CouponOffer(discount_fen=500), user_id="xiaohong"),
            user_id="xiaoming",
            subtotal_fen=9900,
            now=NOW,
        )
