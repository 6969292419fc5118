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
