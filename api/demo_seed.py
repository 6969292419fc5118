"""What `make demo` needs in the order core besides the catalogue, created once and idempotently.

Development only (`shoploop api` calls it when `environment == "development"`): staff accounts with
known demo passwords, the coupon campaigns the demo's automation rules grant, those rules saved through
the marketers' own rule service (so they are versioned and published to the streams through the outbox,
exactly as a marketer's would be), and a running A/B experiment for the experiments mart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from api.domain.coupons import CouponOffer
from api.service_layer import accounts, automation_rules, coupons, experiments
from api.service_layer.unit_of_work import UnitOfWork
from streams.automations.demo import demo_rules
from streams.automations.rules import Rule

DEMO_STAFF_PASSWORD = "shoploop-demo-password"
DEMO_STAFF = (
    ("admin", accounts.Role.ADMIN),
    ("operator", accounts.Role.OPERATOR),
    ("marketer", accounts.Role.MARKETER),
    ("analyst", accounts.Role.ANALYST),
)
# campaign id → (title, offer): the ids the demo rules name.
DEMO_CAMPAIGNS = {
    "share-5-yuan": ("分享领券 5元无门槛", CouponOffer(discount_fen=500)),
    "comeback-10-yuan": ("回归礼包 10元无门槛", CouponOffer(discount_fen=1000)),
    "birthday-20-yuan": ("生日券 满100减20", CouponOffer(threshold_fen=10_000, discount_fen=2000)),
}
DEMO_EXPERIMENT_ID = "demo-checkout-button"


def seed_demo(new_uow: Callable[[], UnitOfWork], *, now: datetime, cart_delay_s: int = 120) -> list[str]:
    """Create what is missing and bring the demo rules up to date; returns what changed (empty when
    nothing did). Rules with other ids — marketers' own — are not touched."""
    created: list[str] = []
    staff_ids: dict[str, str] = {}
    for username, role in DEMO_STAFF:
        try:
            member = accounts.create_staff(
                new_uow(), username=username, password=DEMO_STAFF_PASSWORD, role=role, now=now
            )
            staff_ids[username] = member.staff_id
            created.append(f"staff {username}")
        except accounts.UsernameTaken:
            continue
    for campaign_id, (title, offer) in DEMO_CAMPAIGNS.items():
        uow = new_uow()
        with uow:
            exists = uow.coupons.campaign(campaign_id) is not None
        if not exists:
            coupons.create_campaign(
                new_uow(),
                campaign_id=campaign_id,
                title=title,
                offer=offer,
                total_quantity=1_000_000,
                valid_from=now,
                valid_until=now + timedelta(days=365),
                is_claimable=False,
            )
            created.append(f"campaign {campaign_id}")
    saved_rules = {rule["rule_id"]: rule for rule in automation_rules.list_rules(new_uow())}
    for rule in demo_rules(cart_delay_s=cart_delay_s):
        body = rule.model_dump(mode="json", exclude={"rule_id", "version"})
        saved = saved_rules.get(rule.rule_id)
        if saved is not None:
            # An existing var/ keeps the demo rule as it was saved: bring it to the current definition
            # (a new version), but leave it retired if someone retired it.
            current = Rule.model_validate(saved).model_dump(mode="json", exclude={"rule_id", "version"})
            body["is_active"] = current["is_active"]
            if body == current:
                continue
        automation_rules.save_rule(
            new_uow(), rule_id=rule.rule_id, body=body, staff_id=staff_ids.get("marketer", "demo"), now=now
        )
        created.append(f"rule {rule.rule_id}" if saved is None else f"rule {rule.rule_id} updated")
    try:
        experiments.create(
            new_uow(),
            experiment_id=DEMO_EXPERIMENT_ID,
            name="结算按钮文案: 立即支付 vs 马上抢购",
            variants=[("control", 50), ("urgent", 50)],
            target_metric="conversion_rate",
            starts_at=now,
            stops_at=now + timedelta(days=30),
            staff_id=staff_ids.get("analyst", "demo"),
            now=now,
        )
        created.append(f"experiment {DEMO_EXPERIMENT_ID}")
    except experiments.ExperimentExists:
        pass
    return created
