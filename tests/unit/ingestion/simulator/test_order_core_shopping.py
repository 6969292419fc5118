"""The pure parts of shopping through the order core: its catalogue, subscribe prompts, stable choices."""

from __future__ import annotations

from typing import Any

from ingestion.simulator.catalogue import Catalogue, catalogue_from_order_core
from ingestion.simulator.live_shop import (
    RECOMMENDATION_TAP_SHARE,
    client_ip_for,
    stable_fraction,
    tapped_position,
)
from ingestion.simulator.shoppers import SubscribePrompts, simulate_journeys
from tests.unit.ingestion.simulator.conftest import START

HEART = {
    "product_id": "p85123",
    "title": "White Hanging Heart T-Light Holder",
    "sales_count": 0,
    "skus": [
        {"sku_id": "k85123A", "colour": "white", "size": "", "price_fen": 295, "stock": 120},
        {"sku_id": "k85123B", "colour": "red", "size": "", "price_fen": 325, "stock": 80},
    ],
}
SOLD_OUT_BAG = {
    "product_id": "p85099",
    "title": "Jumbo Bag Red Retrospot",
    "sales_count": 3,
    "skus": [{"sku_id": "k85099B", "colour": "red", "size": "", "price_fen": 195, "stock": 0}],
}
MUG = {
    "product_id": "p21212",
    "title": "Pack Of 72 Retrospot Cake Cases",
    "sales_count": 0,
    "skus": [{"sku_id": "k21212", "colour": "", "size": "", "price_fen": 55, "stock": 200}],
}


def test_the_order_cores_products_are_offered_at_its_own_sku_and_price_in_fen() -> None:
    catalogue = catalogue_from_order_core([HEART, MUG])
    heart = catalogue.get("p85123")
    assert heart.sku == "k85123A"
    assert heart.price_fen == 295
    assert heart.name == "White Hanging Heart T-Light Holder"
    assert heart.category.slug == "lighting_fragrance"


def test_sold_out_products_of_the_order_core_are_not_offered() -> None:
    catalogue = catalogue_from_order_core([HEART, SOLD_OUT_BAG, MUG])
    assert "p85099" not in catalogue
    assert len(catalogue) == 2


def test_real_sales_from_the_online_retail_data_decide_what_shoppers_see_first() -> None:
    catalogue = catalogue_from_order_core([HEART, MUG], popularity={"21212": 900, "85123A": 2_000})
    assert [product.product_id for product in catalogue.products] == ["p85123", "p21212"]


def _consents(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("event") == "Subscribe Message Consent"]


def test_without_subscribe_prompts_the_simulation_is_exactly_what_it_was(
    catalogue: Catalogue, journeys: list[dict[str, Any]]
) -> None:
    assert simulate_journeys(catalogue, shoppers=300, seed=7, start=START, prompts=None) == journeys
    assert _consents(journeys) == []


def test_shoppers_answer_the_cart_prompt_after_adding_and_the_order_prompt_before_paying(
    catalogue: Catalogue,
) -> None:
    prompts = SubscribePrompts(cart_templates=("TPL_CART_REMINDER",), order_templates=("TPL-ORDER-PAID",))
    messages = simulate_journeys(catalogue, shoppers=200, seed=7, start=START, prompts=prompts)
    consents = _consents(messages)
    answers = [answer for m in consents for answer in m["properties"]["results"].values()]
    assert {"accept", "reject"} == set(answers)
    by_phone: dict[str, list[str]] = {}
    for message in messages:
        if message["type"] == "track":
            by_phone.setdefault(message["anonymousId"], []).append(message["event"])
    for events in by_phone.values():
        for at, event in enumerate(events):
            if event == "Order Completed":
                assert events[at - 1] == "Subscribe Message Consent"
            if event == "Subscribe Message Consent" and events[at - 1] != "Checkout Started":
                assert events[at - 1] == "Product Added"
    assert sum(1 for m in messages if m.get("event") == "Order Completed") > 0


def test_refund_choices_and_phone_addresses_are_stable_across_runs() -> None:
    assert stable_fraction("refund", "o123") == stable_fraction("refund", "o123")
    assert 0 <= stable_fraction("refund", "o123") < 1
    assert client_ip_for("phone-a") == client_ip_for("phone-a") != client_ip_for("phone-b")
    assert client_ip_for("phone-a").startswith("10.")


def test_most_recommendation_lists_are_not_tapped_and_the_first_position_is_tapped_most() -> None:
    taps = [tapped_position(stable_fraction("list", str(i)), 6) for i in range(20_000)]
    tapped = [position for position in taps if position is not None]
    assert abs(len(tapped) / len(taps) - RECOMMENDATION_TAP_SHARE) < 0.01
    counts = [tapped.count(position) for position in range(6)]
    assert counts == sorted(counts, reverse=True) and counts[-1] > 0
    assert tapped_position(0.0, 0) is None
