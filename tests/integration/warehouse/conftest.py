"""One fixture build for the whole session: dbt takes seconds, so every test here reads the same warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from warehouse.publish import WarmDbt, build_and_publish, fixture_settings
from warehouse.settings import WarehouseSettings


@pytest.fixture(scope="session")
def fixture_warehouse(tmp_path_factory: pytest.TempPathFactory, warm_dbt: WarmDbt) -> WarehouseSettings:
    """`shoploop dbt build --fixture` in a fresh data folder; returns the fixture's own settings."""
    live = WarehouseSettings(data_dir=tmp_path_factory.mktemp("data"))
    assert build_and_publish(live, fixture=True, warm_dbt=warm_dbt) == 0
    settings = fixture_settings(live)
    assert settings.warehouse_path.exists()
    return settings


@pytest.fixture(scope="session")
def fixture_events_file() -> Path:
    return Path(__file__).resolve().parents[3] / "warehouse" / "fixtures" / "events.jsonl"


@pytest.fixture(scope="session")
def fixture_order_book_file() -> Path:
    return Path(__file__).resolve().parents[3] / "warehouse" / "fixtures" / "order_book.jsonl"
