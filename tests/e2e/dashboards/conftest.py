"""Streamlit on a free port over a published sample warehouse, the whole embedded stack for the marketer
console's end-to-end test, and Debian's Chromium driven by playwright."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import pytest

from dashboards.sample_warehouse import write_sample_warehouse
from dashboards.screenshots import CHROMIUM, launch_chromium
from shoploop.broker import free_port, wait_until_listening
from tests.support.stack import (
    free_ports,
    shoploop_command,
    start_process,
    stop_process,
    wait_healthy,
)
from tests.support.stack import wait_for as wait_for  # the end-to-end test polls with it
from warehouse.publish import WarmDbt, build_and_publish
from warehouse.settings import WarehouseSettings

ROOT = Path(__file__).resolve().parents[3]
NO_CHROMIUM = "/usr/bin/chromium is absent: install Debian's chromium package to run the browser test"
WRITE_KEY = "sl_demo_miniprogram_key"


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)


def _streamlit(port: int, environment: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "dashboards" / "streamlit_app.py"),
        "--server.headless=true",
        f"--server.port={port}",
        "--server.address=127.0.0.1",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
        "--client.toolbarMode=viewer",
    ]
    return start_process(command, log=log, env=environment, cwd=ROOT)


def train_two_model_versions(warehouse: Path, registry_dir: Path) -> None:
    """recsys' own training on the sample warehouse, twice (default configuration, then a small search), so the
    Recommender page has model versions with offline metrics and a live model that gives reasons."""
    from recsys.registry import ModelRegistry
    from recsys.settings import RecsysSettings
    from recsys.train import train
    from recsys.warehouse import read_warehouse

    data = read_warehouse(warehouse)
    # The sample spans 56 days: two weeks to test on and two to validate on leave four to learn from.
    settings = RecsysSettings(registry_dir=registry_dir, num_threads=1, test_days=14, validation_days=14)
    for trials in (1, 3):
        train(
            settings,
            interactions=data.interactions,
            products=data.products,
            shoppers=data.shoppers,
            search_trials=trials,
            show_progress=False,
        )
    # What the order core does when it serves recommendations: the best run goes live.
    ModelRegistry(registry_dir).promote_best()


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _require_chromium()
    root = tmp_path_factory.mktemp("dashboards")
    warehouse = write_sample_warehouse(root / "warehouse" / "shoploop.duckdb", shoppers=1500)
    train_two_model_versions(warehouse, root / "models")
    port = free_port()
    environment = {
        **os.environ,
        "SHOPLOOP_DASHBOARD_WAREHOUSE_PATH": str(warehouse),
        "SHOPLOOP_DASHBOARD_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: the console says so
        "SHOPLOOP_RECSYS_REGISTRY_DIR": str(root / "models"),
    }
    process = _streamlit(port, environment, root / "streamlit.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{url}/_stcore/health", process, timeout_s=30)
        yield url
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium (never a downloaded browser), headless."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = launch_chromium(playwright)
        yield launched
        launched.close()


# -- the whole embedded stack ------------------------------------------------------------------------------
@dataclass
class Shopper:
    """A shopper in the mini-program: logged in to the order core through wx.login, tracking to the collector."""

    user_id: str
    openid: str
    anonymous_id: str


@dataclass
class LiveStack:
    """`shoploop demo`'s processes on free ports under one temporary folder (see the Procfile)."""

    root: Path
    environment: dict[str, str]
    ports: dict[str, int]
    warm_dbt: WarmDbt
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['broker']}"

    def start(self, name: str, *arguments: str) -> subprocess.Popen[bytes]:
        process = start_process(
            shoploop_command(*arguments), log=self.root / f"{name}.log", env=self.environment, cwd=self.root
        )
        self.processes[name] = process
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.root.glob("*.log"))
        )

    # -- what the mini-program does ---------------------------------------------------------------------
    def log_in(self, persona: str) -> Shopper:
        """wx.login in the phone, then the order core's login (code2Session on its side)."""
        login = httpx.post(f"{self.url('sandbox')}/sandbox/wx-login", json={"persona": persona}).json()
        session = httpx.post(f"{self.url('api')}/v1/auth/login", json={"code": login["code"]}, timeout=10)
        assert session.status_code == 200, session.text
        return Shopper(
            user_id=session.json()["user_id"], openid=login["openid"], anonymous_id=f"anon-{persona}"
        )

    def allow_subscribe(self, shopper: Shopper, template_id: str) -> None:
        """The shopper taps "allow" in wx.requestSubscribeMessage: WeChat's quota and the tracked answer."""
        answer = httpx.post(
            f"{self.url('sandbox')}/sandbox/subscribe/accept",
            json={"openid": shopper.openid, "template_id": template_id},
        )
        answer.raise_for_status()

    def track(
        self, shopper: Shopper | str, messages: list[tuple[str, dict[str, Any]]], *, at: datetime
    ) -> None:
        """Post tracked calls as one Segment batch, as the mini-program's SDK does (`identify` has traits)."""
        anonymous_id = shopper.anonymous_id if isinstance(shopper, Shopper) else shopper
        batch = []
        for n, (event, properties) in enumerate(messages):
            moment = (at + timedelta(milliseconds=10 * n)).isoformat().replace("+00:00", "Z")
            message: dict[str, Any] = {
                "messageId": f"{anonymous_id}-{event}-{moment}",
                "anonymousId": anonymous_id,
                "timestamp": moment,
                "context": {"wechat": {"scene": 1001}, "locale": "zh_CN"},
            }
            if isinstance(shopper, Shopper):
                message["userId"] = shopper.user_id
            if event == "identify":
                message |= {"type": "identify", "traits": properties}
            else:
                message |= {"type": "track", "event": event, "properties": properties}
            batch.append(message)
        sent_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        answer = httpx.post(
            f"{self.url('collector')}/v1/batch",
            content=orjson.dumps({"batch": batch, "writeKey": WRITE_KEY, "sentAt": sent_at}),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text

    def rule(self, rule_id: str) -> dict[str, Any]:
        """A rule as the order core holds it, read with the demo's marketer account."""
        from api.demo_seed import DEMO_STAFF_PASSWORD

        api = self.url("api")
        login = httpx.post(
            f"{api}/admin/v1/login", json={"username": "marketer", "password": DEMO_STAFF_PASSWORD}
        )
        token = login.json()["token"]
        rules = httpx.get(
            f"{api}/admin/v1/automation-rules", headers={"Authorization": f"Bearer {token}"}
        ).json()
        return next(rule for rule in rules if rule["rule_id"] == rule_id)

    def subscribe_messages(self, openid: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = httpx.get(
            f"{self.url('sandbox')}/sandbox/subscribe/messages", params={"openid": openid}
        ).json()
        return found

    # -- the warehouse --------------------------------------------------------------------------------------
    def lake_rows(self, table: str) -> int:
        """Rows the sink has written to a table of the lake so far."""
        files = sorted((self.root / "var" / "lake" / table).rglob("*.parquet"))
        if not files:
            return 0
        with duckdb.connect() as connection:
            row = connection.execute(
                "select count(*) from read_parquet(?)", [[str(f) for f in files]]
            ).fetchone()
        return int(row[0]) if row else 0

    def refresh_warehouse(self) -> None:
        """One build of the stack's lake, published for the dashboard: what the demo's dbt process (`shoploop dbt
        build --every 20`, dbt kept loaded) does each time, here with the session's loaded dbt."""
        settings = WarehouseSettings(data_dir=self.root / "var")
        assert build_and_publish(settings, warm_dbt=self.warm_dbt) == 0, self.logs()

    @property
    def warehouse_path(self) -> Path:
        return self.root / "var" / "warehouse" / "shoploop.duckdb"


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory, warm_dbt: WarmDbt) -> Iterator[LiveStack]:
    """Broker, WeChat sandbox, order core, collector, streams, sink and the dashboard, as `make demo` runs them."""
    _require_chromium()
    from api.wechat.signing import load_or_create_private_key
    from shoploop.broker import broker_command
    from shoploop.kafka import KafkaSettings, ensure_topics

    root = tmp_path_factory.mktemp("live-stack")
    names = ("broker", "collector", "sandbox", "api", "dashboard")
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    environment = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{ports['broker']}",
        "SHOPLOOP_WAREHOUSE_DATA_DIR": str(root / "var"),
        "SHOPLOOP_API_DATABASE_URL": f"sqlite:///{root / 'var' / 'api.db'}",
        "SHOPLOOP_API_WECHAT_PAY_PRIVATE_KEY_PATH": str(root / "var" / "merchant-key.pem"),
        "SHOPLOOP_API_WECHAT_API_BASE_URL": base["sandbox"],
        "SHOPLOOP_API_WECHAT_PAY_BASE_URL": base["sandbox"],
        "SHOPLOOP_API_NOTIFY_BASE_URL": base["api"],
        "SHOPLOOP_API_OUTBOX_POLL_INTERVAL_S": "0.2",
        "SHOPLOOP_RECSYS_REGISTRY_DIR": str(root / "var" / "recsys"),
        "SHOPLOOP_COLLECTOR_IDENTITY_DATABASE_URL": f"sqlite:///{root / 'var' / 'identity.db'}",
        "SHOPLOOP_STREAMS_WECHAT_API_BASE_URL": base["sandbox"],
        "SHOPLOOP_STREAMS_ORDER_CORE_URL": base["api"],
        "SHOPLOOP_STREAMS_AGENT_FLUSH_S": "0.2",
        # Event time waits 2 s for stragglers instead of 30 (one loopback client, in order).
        "SHOPLOOP_STREAMS_ALLOWED_LATENESS_S": "2",
        "SHOPLOOP_STREAMS_SINK_FLUSH_S": "0.5",
        "SHOPLOOP_DASHBOARD_WAREHOUSE_PATH": str(root / "var" / "warehouse" / "shoploop.duckdb"),
        "SHOPLOOP_DASHBOARD_API_URL": base["api"],
        "SHOPLOOP_DASHBOARD_API_USERNAME": "",
        "SHOPLOOP_DASHBOARD_API_PASSWORD": "",
    }
    (root / "var").mkdir()
    stack = LiveStack(root=root, environment=environment, ports=ports, warm_dbt=warm_dbt)
    stack.processes["broker"] = start_process(
        broker_command("127.0.0.1", ports["broker"]),
        log=root / "broker.log",
        env={**environment, "RUST_LOG": "error"},
    )
    try:
        wait_until_listening("127.0.0.1", ports["broker"])
        ensure_topics(KafkaSettings(bootstrap_servers=stack.bootstrap))
        # The order core and the sandbox share the merchant key: made once, before either starts (as the demo).
        load_or_create_private_key(root / "var" / "merchant-key.pem", may_create=True)
        sandbox = stack.start("sandbox", "wechat-sandbox", "--port", str(ports["sandbox"]))
        api = stack.start("api", "api", "--port", str(ports["api"]))
        collector = stack.start("collector", "collector", "--port", str(ports["collector"]))
        stack.start("streams", "streams", "--loglevel", "info")
        stack.start("sink", "sink")
        wait_healthy(f"{base['sandbox']}/sandbox/notifications", sandbox)
        wait_healthy(f"{base['collector']}/health", collector)
        wait_healthy(f"{base['api']}/v1/products?limit=1", api, timeout_s=90)
        dashboard = _streamlit(ports["dashboard"], environment, root / "dashboard.log")
        stack.processes["dashboard"] = dashboard
        wait_healthy(f"{base['dashboard']}/_stcore/health", dashboard)
        yield stack
    except BaseException:
        print(stack.logs())
        raise
    finally:
        for process in reversed(list(stack.processes.values())):
            stop_process(process)
