"""Order subscribe messages over the real WeChat sandbox: sent on paid and shipped with the shopper's consent,
not sent (and not retried) without it, never twice, every attempt recorded."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from api.adapters import tables as t
from api.service_layer import notifications


def _send(stack) -> int:
    container = stack.app.state.container
    return notifications.send_pending(
        container.uow(), container.wechat, templates=stack.settings.subscribe_templates, now=datetime.now(UTC)
    )


def test_paid_shipped_and_refunded_orders_notify_the_shopper_only_as_far_as_they_consented(
    stack, shopper, back_office
) -> None:
    templates = stack.settings.subscribe_templates
    for kind in ("order_paid", "order_shipped"):  # the shopper allowed these two, not the refund message
        shopper.wechat.post(
            "/sandbox/subscribe/accept", json={"openid": shopper.openid, "template_id": templates[kind]}
        )
    order = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 2}], "coupon": "none"}).json()
    order_id = order["order_id"]
    shopper.pay(order_id)
    stack.wait_for(lambda: shopper.api.get(f"/v1/orders/{order_id}").json()["status"] == "paid")
    assert _send(stack) == 1
    back_office.api.post(f"/admin/v1/orders/{order_id}/ship", json={"tracking_no": "SF1234567890"})
    refund = shopper.api.post(f"/v1/orders/{order_id}/refund", json={"reason": "不想要了"}).json()
    back_office.api.post(f"/admin/v1/refunds/{refund['refund_id']}/approve")
    stack.wait_for(lambda: shopper.api.get(f"/v1/orders/{order_id}").json()["status"] == "refunded")
    assert _send(stack) == 1
    assert _send(stack) == 0

    messages = shopper.wechat.get("/sandbox/subscribe/messages", params={"openid": shopper.openid}).json()
    assert [m["data"]["phrase4"]["value"] for m in messages] == ["已支付", "已发货"]
    assert messages[0]["data"]["amount3"]["value"] == "¥198.00"
    assert messages[0]["data"]["character_string1"]["value"] == order_id
    assert messages[0]["page"] == f"pages/order/detail?id={order_id}"

    with stack.app.state.container.uow() as uow:
        recorded = {
            row.kind: (row.status, row.errcode, row.attempts)
            for row in uow.session.execute(select(t.order_notifications))
        }
        outcomes = list(
            uow.session.execute(
                select(t.outbox.c.payload).where(t.outbox.c.event_name == "SubscribeMessageSent")
            ).scalars()
        )
    assert recorded == {
        "order_paid": ("sent", 0, 1),
        "order_shipped": ("sent", 0, 1),
        "order_refunded": ("no_quota", 43101, 1),
    }
    assert len(outcomes) == 3
