"""One build of the real UCI Online Retail data for every test here (loading and dbt take a while)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from warehouse.online_retail import DEFAULT_PATH, SHOP_TIMEZONE, LoadReport, load_online_retail
from warehouse.publish import WarmDbt, build_and_publish
from warehouse.settings import WarehouseSettings


@pytest.fixture(scope="session")
def online_retail_warehouse(
    tmp_path_factory: pytest.TempPathFactory, warm_dbt: WarmDbt
) -> tuple[WarehouseSettings, LoadReport]:
    settings = WarehouseSettings(
        data_dir=tmp_path_factory.mktemp("online-retail"), shop_timezone=SHOP_TIMEZONE
    )
    report = load_online_retail(events_dir=settings.events_dir, order_book_dir=settings.order_book_dir)
    assert build_and_publish(settings, warm_dbt=warm_dbt) == 0
    return settings, report


@pytest.fixture(scope="session")
def raw_online_retail() -> pl.DataFrame:
    return pl.read_parquet(DEFAULT_PATH)


@pytest.fixture(scope="session")
def data_dir_of(online_retail_warehouse: tuple[WarehouseSettings, LoadReport]) -> Path:
    return online_retail_warehouse[0].data_dir
