"""Payments that do not arrive the usual way: lost notifications, unpaid orders past their window, retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.service_layer import orders


def test_an_active_query_marks_the_order_paid_when_the_notification_never_arrives(stack, shopper) -> None:
    order = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}]}).json()
    assert shopper.pay(order["order_id"], notify=False) == {"errMsg": "requestPayment:ok"}
    assert shopper.api.get(f"/v1/orders/{order['order_id']}").json()["status"] == "pending_payment"
    assert shopper.api.post(f"/v1/orders/{order['order_id']}/sync-payment").json()["status"] == "paid"


def test_an_unpaid_order_is_closed_after_its_window_at_wechat_too_and_its_stock_returns(
    stack, shopper
) -> None:
    order = shopper.place_order({"items": [{"sku_id": "mug", "quantity": 1}]}).json()
    shopper.api.post(f"/v1/orders/{order['order_id']}/prepay")
    assert shopper.api.get("/v1/products/p-mug").json()["skus"][0]["stock"] == 0
    container = stack.app.state.container
    later = datetime.now(UTC) + timedelta(seconds=stack.settings.payment_window_s + 1)
    assert orders.close_expired_orders(container.uow(), container.pay, now=later) == 1
    assert shopper.api.get(f"/v1/orders/{order['order_id']}").json()["status"] == "closed"
    assert stack.sandbox.transactions[order["order_id"]].trade_state == "CLOSED"
    assert shopper.api.get("/v1/products/p-mug").json()["skus"][0]["stock"] == 1


def test_an_order_paid_just_before_the_window_ends_is_not_closed(stack, shopper) -> None:
    order = shopper.place_order({"items": [{"sku_id": "mug", "quantity": 1}]}).json()
    shopper.pay(order["order_id"], notify=False)
    container = stack.app.state.container
    later = datetime.now(UTC) + timedelta(seconds=stack.settings.payment_window_s + 1)
    assert orders.close_expired_orders(container.uow(), container.pay, now=later) == 0
    assert shopper.api.get(f"/v1/orders/{order['order_id']}").json()["status"] == "paid"


def test_the_same_idempotency_key_returns_the_same_order_and_reserves_stock_once(stack, shopper) -> None:
    body = {"items": [{"sku_id": "tee-blue-l", "quantity": 2}]}
    first = shopper.place_order(body, key="same-key-123")
    again = shopper.place_order(body, key="same-key-123")
    assert first.json()["order_id"] == again.json()["order_id"]
    assert shopper.api.get("/v1/products/p-tee").json()["skus"][0]["stock"] == 1
    assert shopper.place_order(body).json()["code"] == "out_of_stock"


def test_wechat_retries_a_notification_our_server_did_not_accept(stack, shopper) -> None:
    order = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}]}).json()
    params = shopper.api.post(f"/v1/orders/{order['order_id']}/prepay").json()
    transaction = stack.sandbox.transactions[order["order_id"]]
    transaction.notify_url = stack.api_url + "/v1/payments/wechat/nowhere"
    shopper.wechat.post("/sandbox/request-payment", json=params)
    delivery = next(d for d in stack.sandbox.deliveries if d.url.endswith("/nowhere"))
    stack.wait_for(lambda: delivery.attempts >= 2, timeout_s=20)
    assert not delivery.delivered
    assert 200 not in delivery.statuses and 204 not in delivery.statuses
