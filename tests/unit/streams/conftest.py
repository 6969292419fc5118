"""A small shop to drive the decision core with: people doing things at given times."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams.automations.rules import PushPolicy, Rule
from streams.engine.core import AbuseLimits, Engine, Output
from streams.inputs import Activity, OrderFact

# Monday 2 March 2026, 10:00 in Shanghai.
MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


class Shop:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.outputs: list[Output] = []
        self._ids = itertools.count()

    def rule(self, **fields: Any) -> Rule:
        defaults: dict[str, Any] = {
            "rule_id": "cart-24h",
            "version": 1,
            "kind": "abandoned_cart",
            "template_id": "TPL_CART",
            "template_data": {"thing1": "{product_name}", "phrase2": "待支付"},
            "page": "pages/cart/index",
            "holdout_share": 0.0,
            "cooldown_s": 0,
        }
        rule = Rule(**(defaults | fields))
        self.engine.publish_rule(rule)
        return rule

    def track(
        self, person: str, event: str, at: datetime, *, user_id: str | None = None, **properties: Any
    ) -> None:
        self._offer(
            Activity(
                message_id=f"m{next(self._ids):06d}",
                person_id=person,
                at=at,
                type="track",
                event=event,
                user_id=user_id,
                scene=properties.pop("scene", None),
                openid=properties.pop("openid", f"o_{person}"),
                device_id=properties.pop("device_id", f"dev_{person}"),
                properties=properties,
            )
        )

    def identify(self, person: str, at: datetime, *, user_id: str, **traits: Any) -> None:
        self._offer(
            Activity(
                message_id=f"m{next(self._ids):06d}",
                person_id=person,
                at=at,
                type="identify",
                event=None,
                user_id=user_id,
                openid=traits.pop("openid", f"o_{person}"),
                device_id=traits.pop("device_id", f"dev_{person}"),
                traits=traits,
            )
        )

    def consent(self, person: str, at: datetime, template_id: str = "TPL_CART", times: int = 1) -> None:
        for _ in range(times):
            self.track(person, "Subscribe Message Consent", at, results={template_id: "accept"})

    def add_to_cart(self, person: str, at: datetime, product_id: str = "p-teapot", quantity: int = 1) -> None:
        self.track(
            person,
            "Product Added",
            at,
            product_id=product_id,
            sku=f"sku-{product_id}",
            name="白瓷茶壶",
            quantity=quantity,
        )

    def paid(self, user_id: str, order_id: str, at: datetime, total_fen: int = 8_800) -> None:
        self._offer(
            OrderFact(
                f"paid:{order_id}", "OrderPaid", at, user_id=user_id, order_id=order_id, total_fen=total_fen
            )
        )

    def placed(self, user_id: str, order_id: str, at: datetime) -> None:
        self._offer(OrderFact(f"placed:{order_id}", "OrderPlaced", at, user_id=user_id, order_id=order_id))

    def sold_out(self, sku_id: str, at: datetime) -> None:
        self._offer(OrderFact(f"stock:{sku_id}:{at}", "StockLow", at, sku_id=sku_id, stock=0))

    def _offer(self, item: Activity | OrderFact) -> None:
        self.outputs += self.engine.offer(item)

    def run_until(self, until: datetime) -> list[Output]:
        self.outputs += self.engine.advance_to(until)
        return self.outputs

    def of(self, stream: str) -> list[dict[str, Any]]:
        return [output.value for output in self.outputs if output.stream == stream]

    def triggers(self, outcome: str | None = None) -> list[dict[str, Any]]:
        return [t for t in self.of("triggers") if outcome is None or t["outcome"] == outcome]


@pytest.fixture
def shop() -> Shop:
    return Shop(Engine(policy=PushPolicy(daily_cap=2), abuse=AbuseLimits()))


@pytest.fixture
def morning() -> datetime:
    return MORNING


@pytest.fixture
def hour() -> timedelta:
    return timedelta(hours=1)
