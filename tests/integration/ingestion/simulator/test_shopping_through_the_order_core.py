"""The real-time runner against the real order core and the real WeChat sandbox, on SQLite in a temp dir."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.seed import seed_catalogue_if_empty
from api.service_layer import accounts
from api.settings import ApiSettings
from ingestion.simulator.runner import run
from ingestion.simulator.settings import SimulatorSettings
from recsys.settings import RecsysSettings
from shoploop.broker import free_port
from tests.integration.ingestion.simulator.conftest import RecordingCollector, serving_a_recording_collector
from tests.support.stack import OrderCore, order_core_and_sandbox, write_merchant_key

PAID_OR_LATER = {"paid", "shipped", "completed", "refunding", "refunded"}


def _seed_the_demo_catalogue(app: FastAPI) -> None:
    # The demo's catalogue, smaller: the best-selling Online Retail families, as `shoploop api` seeds it.
    assert seed_catalogue_if_empty(app.state.container.uow(), now=datetime.now(UTC), limit=30) == 30


@pytest.fixture(scope="module")
def order_core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrderCore]:
    tmp_path = tmp_path_factory.mktemp("order-core")
    merchant_key_path = tmp_path / "merchant-key.pem"
    merchant_key = write_merchant_key(merchant_key_path)
    settings = ApiSettings(
        environment="development",
        database_url=f"sqlite:///{tmp_path / 'shoploop.db'}",
        wechat_pay_private_key_path=merchant_key_path,
        outbox_relay_enabled=False,
        auto_close_interval_s=0,
        notification_interval_s=0,
        recsys=RecsysSettings(registry_dir=tmp_path / "recsys-models", num_threads=1),
        recommender_reload_s=0,
    )
    with order_core_and_sandbox(
        settings,
        merchant_key,
        sandbox_options={"retry_schedule_s": (0.2, 0.2, 0.5), "refund_delay_s": 0.05},
        prepare=_seed_the_demo_catalogue,
    ) as core:
        yield core


def _create_staff_with_the_order_core(core: OrderCore) -> Any:
    def create(username: str, password: str, role: str) -> bool:
        accounts.create_staff(
            core.app.state.container.uow(),
            username=username,
            password=password,
            role=accounts.Role(role),
            now=datetime.now(UTC),
        )
        return True

    return create


def _fen(yuan: float) -> int:
    return round(yuan * 100)


def _admin(core: OrderCore, settings: SimulatorSettings, username: str) -> httpx.Client:
    client = httpx.Client(base_url=core.api_url, timeout=10)
    password = settings.staff_password.get_secret_value()
    answer = client.post("/admin/v1/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    client.headers["Authorization"] = f"Bearer {answer.json()['token']}"
    return client


@pytest.fixture(scope="module")
def shop_collector() -> Iterator[RecordingCollector]:
    with serving_a_recording_collector() as collector:
        yield collector


@pytest.fixture(scope="module")
def shopping_run(order_core: OrderCore, shop_collector: RecordingCollector) -> SimulatorSettings:
    """One run of 30 shoppers for the whole module: about nine seconds of real-time shopping."""
    settings = SimulatorSettings(
        collector_url=shop_collector.url,
        api_url=order_core.api_url,
        sandbox_url=order_core.sandbox_url,
        shoppers=30,
        seed=11,
        duration_s=9,
        mean_think_s=0.25,
        arrival_ramp_s=0.5,
        mean_next_shopper_gap_s=0.2,
        flush_interval_s=0.2,
        order_core_wait_s=5,
        # Every paid order is refunded: which ones a smaller share picks depends on the order core's random
        # order ids, and a run with few orders could pick none.
        refund_share=1.0,
        refund_delay_min_s=0.2,
        refund_delay_max_s=0.6,
        consent_accept_rate=0.5,
        create_staff_in_process=False,
    )
    run(settings, create_staff=_create_staff_with_the_order_core(order_core))
    time.sleep(0.5)  # the last refund notifications
    return settings


def test_shoppers_pay_real_orders_and_track_the_order_cores_ids_and_amounts_to_the_fen(
    order_core: OrderCore, shop_collector: RecordingCollector, shopping_run: SimulatorSettings
) -> None:
    messages = shop_collector.accepted_messages()
    completed = [m for m in messages if m.get("event") == "Order Completed"]
    operator = _admin(order_core, shopping_run, shopping_run.operator_username)
    orders = {o["order_id"]: o for o in operator.get("/admin/v1/orders").json()}
    paid = {order_id for order_id, order in orders.items() if order["status"] in PAID_OR_LATER}

    assert len(completed) >= 3, "too few checkouts to say anything"
    assert {m["properties"]["order_id"] for m in completed} == paid
    for message in completed:
        properties = message["properties"]
        order = orders[properties["order_id"]]
        assert message["userId"] == order["user_id"]
        assert order["paid_at"] is not None
        assert _fen(properties["total"]) == order["total_fen"]
        assert _fen(properties["subtotal"]) == order["subtotal_fen"]
        assert _fen(properties["discount"]) == order["discount_fen"]
        tracked_lines = sorted((p["sku"], p["quantity"], _fen(p["price"])) for p in properties["products"])
        booked_lines = sorted((b["sku_id"], b["quantity"], b["unit_price_fen"]) for b in order["lines"])
        assert tracked_lines == booked_lines
        assert message["context"]["wechat"]["openid"].startswith("o")


def test_the_products_shoppers_see_are_the_order_cores_skus_at_its_prices(
    order_core: OrderCore, shop_collector: RecordingCollector, shopping_run: SimulatorSettings
) -> None:
    api = httpx.Client(base_url=order_core.api_url, timeout=10)
    viewed = [m for m in shop_collector.accepted_messages() if m.get("event") == "Product Viewed"]
    assert viewed
    for message in viewed[:25]:
        properties = message["properties"]
        product = api.get(f"/v1/products/{properties['product_id']}").json()
        sku = next(s for s in product["skus"] if s["sku_id"] == properties["sku"])
        assert _fen(properties["price"]) == sku["price_fen"]


def test_some_paid_orders_are_refunded_through_after_sales(
    order_core: OrderCore, shopping_run: SimulatorSettings
) -> None:
    operator = _admin(order_core, shopping_run, shopping_run.operator_username)
    refunds = operator.get("/admin/v1/refunds").json()
    assert refunds, "no refund was requested"
    assert {r["status"] for r in refunds} <= {"approved", "succeeded", "processing"}
    refunded = [o for o in operator.get("/admin/v1/orders").json() if o["status"] == "refunded"]
    assert refunded, "no refund went through WeChat Pay"


def test_subscribe_prompts_are_tracked_and_accepted_ones_reach_the_sandbox(
    order_core: OrderCore, shop_collector: RecordingCollector, shopping_run: SimulatorSettings
) -> None:
    consents = [
        m for m in shop_collector.accepted_messages() if m.get("event") == "Subscribe Message Consent"
    ]
    answers = [
        (m["context"]["wechat"]["openid"], template_id, answer)
        for m in consents
        for template_id, answer in m["properties"]["results"].items()
    ]
    assert {template_id for _, template_id, _ in answers} >= {"TPL_CART_REMINDER", "TPL-ORDER-PAID"}
    assert {answer for _, _, answer in answers} == {"accept", "reject"}
    accepted: dict[tuple[str, str], int] = {}
    for openid, template_id, answer in answers:
        if answer == "accept":
            accepted[(openid, template_id)] = accepted.get((openid, template_id), 0) + 1
    # No order notifications are sent here (the sender is off), so the quota is exactly what was allowed.
    assert order_core.sandbox.subscribe_quota == accepted


def test_logged_in_shoppers_see_the_demo_experiment_and_track_the_exposure(
    order_core: OrderCore, shop_collector: RecordingCollector, shopping_run: SimulatorSettings
) -> None:
    analyst = _admin(order_core, shopping_run, shopping_run.analyst_username)
    experiments = {e["experiment_id"]: e for e in analyst.get("/admin/v1/experiments").json()}
    assert experiments[shopping_run.experiment_id]["status"] == "running"
    exposures = [m for m in shop_collector.accepted_messages() if m.get("event") == "Experiment Viewed"]
    assert exposures
    for message in exposures:
        assert message["properties"]["experiment_id"] == shopping_run.experiment_id
        assert message["properties"]["variant"] in set(shopping_run.experiment_variants)
        assert message["userId"].startswith("u")


def test_logged_in_shoppers_see_recommendations_and_track_what_they_were_shown_and_tapped(
    shop_collector: RecordingCollector, shopping_run: SimulatorSettings
) -> None:
    messages = shop_collector.accepted_messages()
    shown = {m["properties"]["request_id"]: m for m in messages if m.get("event") == "Recommendation Shown"}
    clicked = [m for m in messages if m.get("event") == "Recommendation Clicked"]
    assert shown
    for message in shown.values():
        assert message["userId"].startswith("u") and message["properties"]["slot"] == "guess_you_like"
        assert 1 <= len(message["properties"]["product_ids"]) <= 6
    for tap in clicked:  # every tap is on a list that was shown, at the position it had there
        seen = shown[tap["properties"]["request_id"]]["properties"]
        assert seen["product_ids"][tap["properties"]["position"]] == tap["properties"]["product_id"]
        assert tap["properties"]["model_version"] == seen["model_version"]


def test_without_an_order_core_the_runner_falls_back_to_client_side_checkout(
    recording_collector: RecordingCollector,
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    settings = SimulatorSettings(
        collector_url=recording_collector.url,
        api_url=nobody,
        sandbox_url=nobody,
        shoppers=40,
        seed=3,
        duration_s=5,
        mean_think_s=0.15,
        arrival_ramp_s=0.3,
        flush_interval_s=0.2,
        order_core_wait_s=0,
    )
    run(settings)
    messages = recording_collector.accepted_messages()
    completed = [m for m in messages if m.get("event") == "Order Completed"]
    assert completed
    # The model's own order ids and the local catalogue's prices: nothing was asked of an order core.
    assert all(m["properties"]["order_id"].startswith("SL") for m in completed)
    assert all(m["userId"].startswith("u_") for m in messages if m["type"] == "identify")
    assert any(m.get("event") == "Subscribe Message Consent" for m in messages)
    assert not any(m.get("event") == "Experiment Viewed" for m in messages)
