"""Shoppers tap some of the subscribe messages WeChat delivers: they come back from scene 1014 on the message's
page, whose query carries the push id, so the demo's pushes get opened and their lift can be measured."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ingestion.contract.segment import SegmentMessage
from ingestion.simulator.catalogue import Catalogue
from ingestion.simulator.live_shop import LiveShop
from ingestion.simulator.order_core import ShopperSession
from ingestion.simulator.shoppers import CART, SubscribePrompts, TrafficModel
from tests.unit.ingestion.simulator.conftest import START


def _model(catalogue: Catalogue, *, open_rate: float) -> TrafficModel:
    return TrafficModel(
        catalogue, seed=7, shoppers=5, start=START, rounds=1, prompts=SubscribePrompts(open_rate=open_rate)
    )


def _first_shopper(model: TrafficModel) -> str:
    first = next(iter(model))
    return str(first["anonymousId"])


def test_a_shopper_who_taps_a_push_comes_back_from_scene_1014_on_its_page_with_the_push_id(
    catalogue: Catalogue,
) -> None:
    model = _model(catalogue, open_rate=1.0)
    lily = _first_shopper(model)
    delivered_at = START + timedelta(hours=2)

    assert model.receive_push(lily, page=f"{CART}?push_id=trg_1", push_id="trg_1", delivered_at=delivered_at)

    visit = [m for m in model if m["anonymousId"] == lily and m["timestamp"] >= delivered_at.isoformat()[:19]]
    launch = next(m for m in visit if m.get("event") == "Mini Program Launched")
    assert launch["properties"]["scene"] == 1014
    assert launch["context"]["wechat"]["scene"] == 1014
    assert launch["properties"]["path"] == CART
    assert launch["properties"]["query"] == {"push_id": "trg_1"}
    first_page = next(m for m in visit if m["type"] == "page")
    assert first_page["name"] == CART
    assert first_page["properties"]["query"] == {"push_id": "trg_1"}
    for message in visit:
        SegmentMessage.model_validate(message)
    assert model.pushes_tapped == 1


def test_a_push_to_a_page_the_shop_does_not_have_opens_the_home_page_and_keeps_the_push_id(
    catalogue: Catalogue,
) -> None:
    model = _model(catalogue, open_rate=1.0)
    lily = _first_shopper(model)
    model.receive_push(lily, page="pages/home/index?push_id=trg_2", push_id="trg_2", delivered_at=START)
    launch = next(
        m for m in model if m.get("event") == "Mini Program Launched" and m["properties"]["scene"] == 1014
    )
    assert launch["properties"]["query"] == {"push_id": "trg_2"}


def test_shoppers_tap_about_the_open_rate_of_pushes_and_the_same_push_always_gets_the_same_answer(
    catalogue: Catalogue,
) -> None:
    model = _model(catalogue, open_rate=0.35)
    lily = _first_shopper(model)
    answers = [
        model.receive_push(lily, page=CART, push_id=f"trg_{n}", delivered_at=START) for n in range(400)
    ]
    assert 0.28 < sum(answers) / len(answers) < 0.42
    again = _model(catalogue, open_rate=0.35)
    _first_shopper(again)
    assert [
        again.receive_push(lily, page=CART, push_id=f"trg_{n}", delivered_at=START) for n in range(400)
    ] == answers


def test_nobody_taps_when_the_open_rate_is_zero_nor_for_a_phone_the_model_does_not_hold(
    catalogue: Catalogue,
) -> None:
    model = _model(catalogue, open_rate=0.0)
    lily = _first_shopper(model)
    assert not model.receive_push(lily, page=CART, push_id="trg_1", delivered_at=START)
    assert not _model(catalogue, open_rate=1.0).receive_push(
        "someone-else", page=CART, push_id="trg_1", delivered_at=START
    )


class _PhoneBackend:
    """The sandbox's side of ShopBackend: logins give openids, WeChat keeps the delivered messages in order."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def log_in(self, persona: str, *, client_ip: str | None = None) -> ShopperSession:
        return ShopperSession(user_id=f"u-{persona}", token="t", openid=f"o-{persona}")

    def subscribe_messages(self, *, offset: int) -> list[dict[str, Any]]:
        return self.messages[offset:]

    def assignments(self, session: ShopperSession, *, client_ip: str | None = None) -> list[dict[str, str]]:
        return []

    def recommendations(self, session: ShopperSession, **_: Any) -> dict[str, Any]:
        return {"source": "popular", "model_version": None, "items": []}


def test_the_live_shop_hands_each_delivered_message_to_its_phone_once_with_its_push_id(
    catalogue: Catalogue,
) -> None:
    backend = _PhoneBackend()
    shop = LiveShop(backend=backend, catalogue=catalogue)  # type: ignore[arg-type]
    shop.process(
        [
            {
                "type": "identify",
                "anonymousId": "lily",
                "timestamp": START.isoformat(),
                "traits": {},
                "context": {},
            }
        ]
    )
    backend.messages += [
        {"touser": "o-lily", "template_id": "TPL_CART", "page": f"{CART}?push_id=trg_9"},
        {"touser": "o-stranger", "template_id": "TPL_CART", "page": CART},
        {"touser": "o-lily", "template_id": "TPL-ORDER-PAID"},
    ]
    delivered = shop.delivered_messages()
    assert [(d.anonymous_id, d.page, d.push_id) for d in delivered] == [
        ("lily", f"{CART}?push_id=trg_9", "trg_9"),
        ("lily", None, "message-2"),
    ]
    assert shop.delivered_messages() == []
