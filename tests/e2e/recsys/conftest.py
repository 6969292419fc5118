"""The real order core reading the embedded broker's events topic, with a tiny model trained for the test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest
from fastapi import FastAPI

from api.service_layer import catalogue
from api.settings import ApiSettings
from recsys.dataset import build_interaction_matrix
from recsys.model import ALSModel, ALSParams, Recommender
from recsys.registry import ModelRegistry
from recsys.settings import RecsysSettings
from shoploop.kafka import KafkaSettings, Topics, ensure_topics
from tests.support.stack import OrderCore, order_core_and_sandbox, write_merchant_key

DAY = datetime(2025, 5, 1, tzinfo=UTC)
CLOTHING = {"p-tee": "Panda T-shirt", "p-socks": "Panda socks", "p-cap": "Panda cap"}
KITCHEN = {"p-bowl": "Panda bowl", "p-mug": "Panda mug", "p-plate": "Panda plate"}


def train_two_aisle_model(registry_dir: Path) -> None:
    """Twelve clothing shoppers and six kitchen shoppers, each buying their whole aisle."""
    rows = []
    for shopper in range(18):
        aisle = CLOTHING if shopper < 12 else KITCHEN
        rows += [(f"regular-{shopper}", product_id, "purchase", shopper % 5) for product_id in aisle]
    frame = pl.DataFrame(
        {
            "person_id": [r[0] for r in rows],
            "product_id": [r[1] for r in rows],
            "kind": [r[2] for r in rows],
            "occurred_at": [DAY + timedelta(days=r[3]) for r in rows],
            "quantity": [1] * len(rows),
        }
    )
    matrix = build_interaction_matrix(frame)
    model = ALSModel(ALSParams(factors=4, iterations=10, regularization=0.1), num_threads=1)
    products = pl.DataFrame(
        {
            "product_id": [*CLOTHING, *KITCHEN],
            "name": [*CLOTHING.values(), *KITCHEN.values()],
            "category": ["Clothing"] * len(CLOTHING) + ["Kitchen"] * len(KITCHEN),
        }
    )
    recommender = Recommender.from_training(matrix, model.fit(matrix.user_items), products=products)
    ModelRegistry(registry_dir).save_run(recommender, validation_score=0.1)


def _stock_both_aisles(app: FastAPI) -> None:
    for category, aisle in (("Clothing", CLOTHING), ("Kitchen", KITCHEN)):
        for product_id, title in aisle.items():
            catalogue.create_product(
                app.state.container.uow(),
                product_id=product_id,
                title=title,
                category=category,
                description="",
                skus=[{"price_fen": 2900, "stock": 50}],
                now=datetime.now(UTC),
            )


@pytest.fixture
def fresh_stack(kafka_bootstrap: str, tmp_path: Path) -> Iterator[OrderCore]:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, default_partitions=2)
    ensure_topics(kafka, (Topics.EVENTS,))
    key_path = tmp_path / "merchant-key.pem"
    merchant_key = write_merchant_key(key_path)
    settings = ApiSettings(
        environment="development",
        database_url=f"sqlite:///{tmp_path / 'shoploop.db'}",
        wechat_pay_private_key_path=key_path,
        auto_close_interval_s=0,
        notification_interval_s=0,
        reward_consumer_enabled=False,
        account_flag_consumer_enabled=False,
        # Kafka in use: the outbox relay and the recommender's freshness consumer read the test broker.
        outbox_relay_enabled=True,
        kafka=kafka,
        recsys=RecsysSettings(registry_dir=tmp_path / "recsys-models", num_threads=1),
        recommender_reload_s=3600,
    )
    train_two_aisle_model(settings.recsys.resolved_registry_dir())
    with order_core_and_sandbox(settings, merchant_key, prepare=_stock_both_aisles) as core:
        assert core.app.state.container.recommender.fresh_reading.wait(timeout=20), "consumer not reading"
        yield core


@pytest.fixture
def new_shopper(fresh_stack: OrderCore) -> tuple[httpx.Client, str]:
    """A shopper the model has never seen, logged in (wx.login through the sandbox, then our API's login)."""
    stack, persona = fresh_stack, "xiaoming"
    login = httpx.post(f"{stack.sandbox_url}/sandbox/wx-login", json={"persona": persona}).json()
    api = httpx.Client(base_url=stack.api_url, timeout=10)
    answer = api.post("/v1/auth/login", json={"code": login["code"]})
    assert answer.status_code == 200, answer.text
    api.headers["Authorization"] = f"Bearer {answer.json()['token']}"
    return api, str(answer.json()["user_id"])
