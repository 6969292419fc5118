"""The whole shopper journey through the real app and the real WeChat sandbox over loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from api.adapters import tables as t


def test_a_shopper_logs_in_browses_fills_a_cart_uses_a_coupon_pays_gets_the_parcel_and_is_refunded(
    stack, shopper, back_office
) -> None:
    now = datetime.now(UTC)
    campaign = back_office.api.post(
        "/admin/v1/coupon-campaigns",
        json={
            "title": "满100减20",
            "threshold_fen": 10000,
            "discount_fen": 2000,
            "total_quantity": 100,
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_until": (now + timedelta(days=7)).isoformat(),
        },
    )
    assert campaign.status_code == 201, campaign.text

    products = shopper.api.get("/v1/products", params={"q": "panda", "sort": "price_asc"}).json()
    assert [p["product_id"] for p in products] == ["p-mug", "p-tee"]
    tee = shopper.api.get("/v1/products/p-tee").json()
    assert {s["sku_id"] for s in tee["skus"]} == {"tee-red-m", "tee-blue-l"}

    assert shopper.api.put("/v1/cart/items/tee-red-m", json={"quantity": 2}).status_code == 204
    claimed = shopper.api.post(f"/v1/coupon-campaigns/{campaign.json()['campaign_id']}/claim")
    assert claimed.status_code == 201, claimed.text
    cart = shopper.api.get("/v1/cart").json()
    assert cart["subtotal_fen"] == 19800
    assert cart["best_discount_fen"] == 2000

    address = shopper.api.post(
        "/v1/addresses",
        json={
            "recipient": "王小明",
            "phone": "13800138000",
            "province": "上海",
            "city": "上海",
            "detail": "南京西路1号",
        },
    ).json()
    placed = shopper.place_order({"address_id": address["address_id"]}, key="journey-order-1")
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert (order["total_fen"], order["discount_fen"], order["status"]) == (17800, 2000, "pending_payment")
    assert shopper.api.get("/v1/cart").json()["items"] == []
    assert shopper.api.get("/v1/products/p-tee").json()["skus"][1]["stock"] == 8

    assert shopper.pay(order["order_id"]) == {"errMsg": "requestPayment:ok"}
    stack.wait_for(lambda: shopper.api.get(f"/v1/orders/{order['order_id']}").json()["status"] == "paid")

    shipped = back_office.api.post(
        f"/admin/v1/orders/{order['order_id']}/ship", json={"tracking_no": "SF1234567890"}
    )
    assert shipped.json()["status"] == "shipped"

    refund = shopper.api.post(f"/v1/orders/{order['order_id']}/refund", json={"reason": "尺码不合适"})
    assert refund.status_code == 201, refund.text
    approved = back_office.api.post(f"/admin/v1/refunds/{refund.json()['refund_id']}/approve")
    assert approved.status_code == 200, approved.text
    stack.wait_for(lambda: shopper.api.get(f"/v1/orders/{order['order_id']}").json()["status"] == "refunded")
    assert shopper.api.get(f"/v1/orders/{order['order_id']}").json()["refunded_fen"] == 17800

    with stack.app.state.container.uow() as uow:
        names = list(
            uow.session.execute(select(t.outbox.c.event_name).order_by(t.outbox.c.created_at)).scalars()
        )
    for name in (
        "CouponGranted",
        "OrderPlaced",
        "CouponRedeemed",
        "OrderPaid",
        "OrderShipped",
        "RefundSucceeded",
    ):
        assert name in names
    # The order's region reaches the warehouse's regional marts; the street, phone and recipient never leave.
    with stack.app.state.container.uow() as uow:
        placed_event = uow.session.execute(
            select(t.outbox.c.payload).where(t.outbox.c.event_name == "OrderPlaced")
        ).scalar_one()
    assert '"shipping_province":"上海"' in placed_event and '"shipping_city":"上海"' in placed_event
    assert (
        "南京西路" not in placed_event and "13800138000" not in placed_event and "王小明" not in placed_event
    )
