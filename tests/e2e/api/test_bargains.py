"""砍价 over the real app: friends cut the price to the floor, one cut per friend whatever account, device
or WeChat identity they use, and the starter buys once at the bargained price."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update

from api.adapters import tables as t
from api.service_layer.accounts import Role
from tests.e2e.api.conftest import MiniProgram


def _cut(friend, bargain_id: str, device: str):
    return friend.api.post(f"/v1/bargains/{bargain_id}/cut", headers={"X-Device-Id": device})


def test_friends_cut_a_bargain_to_the_floor_once_each_and_the_starter_buys_at_that_price(
    stack, shopper, other_shopper, third_shopper, staff_member
) -> None:
    marketer = staff_member("lili", Role.MARKETER)
    deal = marketer.api.post(
        "/admin/v1/bargain-deals",
        json={
            "sku_id": "tee-red-m",
            "floor_price_fen": 4900,
            "expected_cuts": 3,
            "window_s": 3600,
            "valid_until": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
    )
    assert deal.status_code == 201, deal.text
    assert [d["deal_id"] for d in shopper.api.get("/v1/bargain-deals").json()] == [deal.json()["deal_id"]]
    started = shopper.api.post(
        "/v1/bargains", json={"deal_id": deal.json()["deal_id"]}, headers={"X-Device-Id": "phone-ming-0001"}
    )
    assert started.status_code == 201, started.text
    bargain = started.json()
    bargain_id = bargain["bargain_id"]
    assert (bargain["price_fen"], bargain["status"]) == (9900, "open")

    assert _cut(shopper, bargain_id, "phone-ming-0002").json()["code"] == "bargain_own_cut"
    # A second account on the starter's phone is the starter.
    assert _cut(other_shopper, bargain_id, "phone-ming-0001").json()["code"] == "bargain_own_cut"

    first = _cut(other_shopper, bargain_id, "phone-hong-0001")
    assert first.status_code == 201, first.text
    assert 0 < first.json()["amount_fen"] < 5000
    assert first.json()["bargain"]["price_fen"] == 9900 - first.json()["amount_fen"]
    # The abuse: cutting again with the same account, or with another account on the same phone.
    assert _cut(other_shopper, bargain_id, "phone-hong-0002").json()["code"] == "bargain_already_cut"
    assert _cut(third_shopper, bargain_id, "phone-hong-0001").json()["code"] == "bargain_already_cut"
    # Or with another mini-program account of the same WeChat user (same unionid) on another phone.
    twin = MiniProgram(stack, "xiaohong-alt")
    with stack.app.state.container.uow() as uow:
        uow.session.execute(
            update(t.users)
            .where(t.users.c.user_id.in_([other_shopper.user_id, twin.user_id]))
            .values(unionid="union-xiaohong")
        )
        uow.commit()
    assert _cut(twin, bargain_id, "phone-hong-0003").json()["code"] == "bargain_already_cut"

    assert _cut(third_shopper, bargain_id, "phone-gang-0001").status_code == 201
    last = _cut(MiniProgram(stack, "xiaoli"), bargain_id, "phone-li-0001")
    assert last.json()["bargain"]["price_fen"] == 4900  # the expected number of friends reaches the floor
    assert last.json()["bargain"]["status"] == "at_floor"
    assert [c["cut_no"] for c in last.json()["bargain"]["cuts"]] == [1, 2, 3]
    assert "helper_user_id" not in last.text
    assert (
        _cut(MiniProgram(stack, "xiaozhang"), bargain_id, "phone-zhang-01").json()["code"] == "bargain_closed"
    )

    key = uuid.uuid4().hex
    stolen = other_shopper.api.post(
        f"/v1/bargains/{bargain_id}/order", json={}, headers={"Idempotency-Key": key}
    )
    assert stolen.status_code == 404
    bought = shopper.api.post(f"/v1/bargains/{bargain_id}/order", json={}, headers={"Idempotency-Key": key})
    assert bought.status_code == 201, bought.text
    assert (bought.json()["total_fen"], bought.json()["discount_fen"]) == (4900, 0)
    same = shopper.api.post(f"/v1/bargains/{bargain_id}/order", json={}, headers={"Idempotency-Key": key})
    assert same.json()["order_id"] == bought.json()["order_id"]
    twice = shopper.api.post(
        f"/v1/bargains/{bargain_id}/order", json={}, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert twice.json()["code"] == "bargain_closed"
    shopper.pay(bought.json()["order_id"])
    stack.wait_for(
        lambda: shopper.api.get(f"/v1/orders/{bought.json()['order_id']}").json()["status"] == "paid"
    )

    with stack.app.state.container.uow() as uow:
        names = list(
            uow.session.execute(
                select(t.outbox.c.event_name)
                .where(t.outbox.c.event_name.like("Bargain%"))
                .order_by(t.outbox.c.created_at)
            ).scalars()
        )
    assert sorted(names) == ["BargainCut"] * 3 + ["BargainOrdered", "BargainStarted"]


def _deal(staff_member, *, expected_cuts: int) -> str:
    deal = staff_member("lili", Role.MARKETER).api.post(
        "/admin/v1/bargain-deals",
        json={
            "sku_id": "tee-red-m",
            "floor_price_fen": 4900,
            "expected_cuts": expected_cuts,
            "window_s": 3600,
            "valid_until": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
    )
    assert deal.status_code == 201, deal.text
    return str(deal.json()["deal_id"])


def _all_at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    start = threading.Barrier(len(calls))

    def call(index: int) -> httpx.Response:
        start.wait()
        return calls[index]()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(call, range(len(calls))))


def test_friends_cutting_at_the_same_moment_each_get_their_cut_and_none_is_told_they_already_cut(
    stack, shopper, staff_member
) -> None:
    deal_id = _deal(staff_member, expected_cuts=20)
    bargain = shopper.api.post(
        "/v1/bargains", json={"deal_id": deal_id}, headers={"X-Device-Id": "phone-ming-0001"}
    ).json()
    friends = [MiniProgram(stack, f"race-friend-{n}") for n in range(6)]
    answers = _all_at_once(
        [
            lambda friend=friend, n=n: _cut(friend, bargain["bargain_id"], f"phone-race-{n:04d}")
            for n, friend in enumerate(friends)
        ]
    )
    codes = [a.json().get("code") for a in answers if a.status_code != 201]
    assert "bargain_already_cut" not in codes, codes
    # A friend who lost every retry to the others is asked to try again, and then gets their cut.
    assert set(codes) <= {"concurrent_update"}, codes
    for n, (friend, answer) in enumerate(zip(friends, answers, strict=True)):
        if answer.status_code != 201:
            assert _cut(friend, bargain["bargain_id"], f"phone-race-{n:04d}").status_code == 201

    final = shopper.api.get(f"/v1/bargains/{bargain['bargain_id']}").json()
    assert [c["cut_no"] for c in final["cuts"]] == [1, 2, 3, 4, 5, 6]
    assert final["price_fen"] == 9900 - sum(c["amount_fen"] for c in final["cuts"])


def test_one_friend_cutting_from_several_phones_at_the_same_moment_cuts_once(
    stack, shopper, other_shopper, staff_member
) -> None:
    deal_id = _deal(staff_member, expected_cuts=20)
    bargain = shopper.api.post(
        "/v1/bargains", json={"deal_id": deal_id}, headers={"X-Device-Id": "phone-ming-0001"}
    ).json()
    answers = _all_at_once(
        [lambda n=n: _cut(other_shopper, bargain["bargain_id"], f"phone-hong-{n:04d}") for n in range(6)]
    )
    assert [a.status_code for a in answers].count(201) <= 1
    refused = {a.json()["code"] for a in answers if a.status_code != 201}
    assert refused <= {"bargain_already_cut", "concurrent_update"}, refused
    final = shopper.api.get(f"/v1/bargains/{bargain['bargain_id']}").json()
    if not any(a.status_code == 201 for a in answers):  # every attempt lost to another: one more is the cut
        assert _cut(other_shopper, bargain["bargain_id"], "phone-hong-0099").status_code == 201
        final = shopper.api.get(f"/v1/bargains/{bargain['bargain_id']}").json()
    assert len(final["cuts"]) == 1
    assert (
        _cut(other_shopper, bargain["bargain_id"], "phone-hong-0100").json()["code"] == "bargain_already_cut"
    )


def test_after_the_deadline_nobody_cuts_and_the_starter_cannot_buy_at_the_bargained_price(
    stack, shopper, other_shopper, third_shopper, staff_member
) -> None:
    deal_id = _deal(staff_member, expected_cuts=5)
    bargain = shopper.api.post(
        "/v1/bargains", json={"deal_id": deal_id}, headers={"X-Device-Id": "phone-ming-0001"}
    ).json()
    assert _cut(other_shopper, bargain["bargain_id"], "phone-hong-0001").status_code == 201
    stock = shopper.api.get("/v1/products/p-tee").json()["skus"]
    with stack.app.state.container.uow() as uow:
        uow.session.execute(
            update(t.bargains)
            .where(t.bargains.c.bargain_id == bargain["bargain_id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        uow.commit()

    late = _cut(third_shopper, bargain["bargain_id"], "phone-gang-0001")
    assert late.status_code == 409 and late.json()["code"] == "bargain_closed", late.text
    bought = shopper.api.post(
        f"/v1/bargains/{bargain['bargain_id']}/order", json={}, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert bought.json()["code"] == "bargain_closed", bought.text
    page = shopper.api.get(f"/v1/bargains/{bargain['bargain_id']}").json()
    assert (page["status"], len(page["cuts"])) == ("expired", 1)
    assert shopper.api.get("/v1/products/p-tee").json()["skus"] == stock  # nothing reserved by the refusal
    assert shopper.api.get("/v1/orders").json() == []
