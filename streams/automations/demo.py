"""The rules `make demo` runs with: an abandoned-cart reminder after a demo-sized delay, win-back, birthday,
and the share reward. Published on the compacted rules topic like any marketer's rule."""

from __future__ import annotations

from datetime import time

import orjson

from shoploop.kafka import KafkaSettings, Topics, ensure_topics
from streams.automations.rules import Rule

# Subscribe-message templates as the mini-program's console would name them.
CART_TEMPLATE = "TPL_CART_REMINDER"
WIN_BACK_TEMPLATE = "TPL_COMEBACK_GIFT"
BIRTHDAY_TEMPLATE = "TPL_BIRTHDAY_GIFT"


def demo_rules(*, cart_delay_s: int = 120) -> list[Rule]:
    """The demo's rule book; the cart reminder goes out `cart_delay_s` after the last cart change."""
    return [
        Rule(
            rule_id="demo-abandoned-cart",
            version=1,
            kind="abandoned_cart",
            delay_s=cart_delay_s,
            cooldown_s=3600,
            # No quiet hours (start = end), stated so: the default 22:00-08:00 would hold every reminder of a
            # demo run in the evening until the next morning. Real rules keep the default.
            quiet_start=time(0, 0),
            quiet_end=time(0, 0),
            template_id=CART_TEMPLATE,
            template_data={
                "thing1": "{product_name}",
                "number2": "{items}",
                "thing3": "您的购物车还有商品待结算",
            },
            page="pages/cart/index",
        ),
        Rule(
            rule_id="demo-win-back",
            version=1,
            kind="win_back",
            delay_s=30 * 24 * 3600,
            cooldown_s=30 * 24 * 3600,
            template_id=WIN_BACK_TEMPLATE,
            template_data={"thing1": "回归礼包已到账", "thing2": "10元无门槛券"},
            page="pages/home/index",
            coupon_campaign_id="comeback-10-yuan",
        ),
        Rule(
            rule_id="demo-birthday",
            version=1,
            kind="birthday",
            cooldown_s=300 * 24 * 3600,
            template_id=BIRTHDAY_TEMPLATE,
            template_data={"thing1": "生日快乐", "thing2": "生日专享券"},
            page="pages/home/index",
            coupon_campaign_id="birthday-20-yuan",
        ),
        Rule(
            rule_id="demo-share-reward",
            version=1,
            kind="referral_reward",
            sharer_campaign_id="share-5-yuan",
            friend_campaign_id="share-5-yuan",
        ),
    ]


def publish_demo_rules(kafka: KafkaSettings, *, cart_delay_s: int = 120) -> list[Rule]:
    """Put the demo rules on `shoploop.automation.rules` (keyed by rule id); the streams pick them up live."""
    from kafka import KafkaProducer

    ensure_topics(kafka, (Topics.AUTOMATION_RULES,))
    rules = demo_rules(cart_delay_s=cart_delay_s)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    try:
        for rule in rules:
            producer.send(
                Topics.AUTOMATION_RULES.name,
                key=rule.rule_id.encode(),
                value=orjson.dumps(rule.model_dump(mode="json")),
            )
        producer.flush()
    finally:
        producer.close()
    return rules
