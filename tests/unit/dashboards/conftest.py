"""A seeded warehouse file shaped like the published one, and the app under AppTest pointed at it."""

from __future__ import annotations

from collections.abc import Callable
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
