"""Recommender settings; env prefix SHOPLOOP_RECSYS_. No other recsys module reads the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ONLINE_RETAIL_PATH = PROJECT_ROOT / "datasets" / "online_retail" / "online_retail.parquet"


class RecsysSettings(BaseSettings):
    """Where the data and the models live, and how training behaves. Defaults run on this machine."""

    model_config = SettingsConfigDict(env_prefix="SHOPLOOP_RECSYS_", extra="ignore")

    # Every training run writes one folder here; relative paths are taken from the project root.
    registry_dir: Path = Path("var/recsys/models")
    online_retail_path: Path = ONLINE_RETAIL_PATH
    # The published warehouse (warehouse.settings: <data_dir>/warehouse/shoploop.duckdb): `train_latest` reads
    # its marts when it exists and holds at least `min_warehouse_purchases` paid order lines.
    warehouse_path: Path = Path("var/warehouse/shoploop.duckdb")
    min_warehouse_purchases: int = Field(default=500, ge=1)
    # implicit's own threads; BLAS is always limited to one thread, as implicit recommends.
    num_threads: int = Field(default=2, ge=1)
    random_state: int = 42
    # The test period is the last `test_days` of the data; validation is the last `validation_days` before it.
    test_days: int = Field(default=30, ge=1)
    validation_days: int = Field(default=30, ge=1)
    # Random-search trials over the hyperparameter grid; 0 trains with the default parameters.
    search_trials: int = Field(default=24, ge=0)
    k: int = Field(default=10, ge=1)
    # Categories whose items may be recommended again after a purchase (consumables such as coffee).
    repurchasable_categories: frozenset[str] = frozenset()

    def resolved_warehouse_path(self) -> Path:
        """The warehouse file as an absolute path (relative settings are taken from the project root)."""
        return (
            self.warehouse_path if self.warehouse_path.is_absolute() else PROJECT_ROOT / self.warehouse_path
        )

    def resolved_registry_dir(self) -> Path:
        """The registry folder as an absolute path (relative settings are taken from the project root)."""
        return self.registry_dir if self.registry_dir.is_absolute() else PROJECT_ROOT / self.registry_dir
