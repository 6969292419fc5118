"""Security promises of the order core, each proven over HTTP against the real app and sandbox."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import select

from api.adapters import tables as t
from api.rate_limit import RateLimiter
from api.service_layer import accounts


def _paid_order(stack, shopper) -> dict:
    order = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}], "coupon": "none"}).json()
    shopper.pay(order["order_id"])
    stack.wait_for(lambda: shopper.api.get(f"/v1/orders/{order['order_id']}").json()["status"] == "paid")
    return order


def test_a_shopper_can_never_read_pay_cancel_or_refund_another_shoppers_order(
    stack, shopper, other_shopper
) -> None:
    order = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}]}).json()
    order_id = order["order_id"]
    assert other_shopper.api.get(f"/v1/orders/{order_id}").status_code == 404
    assert other_shopper.api.post(f"/v1/orders/{order_id}/prepay").status_code == 404
    assert other_shopper.api.post(f"/v1/orders/{order_id}/cancel").status_code == 404
    assert other_shopper.api.post(f"/v1/orders/{order_id}/sync-payment").status_code == 404
    assert (
        other_shopper.api.post(f"/v1/orders/{order_id}/refund", json={"reason": "mine now"}).status_code
        == 404
    )
    assert other_shopper.api.get("/v1/orders").json() == []
    assert shopper.api.get(f"/v1/orders/{order_id}").json()["status"] == "pending_payment"


def test_a_shopper_cannot_read_or_delete_another_shoppers_address(stack, shopper, other_shopper) -> None:
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
    assert other_shopper.api.get(f"/v1/addresses/{address['address_id']}").status_code == 404
    assert other_shopper.api.delete(f"/v1/addresses/{address['address_id']}").status_code == 404
    assert other_shopper.api.get("/v1/addresses").json() == []
    placed = other_shopper.place_order(
        {"items": [{"sku_id": "mug", "quantity": 1}], "address_id": address["address_id"]}
    )
    assert placed.status_code == 404
    with stack.app.state.container.uow() as uow:
        stored = uow.session.execute(select(t.addresses.c.phone_ct, t.addresses.c.detail_ct)).one()
    assert "13800138000" not in stored.phone_ct and "南京西路" not in stored.detail_ct


def test_a_coupon_is_usable_only_by_its_owner_and_only_once(
    stack, shopper, other_shopper, back_office
) -> None:
    now = datetime.now(UTC)
    campaign_id = back_office.api.post(
        "/admin/v1/coupon-campaigns",
        json={
            "title": "立减10元",
            "discount_fen": 1000,
            "total_quantity": 10,
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_until": (now + timedelta(days=1)).isoformat(),
        },
    ).json()["campaign_id"]
    coupon_id = shopper.api.post(f"/v1/coupon-campaigns/{campaign_id}/claim").json()["coupon_id"]
    assert shopper.api.post(f"/v1/coupon-campaigns/{campaign_id}/claim").status_code == 409

    stolen = other_shopper.place_order(
        {"items": [{"sku_id": "tee-red-m", "quantity": 1}], "coupon": coupon_id}
    )
    assert stolen.status_code == 409
    assert stolen.json()["code"] == "coupon_not_usable"

    first = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}], "coupon": coupon_id})
    assert first.json()["discount_fen"] == 1000
    second = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}], "coupon": coupon_id})
    assert second.status_code == 409


def _notification(
    stack, order: dict, *, total: int | None = None, mchid: str | None = None
) -> tuple[str, bytes]:
    resource = {
        "appid": stack.settings.wechat_appid,
        "mchid": mchid or stack.settings.wechat_pay_mchid,
        "out_trade_no": order["order_id"],
        "transaction_id": "4200000000" + uuid.uuid4().hex[:18],
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "success_time": datetime.now(UTC).isoformat(),
        "payer": {"openid": "x"},
        "amount": {
            "total": order["total_fen"] if total is None else total,
            "payer_total": 1,
            "currency": "CNY",
        },
    }
    return stack.sandbox.notification(
        event_type="TRANSACTION.SUCCESS", resource=resource, original_type="transaction"
    )


def _post(stack, shopper, body: bytes, headers: dict[str, str]):
    return shopper.api.post(
        "/v1/payments/wechat/notify", content=body, headers={"Content-Type": "application/json", **headers}
    )


def _status(shopper, order) -> str:
    return shopper.api.get(f"/v1/orders/{order['order_id']}").json()["status"]


def test_a_forged_payment_notification_is_rejected_and_changes_nothing(stack, shopper) -> None:
    from api.wechat import signing

    order = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}]}).json()
    _, body = _notification(stack, order)
    forger = signing.generate_private_key()
    headers = stack.sandbox.signed_headers(body)
    headers["Wechatpay-Signature"] = signing.sign(
        forger, signing.response_message(headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"], body)
    )
    answer = _post(stack, shopper, body, headers)
    assert answer.status_code == 401 and answer.json()["code"] == "FAIL"
    assert _status(shopper, order) == "pending_payment"


def test_a_tampered_payment_notification_is_rejected_and_changes_nothing(stack, shopper) -> None:
    order = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}]}).json()
    _, body = _notification(stack, order)
    headers = stack.sandbox.signed_headers(body)
    envelope = orjson.loads(body)
    envelope["event_type"] = "TRANSACTION.SUCCESS "
    answer = _post(stack, shopper, orjson.dumps(envelope), headers)
    assert answer.status_code == 401
    assert _status(shopper, order) == "pending_payment"


def test_a_stale_payment_notification_is_rejected_even_when_correctly_signed(stack, shopper) -> None:
    order = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}]}).json()
    _, body = _notification(stack, order)
    answer = _post(stack, shopper, body, stack.sandbox.signed_headers(body, timestamp=int(time.time()) - 301))
    assert answer.status_code == 401
    assert _status(shopper, order) == "pending_payment"


def test_a_payment_notification_with_the_wrong_amount_or_merchant_changes_nothing(stack, shopper) -> None:
    order = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}]}).json()
    _, short = _notification(stack, order, total=1)
    assert _post(stack, shopper, short, stack.sandbox.signed_headers(short)).status_code == 400
    _, foreign = _notification(stack, order, mchid="1900000001")
    assert _post(stack, shopper, foreign, stack.sandbox.signed_headers(foreign)).status_code == 400
    assert _status(shopper, order) == "pending_payment"


def test_a_replayed_payment_notification_is_accepted_once_and_changes_nothing_more(stack, shopper) -> None:
    order = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}]}).json()
    _, body = _notification(stack, order)
    for _ in range(3):
        assert _post(stack, shopper, body, stack.sandbox.signed_headers(body)).status_code == 204
    assert _status(shopper, order) == "paid"
    with stack.app.state.container.uow() as uow:
        paid_events = uow.session.execute(
            select(t.outbox.c.event_name).where(t.outbox.c.event_name == "OrderPaid")
        )
        assert len(list(paid_events)) == 1


def test_admin_endpoints_need_a_staff_token_with_the_right_role(
    stack, shopper, back_office, staff_member
) -> None:
    order = _paid_order(stack, shopper)
    ship = f"/admin/v1/orders/{order['order_id']}/ship"
    assert shopper.api.post(ship, json={"tracking_no": "SF0001"}).status_code == 401
    analyst = staff_member("analyst", accounts.Role.ANALYST)
    marketer = staff_member("marketer", accounts.Role.MARKETER)
    assert analyst.api.get("/admin/v1/orders").status_code == 200
    assert analyst.api.post(ship, json={"tracking_no": "SF0001"}).status_code == 403
    assert marketer.api.post(ship, json={"tracking_no": "SF0001"}).status_code == 403
    new_staff = {"username": "sneaky", "password": "x" * 12, "role": "admin"}
    assert marketer.api.post("/admin/v1/staff", json=new_staff).status_code == 403
    assert analyst.api.put("/admin/v1/skus/mug/stock", json={"stock": 999}).status_code == 403
    assert back_office.api.post(ship, json={"tracking_no": "SF0001"}).json()["status"] == "shipped"


def test_the_session_key_never_leaves_the_server(stack, shopper) -> None:
    session_key = stack.sandbox.session_keys[shopper.openid]
    for path in ("/v1/orders", "/v1/cart", "/v1/coupons", "/v1/addresses"):
        assert session_key not in shopper.api.get(path).text
    with stack.app.state.container.uow() as uow:
        stored = uow.session.execute(
            select(t.users.c.session_key).where(t.users.c.openid == shopper.openid)
        ).scalar()
    assert stored == session_key


def test_login_is_rate_limited(stack, shopper) -> None:
    stack.app.state.container.login_limiter = RateLimiter(per_minute=3)
    codes = [
        shopper.wechat.post("/sandbox/wx-login", json={"persona": f"bot{i}"}).json()["code"] for i in range(4)
    ]
    statuses = [shopper.api.post("/v1/auth/login", json={"code": code}).status_code for code in codes]
    assert statuses == [200, 200, 200, 429]


def test_order_creation_is_rate_limited_per_shopper(stack, shopper, other_shopper) -> None:
    stack.app.state.container.order_limiter = RateLimiter(per_minute=2)
    statuses = [
        shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}]}).status_code for _ in range(3)
    ]
    assert statuses == [201, 201, 429]
    assert other_shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}]}).status_code == 201
