"""The abnormal-account review queue (防刷单): a flag from the streams freezes the account (no orders, coupon
claims or points redemptions) until staff review it; freeze, review and unfreeze need the operator role and
every step is in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from api.adapters.flag_consumer import apply_flag
from api.service_layer.accounts import Role


def _flag(stack, user_id: str, reason: str = "crowded_device") -> bool:
    container = stack.app.state.container
    raw = orjson.dumps(
        {
            "flag_id": f"flag-{user_id}-{reason}",
            "user_id": user_id,
            "reason": reason,
            "at": datetime.now(UTC).isoformat(),
            "evidence": {"device_id": "dev-farm-1", "accounts": 4},
        }
    )
    return apply_flag(container.uow(), raw, now=container.now())


def test_a_flagged_account_is_frozen_until_an_operator_dismisses_the_flag(
    stack, shopper, other_shopper, back_office, staff_member
) -> None:
    now = datetime.now(UTC)
    campaign = back_office.api.post(
        "/admin/v1/coupon-campaigns",
        json={
            "title": "新人券",
            "discount_fen": 500,
            "total_quantity": 10,
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_until": (now + timedelta(days=3)).isoformat(),
        },
    ).json()
    reward = back_office.api.post(
        "/admin/v1/point-rewards",
        json={"title": "5 元券", "kind": "coupon", "cost_points": 50, "campaign_id": campaign["campaign_id"]},
    ).json()

    assert _flag(stack, shopper.user_id) is True
    assert _flag(stack, shopper.user_id) is False  # redelivered by the streams: nothing more happens

    order = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}]})
    claim = shopper.api.post(f"/v1/coupon-campaigns/{campaign['campaign_id']}/claim")
    redeem = shopper.api.post(f"/v1/point-rewards/{reward['reward_id']}/redeem")
    for refused in (order, claim, redeem):
        assert refused.status_code == 403 and refused.json()["code"] == "account_frozen", refused.text
    # Other shoppers are not affected.
    assert other_shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}]}).status_code == 201

    marketer = staff_member("lili", Role.MARKETER)
    analyst = staff_member("ada", Role.ANALYST)
    queue = analyst.api.get("/admin/v1/account-flags").json()
    assert [(f["user_id"], f["reason"], f["is_frozen"]) for f in queue] == [
        (shopper.user_id, "crowded_device", True)
    ]
    flag_id = queue[0]["flag_id"]
    dismiss = {"decision": "dismiss", "note": "family shares one phone"}
    assert marketer.api.post(f"/admin/v1/account-flags/{flag_id}/review", json=dismiss).status_code == 403
    assert (
        analyst.api.post(f"/admin/v1/accounts/{shopper.user_id}/unfreeze", json={"reason": "x"}).status_code
        == 403
    )

    operator = staff_member("ops", Role.OPERATOR)
    reviewed = operator.api.post(f"/admin/v1/account-flags/{flag_id}/review", json=dismiss)
    assert reviewed.json() == {
        "flag_id": flag_id,
        "user_id": shopper.user_id,
        "status": "dismissed",
        "is_frozen": False,
    }
    again = operator.api.post(f"/admin/v1/account-flags/{flag_id}/review", json=dismiss)
    assert again.status_code == 409
    assert analyst.api.get("/admin/v1/account-flags").json() == []
    assert shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}]}).status_code == 201

    # By hand: an operator freezes and unfreezes; unknown accounts are 404.
    assert (
        operator.api.post(
            f"/admin/v1/accounts/{shopper.user_id}/freeze", json={"reason": "chargeback"}
        ).status_code
        == 200
    )
    assert shopper.api.post(f"/v1/coupon-campaigns/{campaign['campaign_id']}/claim").status_code == 403
    assert (
        operator.api.post(
            f"/admin/v1/accounts/{shopper.user_id}/unfreeze", json={"reason": "paid"}
        ).status_code
        == 200
    )
    assert shopper.api.post(f"/v1/coupon-campaigns/{campaign['campaign_id']}/claim").status_code == 201
    assert operator.api.post("/admin/v1/accounts/u-nobody/freeze", json={"reason": "x"}).status_code == 404

    log = analyst.api.get(f"/admin/v1/accounts/{shopper.user_id}/audit-log").json()
    assert [(e["action"], e["actor"]) for e in log] == [
        ("flagged", "streams"),
        ("frozen", "streams"),
        ("dismissed", "ops"),
        ("unfrozen", "ops"),
        ("frozen", "ops"),
        ("unfrozen", "ops"),
    ]


def test_a_confirmed_flag_keeps_the_account_frozen(stack, shopper, back_office) -> None:
    _flag(stack, shopper.user_id, reason="order_burst")
    flag_id = back_office.api.get("/admin/v1/account-flags").json()[0]["flag_id"]
    confirmed = back_office.api.post(
        f"/admin/v1/account-flags/{flag_id}/review", json={"decision": "confirm", "note": "刷单"}
    )
    assert confirmed.json()["is_frozen"] is True
    refused = shopper.place_order({"items": [{"sku_id": "tee-red-m", "quantity": 1}]})
    assert refused.json()["code"] == "account_frozen"
    assert back_office.api.get("/admin/v1/account-flags", params={"status": "confirmed"}).json()[0][
        "is_frozen"
    ]
