"""Group buys (拼团) over HTTP: start, join through the share, complete on N payments, or refund everyone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from api.adapters import tables as t
from api.service_layer import group_buys


def _deal(back_office, *, group_size: int, window_s: int = 3600) -> str:
    now = datetime.now(UTC)
    answer = back_office.api.post(
        "/admin/v1/group-buy-deals",
        json={
            "sku_id": "tee-red-m",
            "group_price_fen": 6900,
            "group_size": group_size,
            "window_s": window_s,
            "valid_from": (now - timedelta(minutes=1)).isoformat(),
            "valid_until": (now + timedelta(days=1)).isoformat(),
        },
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["deal_id"])


def _seat(shopper, path: str, body: dict) -> dict:
    answer = shopper.api.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _outbox(stack) -> list[str]:
    with stack.app.state.container.uow() as uow:
        return list(uow.session.execute(select(t.outbox.c.event_name)).scalars())


def test_a_group_buy_completes_when_every_member_has_paid_and_only_then_ships(
    stack, shopper, other_shopper, back_office
) -> None:
    deal_id = _deal(back_office, group_size=2)
    assert [d["deal_id"] for d in shopper.api.get("/v1/group-buy-deals").json()] == [deal_id]
    leader = _seat(shopper, "/v1/group-buys", {"deal_id": deal_id})
    group_id = leader["group"]["group_id"]
    assert leader["order"]["total_fen"] == 6900 and leader["order"]["group_buy_id"] == group_id
    shopper.pay(leader["order"]["order_id"])
    stack.wait_for(lambda: shopper.api.get(f"/v1/group-buys/{group_id}").json()["members_paid"] == 1)

    shipped_early = back_office.api.post(
        f"/admin/v1/orders/{leader['order']['order_id']}/ship", json={"tracking_no": "SF0000000001"}
    )
    assert shipped_early.status_code == 409
    assert shipped_early.json()["code"] == "group_buy_incomplete"

    friend = _seat(other_shopper, f"/v1/group-buys/{group_id}/join", {})
    assert friend["group"]["members_joined"] == 2
    other_shopper.pay(friend["order"]["order_id"])
    stack.wait_for(lambda: shopper.api.get(f"/v1/group-buys/{group_id}").json()["status"] == "completed")

    shipped = back_office.api.post(
        f"/admin/v1/orders/{leader['order']['order_id']}/ship", json={"tracking_no": "SF0000000001"}
    )
    assert shipped.status_code == 200, shipped.text
    names = _outbox(stack)
    assert names.count("GroupBuyJoined") == 2 and names.count("GroupBuyCompleted") == 1


def test_a_group_that_does_not_fill_in_time_refunds_every_paid_member_automatically(
    stack, shopper, other_shopper, back_office
) -> None:
    deal_id = _deal(back_office, group_size=3)
    leader = _seat(shopper, "/v1/group-buys", {"deal_id": deal_id})
    group_id = leader["group"]["group_id"]
    friend = _seat(other_shopper, f"/v1/group-buys/{group_id}/join", {})
    shopper.pay(leader["order"]["order_id"])
    stack.wait_for(lambda: shopper.api.get(f"/v1/group-buys/{group_id}").json()["members_paid"] == 1)

    container = stack.app.state.container
    later = datetime.now(UTC) + timedelta(hours=2)
    assert (
        group_buys.settle_expired_group_buys(
            container.uow(), container.pay, now=later, notify_url=stack.settings.refund_notify_url
        )
        == 1
    )

    assert shopper.api.get(f"/v1/group-buys/{group_id}").json()["status"] == "failed"
    leader_order = f"/v1/orders/{leader['order']['order_id']}"
    stack.wait_for(lambda: shopper.api.get(leader_order).json()["status"] == "refunded")
    assert shopper.api.get(leader_order).json()["refunded_fen"] == 6900
    assert other_shopper.api.get(f"/v1/orders/{friend['order']['order_id']}").json()["status"] == "closed"
    assert shopper.api.get("/v1/products/p-tee").json()["skus"][1]["stock"] == 10
    assert "GroupBuyFailed" in _outbox(stack)
    again = group_buys.settle_expired_group_buys(
        container.uow(), container.pay, now=later, notify_url=stack.settings.refund_notify_url
    )
    assert again == 0 and len(stack.sandbox.refunds) == 1


def test_a_shopper_cannot_take_two_seats_in_one_group_nor_join_a_full_or_expired_group(
    stack, shopper, other_shopper, third_shopper, back_office
) -> None:
    deal_id = _deal(back_office, group_size=2)
    leader = _seat(shopper, "/v1/group-buys", {"deal_id": deal_id})
    group_id = leader["group"]["group_id"]
    twice = shopper.api.post(
        f"/v1/group-buys/{group_id}/join", json={}, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert twice.status_code == 409 and twice.json()["code"] == "group_buy_already_joined"
    _seat(other_shopper, f"/v1/group-buys/{group_id}/join", {})

    third = third_shopper
    full = third.api.post(
        f"/v1/group-buys/{group_id}/join", json={}, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert full.status_code == 409 and full.json()["code"] == "group_buy_full"
    page = third.api.get(f"/v1/group-buys/{group_id}").json()
    assert page["members_joined"] == 2 and shopper.user_id not in str(page)
    assert shopper.api.get("/v1/products/p-tee").json()["skus"][1]["stock"] == 8

    container = stack.app.state.container
    group_buys.settle_expired_group_buys(
        container.uow(),
        container.pay,
        now=datetime.now(UTC) + timedelta(hours=2),
        notify_url=stack.settings.refund_notify_url,
    )
    late = third.api.post(
        f"/v1/group-buys/{group_id}/join", json={}, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert late.status_code == 409 and late.json()["code"] == "group_buy_closed"
