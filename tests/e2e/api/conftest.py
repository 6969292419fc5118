"""The real order-core app and the real WeChat sandbox, each on a loopback port, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.service_layer import accounts, catalogue
from api.settings import ApiSettings
from api.wechat import signing
from recsys.settings import RecsysSettings
from tests.support import databases
from tests.support.stack import OrderCore, order_core_and_sandbox

ADMIN_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def merchant_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("merchant") / "merchant-key.pem"
    path.write_bytes(signing.private_key_pem(signing.generate_private_key()))
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with databases.database_url(request.param, tmp_path, name="order_core") as url:
        yield url


class Stack(OrderCore):
    def wait_for(self, predicate: Callable[[], bool], *, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            time.sleep(0.05)


def _seed_two_products_and_the_boss(app: FastAPI) -> None:
    container = app.state.container
    catalogue.create_product(
        container.uow(),
        product_id="p-tee",
        title="Panda T-shirt",
        category="Clothing",
        description="Organic cotton",
        skus=[
            {"sku_id": "tee-red-m", "colour": "red", "size": "M", "price_fen": 9900, "stock": 10},
            {"sku_id": "tee-blue-l", "colour": "blue", "size": "L", "price_fen": 10900, "stock": 3},
        ],
        now=datetime.now(UTC),
    )
    catalogue.create_product(
        container.uow(),
        product_id="p-mug",
        title="Panda mug",
        category="Kitchen",
        description="Ceramic",
        skus=[{"sku_id": "mug", "price_fen": 3500, "stock": 1}],
        now=datetime.now(UTC),
    )
    accounts.create_staff(
        container.uow(),
        username="boss",
        password=ADMIN_PASSWORD,
        role=accounts.Role.ADMIN,
        now=datetime.now(UTC),
    )


@pytest.fixture
def stack(database_url: str, merchant_key_path: Path, tmp_path: Path) -> Iterator[Stack]:
    settings = ApiSettings(
        environment="development",
        database_url=database_url,
        wechat_pay_private_key_path=merchant_key_path,
        outbox_relay_enabled=False,
        auto_close_interval_s=0,
        notification_interval_s=0,
        login_rate_limit_per_minute=1000,
        order_rate_limit_per_minute=1000,
        # An empty model registry: recommendations are best sellers until a test trains a model.
        recsys=RecsysSettings(registry_dir=tmp_path / "recsys-models", num_threads=1),
        recommender_reload_s=0,
    )
    with order_core_and_sandbox(
        settings,
        signing.load_private_key(merchant_key_path.read_bytes()),
        sandbox_options={"retry_schedule_s": (0.2, 0.2, 0.5), "refund_delay_s": 0.05},
        prepare=_seed_two_products_and_the_boss,
    ) as core:
        yield Stack(**vars(core))


class MiniProgram:
    """What the mini-program does: wx.login through the sandbox, then calls our API with the token."""

    def __init__(self, stack: Stack, persona: str) -> None:
        self.stack = stack
        self.wechat = httpx.Client(base_url=stack.sandbox_url, timeout=10)
        login = self.wechat.post("/sandbox/wx-login", json={"persona": persona}).json()
        self.openid: str = login["openid"]
        self.api = httpx.Client(base_url=stack.api_url, timeout=10)
        answer = self.api.post("/v1/auth/login", json={"code": login["code"]})
        assert answer.status_code == 200, answer.text
        self.user_id: str = answer.json()["user_id"]
        self.api.headers["Authorization"] = f"Bearer {answer.json()['token']}"

    def place_order(self, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        return self.api.post("/v1/orders", json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex})

    def pay(self, order_id: str, *, notify: bool = True) -> dict[str, Any]:
        params = self.api.post(f"/v1/orders/{order_id}/prepay")
        assert params.status_code == 200, params.text
        result: dict[str, Any] = self.wechat.post(
            "/sandbox/request-payment", json={**params.json(), "notify": notify}
        ).json()
        return result


class BackOffice:
    def __init__(self, stack: Stack, username: str = "boss", password: str = ADMIN_PASSWORD) -> None:
        self.api = httpx.Client(base_url=stack.api_url, timeout=10)
        answer = self.api.post("/admin/v1/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        self.api.headers["Authorization"] = f"Bearer {answer.json()['token']}"


@pytest.fixture
def shopper(stack: Stack) -> MiniProgram:
    return MiniProgram(stack, "xiaoming")


@pytest.fixture
def other_shopper(stack: Stack) -> MiniProgram:
    return MiniProgram(stack, "xiaohong")


@pytest.fixture
def third_shopper(stack: Stack) -> MiniProgram:
    return MiniProgram(stack, "xiaogang")


@pytest.fixture
def back_office(stack: Stack) -> BackOffice:
    return BackOffice(stack)


@pytest.fixture
def staff_member(stack: Stack) -> Callable[[str, accounts.Role], BackOffice]:
    """Create a staff member with a role and log them in to the back office."""

    def create(username: str, role: accounts.Role) -> BackOffice:
        password = f"{username} has a long password"
        accounts.create_staff(
            stack.app.state.container.uow(),
            username=username,
            password=password,
            role=role,
            now=datetime.now(UTC),
        )
        return BackOffice(stack, username, password)

    return create
