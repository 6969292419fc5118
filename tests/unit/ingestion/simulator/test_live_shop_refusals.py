"""When the order core refuses a shopper's call the simulator logs it and shops on; it never stops."""

from __future__ import annotations

from typing import Any

from ingestion.simulator.catalogue import Catalogue
from ingestion.simulator.live_shop import LiveShop
from ingestion.simulator.order_core import OrderCoreRefused, ShopperSession
from tests.unit.ingestion.simulator.conftest import START


class _RefusingBackend:
    def log_in(self, persona: str, *, client_ip: str | None = None) -> ShopperSession:
        return ShopperSession(user_id=f"u-{persona}", token="t", openid=f"o-{persona}")

    def assignments(self, session: ShopperSession, *, client_ip: str | None = None) -> list[dict[str, str]]:
        return []

    def recommendations(self, session: ShopperSession, **_: Any) -> dict[str, Any]:
        return {"source": "popular", "model_version": None, "items": []}

    def set_cart_quantity(self, session: ShopperSession, sku: str, quantity: int, **_: Any) -> None:
        raise OrderCoreRefused("cart", 409, '{"code": "out_of_stock"}')


def test_a_refused_cart_change_is_logged_and_the_message_is_still_tracked(catalogue: Catalogue) -> None:
    shop = LiveShop(backend=_RefusingBackend(), catalogue=catalogue)  # type: ignore[arg-type]
    at = START.isoformat()
    shop.process([{"type": "identify", "anonymousId": "lily", "timestamp": at, "traits": {}, "context": {}}])
    added = {
        "type": "track",
        "event": "Product Added",
        "anonymousId": "lily",
        "timestamp": at,
        "properties": {"sku": "k85123A", "quantity": 1},
        "context": {},
    }
    assert shop.process([added]) == [added]
