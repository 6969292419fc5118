"""Membership over the real app and sandbox: a points ledger earned on registration and payment, taken back
on refund (even when already spent), redeemable for coupons and gifts; levels by spend and the member day
discount at checkout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from api.adapters import tables as t
from api.service_layer.accounts import Role


def _paid(stack, shopper, order_id: str) -> None:
    shopper.pay(order_id)
    stack.wait_for(lambda: shopper.api.get(f"/v1/orders/{order_id}").json()["status"] == "paid")


def _ledger_sum(stack, user_id: str) -> int:
    with stack.app.state.container.uow() as uow:
        return int(
            uow.session.execute(
                select(func.coalesce(func.sum(t.points_entries.c.delta), 0)).where(
                    t.points_entries.c.user_id == user_id
                )
            ).scalar_one()
        )


def test_points_are_earned_on_registration_and_payment_and_taken_back_on_refund_even_once_spent(
    stack, shopper, back_office, staff_member
) -> None:
    joined = shopper.api.get("/v1/membership").json()
    assert joined["points_balance"] == 100
    assert [(e["delta"], e["reason"]) for e in joined["entries"]] == [(100, "registration")]

    marketer = staff_member("lili", Role.MARKETER)
    now = datetime.now(UTC)
    campaign = marketer.api.post(
        "/admin/v1/coupon-campaigns",
        json={
            "title": "积分兑 10 元券",
            "discount_fen": 1000,
            "threshold_fen": 5000,
            "total_quantity": 100,
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_until": (now + timedelta(days=30)).isoformat(),
            "is_claimable": False,
        },
    ).json()
    coupon_reward = marketer.api.post(
        "/admin/v1/point-rewards",
        json={
            "title": "10 元券",
            "kind": "coupon",
            "cost_points": 150,
            "campaign_id": campaign["campaign_id"],
        },
    )
    assert coupon_reward.status_code == 201, coupon_reward.text
    gift = marketer.api.post(
        "/admin/v1/point-rewards",
        json={"title": "马克杯", "kind": "gift", "cost_points": 40, "sku_id": "mug"},
    ).json()

    order = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 2}], "coupon": "none"}).json()
    _paid(stack, shopper, order["order_id"])
    after_payment = shopper.api.get("/v1/membership").json()
    assert after_payment["points_balance"] == 100 + 198  # one point per yuan paid
    assert after_payment["spend_fen"] == 19800

    redeemed = shopper.api.post(f"/v1/point-rewards/{coupon_reward.json()['reward_id']}/redeem")
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["points_balance"] == 148
    mine = shopper.api.get("/v1/coupons").json()
    assert [c["coupon_id"] for c in mine] == [redeemed.json()["coupon_id"]]
    gift_redeemed = shopper.api.post(f"/v1/point-rewards/{gift['reward_id']}/redeem")
    assert gift_redeemed.status_code == 201 and gift_redeemed.json()["kind"] == "gift"
    assert shopper.api.get("/v1/products/p-mug").json()["skus"][0]["stock"] == 0  # the gift is set aside

    # The abuse: earn points with an order, spend them, then refund the order. The points go back anyway.
    refund = shopper.api.post(f"/v1/orders/{order['order_id']}/refund", json={"reason": "不想要了"}).json()
    back_office.api.post(f"/admin/v1/refunds/{refund['refund_id']}/approve")
    stack.wait_for(lambda: shopper.api.get(f"/v1/orders/{order['order_id']}").json()["status"] == "refunded")
    after_refund = shopper.api.get("/v1/membership").json()
    assert after_refund["points_balance"] == 108 - 198
    assert after_refund["spend_fen"] == 0
    assert after_refund["entries"][0]["reason"] == "order_refunded"
    assert after_refund["points_balance"] == _ledger_sum(stack, shopper.user_id)
    again = shopper.api.post(f"/v1/point-rewards/{gift['reward_id']}/redeem")
    assert again.status_code == 409 and again.json()["code"] == "not_enough_points"

    # Every change is a ledger entry with its reason, and each is published for the warehouse.
    with stack.app.state.container.uow() as uow:
        reasons = list(
            uow.session.execute(
                select(t.points_entries.c.reason).where(t.points_entries.c.user_id == shopper.user_id)
            ).scalars()
        )
        published = uow.session.execute(
            select(func.count()).select_from(t.outbox).where(t.outbox.c.event_name == "PointsChanged")
        ).scalar_one()
    assert sorted(reasons) == ["order_paid", "order_refunded", "redeemed", "redeemed", "registration"]
    assert published == 5


def test_member_levels_and_the_member_day_discount_at_checkout_and_double_points(
    stack, shopper, back_office, staff_member
) -> None:
    sofa = back_office.api.post(
        "/admin/v1/products",
        json={
            "title": "Panda sofa",
            "category": "Home",
            "skus": [{"sku_id": "sofa", "price_fen": 120000, "stock": 5}],
        },
    )
    assert sofa.status_code == 201, sofa.text
    first = shopper.place_order({"items": [{"sku_id": "sofa", "quantity": 1}], "coupon": "none"}).json()
    assert first["discount_fen"] == 0
    _paid(stack, shopper, first["order_id"])
    silver = shopper.api.get("/v1/membership").json()
    assert (silver["level"], silver["level_discount_percent"], silver["next_level"]) == ("silver", 2, "gold")

    second = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}], "coupon": "none"}).json()
    assert second["discount_fen"] == 198  # 2 % of 99.00
    shopper.api.post(f"/v1/orders/{second['order_id']}/cancel")

    analyst = staff_member("ada", Role.ANALYST)
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).day
    member_day = {"day_of_month": today, "extra_discount_percent": 3, "points_multiplier": 2}
    assert analyst.api.put("/admin/v1/member-day", json=member_day).status_code == 403
    configured = staff_member("lili", Role.MARKETER).api.put("/admin/v1/member-day", json=member_day)
    assert configured.status_code == 200 and configured.json()["is_today"] is True

    third = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}], "coupon": "none"}).json()
    assert third["discount_fen"] == 495  # (2 % level + 3 % member day) of 99.00
    assert third["total_fen"] == 9405
    before = shopper.api.get("/v1/membership").json()["points_balance"]
    _paid(stack, shopper, third["order_id"])
    on_member_day = shopper.api.get("/v1/membership").json()
    assert on_member_day["points_balance"] - before == 94 * 2
    assert on_member_day["member_day"]["is_today"] is True
    with stack.app.state.container.uow() as uow:
        levels = list(
            uow.session.execute(
                select(t.outbox.c.payload).where(t.outbox.c.event_name == "MemberLevelChanged")
            ).scalars()
        )
    assert len(levels) == 1 and '"level":"silver"' in levels[0]
