"""Account erasure (注销, PIPL) through the real app, on SQLite and PostgreSQL: the profile goes, the transaction
records the E-commerce Law requires stay."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from api.adapters import tables as t
from api.service_layer.account_erasure import is_erased_openid
from api.service_layer.accounts import Role
from tests.e2e.api.conftest import MiniProgram, Stack

ADDRESS = {
    "recipient": "王小明",
    "phone": "13800138000",
    "province": "上海",
    "city": "上海",
    "detail": "南京西路1号",
}


def _count(stack: Stack, table: Any, user_id: str) -> int:
    with stack.app.state.container.uow() as uow:
        return int(
            uow.session.execute(
                select(func.count()).select_from(table).where(table.c.user_id == user_id)
            ).scalar_one()
        )


def _a_shopper_with_a_profile_and_a_paid_order(stack: Stack, shopper: MiniProgram) -> str:
    """Xiaoming has two addresses (one on a paid order), a cart, a favourite, a footprint, points and an order."""
    shipped_to = shopper.api.post("/v1/addresses", json=ADDRESS).json()["address_id"]
    assert shopper.api.post("/v1/addresses", json={**ADDRESS, "detail": "淮海中路99号"}).status_code == 201
    placed = shopper.place_order({"items": [{"sku_id": "mug", "quantity": 1}], "address_id": shipped_to})
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["order_id"]
    assert shopper.pay(order_id) == {"errMsg": "requestPayment:ok"}
    stack.wait_for(lambda: shopper.api.get(f"/v1/orders/{order_id}").json()["status"] == "paid")
    assert shopper.api.put("/v1/cart/items/tee-red-m", json={"quantity": 1}).status_code == 204
    assert shopper.api.put("/v1/favourites/p-tee").status_code == 204
    assert shopper.api.post("/v1/footprints", json={"product_id": "p-tee"}).status_code == 204
    assert shopper.api.get("/v1/membership").json()["points_balance"] > 0
    return order_id


def test_a_shopper_who_closes_her_account_loses_her_profile_and_keeps_her_paid_order_on_record(
    stack: Stack, shopper: MiniProgram, back_office: Any
) -> None:
    order_id = _a_shopper_with_a_profile_and_a_paid_order(stack, shopper)
    user_id = shopper.user_id

    answer = shopper.api.delete("/v1/account")

    assert answer.status_code == 200, answer.text
    erasure = answer.json()
    assert erasure["was_already_erased"] is False
    assert erasure["deleted"]["addresses"] == 1  # the address the order went to stays with the order
    assert erasure["kept"] == {"orders": 1, "refunds": 0, "addresses": 1}
    for table in (t.cart_items, t.favourites, t.footprints, t.member_accounts, t.points_entries, t.coupons):
        assert _count(stack, table, user_id) == 0, table.name
    with stack.app.state.container.uow() as uow:
        account = uow.session.execute(select(t.users).where(t.users.c.user_id == user_id)).mappings().one()
    assert is_erased_openid(account["openid"]) and shopper.openid not in account["openid"]
    assert (account["unionid"], account["session_key"]) == (None, "")
    assert shopper.api.get("/v1/cart").status_code == 401  # logged out everywhere
    kept = [o for o in back_office.api.get("/admin/v1/orders").json() if o["order_id"] == order_id]
    assert [(o["status"], o["user_id"]) for o in kept] == [("paid", user_id)]
    # The same WeChat account logging in again is a new shopper with nothing of the old one.
    again = MiniProgram(stack, "xiaoming")
    assert again.user_id != user_id
    assert again.api.get("/v1/addresses").json() == []
    assert again.api.get("/v1/orders").json() == []


def test_the_back_office_erases_an_account_once_admins_only_and_a_second_time_changes_nothing(
    stack: Stack, shopper: MiniProgram, other_shopper: MiniProgram, back_office: Any, staff_member: Any
) -> None:
    assert other_shopper.api.post("/v1/addresses", json=ADDRESS).status_code == 201
    operator = staff_member("ops", Role.OPERATOR)
    refused = operator.api.post(f"/admin/v1/accounts/{other_shopper.user_id}/erasure")
    assert refused.status_code == 403
    assert _count(stack, t.addresses, other_shopper.user_id) == 1

    first = back_office.api.post(f"/admin/v1/accounts/{other_shopper.user_id}/erasure")
    with stack.app.state.container.uow() as uow:
        placeholder = uow.session.execute(
            select(t.users.c.openid).where(t.users.c.user_id == other_shopper.user_id)
        ).scalar_one()
    second = back_office.api.post(f"/admin/v1/accounts/{other_shopper.user_id}/erasure")

    assert first.status_code == 200 and first.json()["deleted"]["addresses"] == 1
    assert second.status_code == 200 and second.json()["was_already_erased"] is True
    assert set(second.json()["deleted"].values()) == {0}
    with stack.app.state.container.uow() as uow:
        assert (
            uow.session.execute(
                select(t.users.c.openid).where(t.users.c.user_id == other_shopper.user_id)
            ).scalar_one()
            == placeholder
        )
        audit = uow.session.execute(
            select(t.account_audit_log.c.actor).where(
                t.account_audit_log.c.user_id == other_shopper.user_id,
                t.account_audit_log.c.action == "erased",
            )
        ).scalars()
        assert list(audit) == ["boss"]
    assert shopper.api.get("/v1/addresses").status_code == 200  # nobody else is touched
    missing = back_office.api.post("/admin/v1/accounts/u-nobody/erasure")
    assert missing.status_code == 404 and missing.json()["code"] == "account_not_found"
