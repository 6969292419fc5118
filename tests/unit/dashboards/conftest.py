"""A seeded warehouse file shaped like the published one, and the app under AppTest pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[3] / "dashboards" / "streamlit_app.py"

FunnelRow = tuple[date, str, int, int, int, int, int, int, int]

MART_DDL = """
create table fct_funnel_daily (
    event_date date, channel varchar, scene integer,
    viewed_shoppers bigint, added_shoppers bigint, checkout_shoppers bigint, paid_shoppers bigint,
    orders bigint, gmv_fen bigint, gmv_yuan decimal(18, 2),
    view_to_cart_rate double, cart_to_checkout_rate double, checkout_to_paid_rate double, view_to_paid_rate double
)
"""
BUILD_INFO_DDL = """
create table meta_build_info (
    built_at timestamptz, last_event_received_at timestamptz, event_count bigint, shop_timezone varchar
)
"""


SeedWarehouse = Callable[..., Path]


@pytest.fixture
def today() -> date:
    """The shop's today (the page's "today" is computed the same way, in Asia/Shanghai)."""
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()


@pytest.fixture
def seed_warehouse(tmp_path: Path) -> SeedWarehouse:
    """Write a warehouse file with these fct_funnel_daily rows, built at `built_at` (default: just now)."""

    def seed(rows: list[FunnelRow], *, built_at: datetime | None = None) -> Path:
        return _write_warehouse(
            tmp_path / "warehouse" / "shoploop.duckdb", rows, built_at=built_at or datetime.now(UTC)
        )

    return seed


def _write_warehouse(path: Path, rows: list[FunnelRow], *, built_at: datetime) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as connection:
        connection.execute(MART_DDL)
        connection.execute(BUILD_INFO_DDL)
        for row in rows:
            connection.execute(
                "insert into fct_funnel_daily values (?, ?, ?, ?, ?, ?, ?, ?, ?, ? / 100,"
                " ? / nullif(?, 0), ? / nullif(?, 0), ? / nullif(?, 0), ? / nullif(?, 0))",
                [*row, row[8], row[4], row[3], row[5], row[4], row[6], row[5], row[6], row[3]],
            )
        connection.execute(
            "insert into meta_build_info values (?, ?, ?, 'Asia/Shanghai')",
            [built_at, built_at - timedelta(seconds=3), 1000],
        )
    return path


@pytest.fixture
def open_dashboard(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], AppTest]:
    """Run the app against a warehouse file, as `shoploop dashboard` would with SHOPLOOP_DASHBOARD_*."""

    def open_at(warehouse_path: Path) -> AppTest:
        monkeypatch.setenv("SHOPLOOP_DASHBOARD_WAREHOUSE_PATH", str(warehouse_path))
        st.cache_data.clear()
        return AppTest.from_file(str(APP), default_timeout=30).run()

    return open_at


# --- every mart, with a few memorable rows (the numbers the page tests assert are worked out from these) ---

NOW = datetime(2025, 6, 18, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, a Wednesday
DAY = date(2025, 6, 18)

_SEED_ROWS: dict[str, list[tuple[object, ...]]] = {
    # order_id, user_id, person_id, channel, scene, coupon_id, status, units, items, shipping, discount, total,
    # paid, refunded, net, net_yuan, is_paid, placed_at, placed_date, paid_at, paid_date, transaction_id
    "fct_orders": [
        (
            oid,
            "w",
            pid,
            "search",
            1053,
            None,
            status,
            1,
            fen,
            0,
            0,
            fen,
            paid,
            0,
            paid,
            paid / 100,
            status == "paid",
            NOW - timedelta(days=days),
            DAY - timedelta(days=days),
            NOW - timedelta(days=days),
            DAY - timedelta(days=days),
            None,
        )
        for oid, pid, fen, paid, status, days in (
            ("o1", "ann", 10000, 10000, "paid", 0),
            ("o2", "bob", 5001, 5001, "paid", 1),
            ("o3", "ann", 2000, 0, "closed", 1),
            ("o4", "cat", 3000, 3000, "paid", 8),  # the week before
        )
    ],
    # session_id, person_id, number, started, ended, date, duration, channel, scene, events, pv, prv, adds, reported
    "fct_sessions": [
        (
            f"s{i}",
            pid,
            1,
            NOW - timedelta(days=days),
            NOW,
            DAY - timedelta(days=days),
            60,
            "search",
            1053,
            5,
            2,
            1,
            0,
            False,
        )
        for i, (pid, days) in enumerate(
            [("ann", 0), ("bob", 1), ("dan", 2), ("eve", 3), ("cat", 8), ("fay", 9)]
        )
    ],
    "fct_retention_cohorts": [
        ("week", date(2025, 6, 2), 0, 100, 100, 1.0),
        ("week", date(2025, 6, 2), 1, 100, 30, 0.3),
        ("week", date(2025, 6, 9), 0, 50, 50, 1.0),
        ("week", date(2025, 6, 9), 1, 50, 20, 0.4),
        ("month", date(2025, 6, 1), 0, 150, 150, 1.0),
    ],
    "fct_repurchase": [
        (date(2025, 5, 1), 40, 10, 0.25, 55, 12.0, 10.0),
        (date(2025, 6, 1), 60, 5, 5 / 60, 66, 8.0, 7.0),
    ],
    "dim_products": [
        ("p1", "云南小粒咖啡", "茶饮", 3900, NOW, 0, 0, 0, 0),
        ("p2", "蜂蜜面膜", "美妆护肤", 8800, NOW, 0, 0, 0, 0),
        ("p3", "婴儿湿巾", "母婴", 1500, NOW, 0, 0, 0, 0),
    ],
    # event_date, product_id, views, viewers, cart_adds, buyers, units, revenue_fen, revenue_yuan, rate
    "fct_product_daily": [
        (DAY, "p1", 100, 80, 20, 8, 10, 39000, 390, 0.1),
        (DAY, "p2", 50, 40, 10, 4, 4, 35200, 352, 0.1),
        (DAY, "p3", 30, 30, 0, 0, 0, 0, 0, 0.0),
        (DAY - timedelta(days=30), "p3", 999, 999, 99, 99, 99, 148500, 1485, 0.1),
    ],
    # person_id ... (see MART_COLUMNS["dim_users"])
    "dim_users": [
        (
            pid,
            None,
            NOW,
            DAY,
            NOW - timedelta(days=seen),
            "search",
            1053,
            None,
            None,
            province,
            None,
            "中国",
            None,
            orders,
            None,
            None,
            ltv,
            ltv / 100,
            0,
            3,
            1,
            segment,
            tags,
            hours,
            10,
        )
        for pid, province, orders, ltv, segment, tags, hours, seen in (
            ("ann", "广东", 2, 12000, "loyal", ["茶饮", "美妆护肤"], [20, 21], 0),
            ("bob", "广东", 1, 5001, "new", ["茶饮"], [21], 40),
            ("cat", "浙江", 1, 3000, "at_risk", ["母婴"], [9], 40),
            ("dan", None, 0, 0, "prospect", [], [21], 1),
        )
    ],
    "fct_region_daily": [
        (DAY, "广东", None, 30, 5, 6, 60000, 600),
        (DAY, "浙江", None, 12, 2, 2, 8000, 80),
        (DAY - timedelta(days=1), "广东", None, 10, 1, 1, 1000, 10),
    ],
    "fct_cart_abandonment": [
        ("c1", "ann", NOW - timedelta(hours=3), NOW - timedelta(hours=3), DAY, 1, 1, 3900, None, False, True),
        (
            "c2",
            "bob",
            NOW - timedelta(minutes=10),
            NOW - timedelta(minutes=10),
            DAY,
            1,
            1,
            8800,
            None,
            False,
            True,
        ),
        ("c3", "cat", NOW - timedelta(hours=5), NOW - timedelta(hours=5), DAY, 1, 1, 1500, NOW, True, False),
    ],
    # share_id, parent, root, depth, sharer, product, event, via, at, date, entered, new, orders, gmv, rewards
    "fct_referrals": [
        ("sh1", None, "sh1", 1, "ann", "p1", "Product Shared", "single_chat", NOW, DAY, 4, 3, 1, 3900, 1),
        ("sh2", "sh1", "sh1", 2, "bob", "p1", "Product Shared", "group_chat", NOW, DAY, 2, 1, 1, 8800, 0),
        # ann's one reward is on each of her shares, as fct_referrals repeats a sharer's rewards.
        ("sh3", None, "sh3", 1, "ann", "p2", "Product Shared", "single_chat", NOW, DAY, 1, 0, 0, 0, 1),
        (
            "sh4",
            None,
            "sh4",
            1,
            "eve",
            "p2",
            "Product Shared",
            "single_chat",
            NOW,
            DAY - timedelta(days=1),
            2,
            2,
            0,
            0,
            1,
        ),
    ],
    "fct_referrals_daily": [
        (DAY, 3, 2, 4, 2.0, 2, 12700),
        (DAY - timedelta(days=1), 1, 1, 2, 2.0, 0, 0),
    ],
    "fct_experiments": [
        (
            "checkout_button_color",
            "control",
            True,
            1000,
            100,
            100,
            880000,
            8800,
            8800.0,
            0.10,
            0.081,
            0.119,
            None,
            None,
            None,
            None,
        ),
        (
            "checkout_button_color",
            "green",
            False,
            1000,
            130,
            130,
            1144000,
            11440,
            8800.0,
            0.13,
            0.109,
            0.151,
            0.03,
            2.10,
            0.036,
            True,
        ),
    ],
    "fct_live_minutes": [
        (NOW - timedelta(minutes=2), DAY, 100, 5, 40, 10, 4, 2, 17600, 176),
        (NOW - timedelta(minutes=1), DAY, 120, 6, 50, 12, 5, 3, 26400, 264),
        (NOW - timedelta(hours=3), DAY, 999, 99, 99, 99, 99, 99, 99900, 999),  # outside the hour shown
    ],
    "fct_pushes": [
        ("cart-reminder", 2, 200, 180, 90, 36, 316800, 20, 2, 0.18, 0.10, 0.08, 0.01, 0.15),
        ("win-back", 1, 50, 50, 10, 2, 17600, 10, 1, 0.04, 0.10, -0.06, -0.20, 0.08),
    ],
}


@pytest.fixture
def seeded_marts(tmp_path: Path) -> Path:
    """A warehouse with every mart the pages read, built at NOW, holding the rows above."""
    from dashboards.sample_warehouse import create_marts

    path = tmp_path / "warehouse" / "marts.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as connection:
        create_marts(connection)
        for table, rows in _SEED_ROWS.items():
            for row in rows:
                marks = ", ".join("?" for _ in row)
                connection.execute(f"insert into {table} values ({marks})", list(row))
        connection.execute(
            "insert into meta_build_info values (?, ?, 1000, 'Asia/Shanghai')",
            [NOW, NOW - timedelta(seconds=5)],
        )
    return path


@pytest.fixture
def open_page(monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """Run one page of the app against a warehouse; `query` becomes the URL's query string."""

    def open_at(
        warehouse_path: Path,
        page: str,
        *,
        query: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
    ) -> AppTest:
        monkeypatch.setenv("SHOPLOOP_DASHBOARD_WAREHOUSE_PATH", str(warehouse_path))
        monkeypatch.setenv("SHOPLOOP_DASHBOARD_API_URL", "http://127.0.0.1:9")
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        st.cache_data.clear()
        app = AppTest.from_file(str(APP), default_timeout=30)
        for name, value in (query or {}).items():
            app.query_params[name] = value
        app.run()
        app.switch_page(f"app_pages/{page}.py").run()
        return app

    return open_at


def metrics_of(app: AppTest) -> dict[str, str]:
    assert not app.exception, [exception.message for exception in app.exception]
    return {metric.label: metric.value for metric in app.metric}


@pytest.fixture
def page_metrics() -> Callable[[AppTest], dict[str, str]]:
    return metrics_of


class FakeOrderCore:
    """The order core's back office over real HTTP on a free port: staff login, automation rules, low stock.

    Rules are validated with the streams' own model, as the real service does.
    """

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from pydantic import ValidationError

        from streams.automations.rules import Rule

        self.rules: dict[str, dict[str, object]] = {}
        self.requests: list[tuple[str, str, object]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> object:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length)) if length else None

            def _staff(self) -> bool:
                return self.headers.get("Authorization") == "Bearer marketer-token"

            def do_POST(self) -> None:
                body = self._body()
                fake.requests.append(("POST", self.path, body))
                if self.path == "/admin/v1/login" and body == {"username": "mei", "password": "s3cret"}:
                    self._send(
                        200, {"token": "marketer-token", "user_id": "staff-1", "expires_at": "2099-01-01"}
                    )
                else:
                    self._send(401, {"code": "unauthorized", "message": "wrong username or password"})

            def do_GET(self) -> None:
                fake.requests.append(("GET", self.path, None))
                if not self._staff():
                    self._send(401, {"code": "unauthorized", "message": "log in first"})
                elif self.path == "/admin/v1/automation-rules":
                    self._send(200, [fake.rules[key] for key in sorted(fake.rules)])
                elif self.path == "/admin/v1/skus/low-stock":
                    self._send(
                        200, [{"sku_id": "sku-9", "product_id": "p1", "title": "云南小粒咖啡", "stock": 3}]
                    )
                else:
                    self._send(404, {"code": "not_found", "message": self.path})

            def do_PUT(self) -> None:
                body = self._body()
                fake.requests.append(("PUT", self.path, body))
                rule_id = self.path.rsplit("/", 1)[-1]
                version = int(fake.rules.get(rule_id, {}).get("version", 0)) + 1  # type: ignore[call-overload]
                try:
                    rule = Rule.model_validate({**body, "rule_id": rule_id, "version": version})  # type: ignore[dict-item]
                except ValidationError as error:
                    self._send(422, {"code": "invalid_rule", "message": str(error.errors()[0]["msg"])})
                    return
                fake.rules[rule_id] = rule.model_dump(mode="json")
                self._send(200, fake.rules[rule_id])

            def do_DELETE(self) -> None:
                fake.requests.append(("DELETE", self.path, None))
                rule_id = self.path.rsplit("/", 1)[-1]
                current = dict(fake.rules[rule_id])
                current.update(is_active=False, version=int(current["version"]) + 1)  # type: ignore[call-overload]
                fake.rules[rule_id] = current
                self._send(200, current)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


@pytest.fixture
def order_core() -> Iterator[FakeOrderCore]:
    fake = FakeOrderCore()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
