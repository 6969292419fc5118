"""Automation rules: marketers configure them through the API; each save is validated with the streams' rule
model, versioned and queued in the outbox for the compacted rules topic, keyed by rule id."""

from __future__ import annotations

from sqlalchemy import select

from api.adapters import tables as t
from api.service_layer.accounts import Role
from shoploop.kafka import Topics
from streams.automations.rules import parse_rule


def test_a_marketer_publishes_versioned_rules_the_streams_can_parse_and_nobody_else_can(
    stack, staff_member
) -> None:
    cart_rule = {
        "kind": "abandoned_cart",
        "delay_s": 3600,
        "template_id": "TPL-CART",
        "page": "pages/cart/index",
    }
    operator = staff_member("ops", Role.OPERATOR)
    assert operator.api.put("/admin/v1/automation-rules/cart-1h", json=cart_rule).status_code == 403
    marketer = staff_member("lili", Role.MARKETER)
    first = marketer.api.put("/admin/v1/automation-rules/cart-1h", json=cart_rule)
    assert first.status_code == 200, first.text
    assert (first.json()["rule_id"], first.json()["version"]) == ("cart-1h", 1)
    second = marketer.api.put("/admin/v1/automation-rules/cart-1h", json={**cart_rule, "delay_s": 7200})
    assert second.json()["version"] == 2

    typo = marketer.api.put("/admin/v1/automation-rules/cart-1h", json={**cart_rule, "dealy_s": 60})
    assert typo.status_code == 422 and typo.json()["code"] == "invalid_rule"
    no_campaign = marketer.api.put(
        "/admin/v1/automation-rules/win-back", json={"kind": "win_back", "coupon_campaign_id": "cc-missing"}
    )
    assert no_campaign.status_code == 422
    retired = marketer.api.delete("/admin/v1/automation-rules/cart-1h")
    assert (retired.json()["version"], retired.json()["is_active"]) == (3, False)
    assert marketer.api.delete("/admin/v1/automation-rules/nothing").status_code == 404
    assert [r["version"] for r in operator.api.get("/admin/v1/automation-rules").json()] == [3]

    with stack.app.state.container.uow() as uow:
        queued = uow.session.execute(
            select(t.outbox.c.topic, t.outbox.c.key, t.outbox.c.payload).where(
                t.outbox.c.event_name == "AutomationRule"
            )
        ).all()
    assert {(row.topic, row.key) for row in queued} == {(Topics.AUTOMATION_RULES.name, "cart-1h")}
    versions = sorted(parse_rule(row.payload.encode()).version for row in queued)
    assert versions == [1, 2, 3]


def test_a_rules_audience_is_validated_stored_and_published_with_a_new_version(stack, staff_member) -> None:
    marketer = staff_member("lili", Role.MARKETER)
    cart_rule = {"kind": "abandoned_cart", "delay_s": 3600, "template_id": "TPL-CART"}
    assert marketer.api.put("/admin/v1/automation-rules/cart-gd", json=cart_rule).json()["audience"] is None
    audience = {"segments": ["loyal", "champion"], "provinces": ["广东"], "min_paid_orders": 2}

    saved = marketer.api.put("/admin/v1/automation-rules/cart-gd", json={**cart_rule, "audience": audience})

    assert saved.status_code == 200, saved.text
    expected = {"segments": ["champion", "loyal"], "provinces": ["广东"], "min_paid_orders": 2}
    assert (saved.json()["version"], saved.json()["audience"]) == (2, expected)
    [listed] = marketer.api.get("/admin/v1/automation-rules").json()
    assert listed["audience"] == expected
    for bad, where in (
        ({**audience, "segments": ["vip"]}, "audience.segments.0"),
        ({**audience, "min_paid_orders": -1}, "audience.min_paid_orders"),
        ({**audience, "cities": ["深圳"]}, "audience.cities"),
    ):
        refused = marketer.api.put("/admin/v1/automation-rules/cart-gd", json={**cart_rule, "audience": bad})
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_rule"
        assert refused.json()["message"].startswith(where)
    reward = marketer.api.put(
        "/admin/v1/automation-rules/share",
        json={"kind": "referral_reward", "audience": {"min_paid_orders": 1}},
    )
    assert reward.status_code == 422 and "no audience" in reward.json()["message"]
    # Pausing keeps the audience (the console sends the rule back unchanged but for is_active).
    paused = marketer.api.put(
        "/admin/v1/automation-rules/cart-gd", json={**cart_rule, "audience": expected, "is_active": False}
    )
    assert (paused.json()["version"], paused.json()["audience"]) == (3, expected)
    retired = marketer.api.delete("/admin/v1/automation-rules/cart-gd").json()
    assert (retired["version"], retired["audience"]) == (4, expected)

    with stack.app.state.container.uow() as uow:
        queued = uow.session.execute(
            select(t.outbox.c.payload).where(
                (t.outbox.c.event_name == "AutomationRule") & (t.outbox.c.key == "cart-gd")
            )
        ).scalars()
        published = sorted(
            (parse_rule(payload.encode()) for payload in queued), key=lambda rule: rule.version
        )
    assert [rule.version for rule in published] == [1, 2, 3, 4]
    assert published[0].audience is None
    assert published[1].audience is not None and published[1].audience.provinces == ("广东",)
    assert published[1].audience.min_paid_orders == 2
