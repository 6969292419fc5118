"""Settings of the dashboards deployable; env prefix SHOPLOOP_DASHBOARD_."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from warehouse.settings import WarehouseSettings


def _published_warehouse() -> Path:
    return WarehouseSettings().warehouse_path


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPLOOP_DASHBOARD_", extra="ignore")

    # The DuckDB file `shoploop dbt build` publishes; read-only here, re-opened on every query.
    warehouse_path: Path = Field(default_factory=_published_warehouse)
    # The shop's business day, for "today".
    shop_timezone: str = "Asia/Shanghai"
    # Labels start in Simplified Chinese; every page has an English switch.
    default_language: Literal["zh", "en"] = "zh"
    # A build older than this shows an orange freshness badge instead of a green one.
    stale_after_s: float = 300.0
    # The order core (marketer actions go through its back-office HTTP API, never to a database).
    api_url: str = "http://127.0.0.1:8001"
    # A marketer account of the order core; empty means the console asks for one.
    api_username: str = ""
    api_password: SecretStr = SecretStr("")
    api_timeout_s: float = 5.0
    # How often the Live page re-reads the per-minute numbers.
    live_refresh_s: float = 5.0
