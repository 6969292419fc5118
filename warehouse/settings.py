"""Where the lake and the warehouse live. One settings class for the warehouse; env prefix SHOPLOOP_WAREHOUSE_."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WarehouseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPLOOP_WAREHOUSE_", extra="ignore")

    # Everything the embedded stack writes lives under one folder, so a demo is removed with one `rm -r`.
    data_dir: Path = Path("var")
    # The shop's business day: daily marts are cut at midnight in this time zone.
    shop_timezone: str = "Asia/Shanghai"
    # DuckDB's memory limit for a dbt build (it spills to disk beyond it); the machine is shared.
    build_memory_limit: str = "4GB"
    # dbt's threads for a build: nodes run side by side on one DuckDB (its own threads are shared), so one
    # node's Python and commit overhead overlaps another's query. 2 (the cores this runs on): faster than 1 with
    # the machine idle and loaded alike (docs/benchmarks.md, branch wh-incr4).
    build_threads: int = 2
    # After `privacy forget`, the lake's writers still drop rows keyed by the erased person id for this long: a
    # collector worker keys events by the old person until it reads the erasure log (every second; longer while
    # its identity database is unreachable), and clocks of hosts differ. A device that comes back as a new person
    # gets the same person id, so its events in this span are dropped too (docs/warehouse.md, "Erasure").
    erasure_person_window_s: float = 600.0
    # Compaction (`shoploop lake compact --every N`, its own process; docs/warehouse.md, "Compaction"): how often
    # it runs, how many files of one tier it merges at once, when a partition counts as closed (merged whole), how
    # long merged-away files stay for readers that listed them, and DuckDB's threads and memory for it.
    compaction_interval_s: float = Field(default=60.0, gt=0)
    compaction_min_files: int = Field(default=8, ge=2)
    compaction_closed_after_s: float = Field(default=3600.0, ge=0)
    # Longer than a dbt build's longest read (builds list the lake as each model starts); at least a minute, as a
    # sink batch that listed a partition just before a merge reads its files after it. Until then a dbt build
    # still reads the merged-away files (and skips their rows as copies), so it is not longer than needed.
    compaction_grace_s: float = Field(default=180.0, ge=60)
    compaction_threads: int = Field(default=1, ge=1)
    compaction_memory_limit: str = "1GB"

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    @property
    def events_dir(self) -> Path:
        return self.lake_dir / "events"

    @property
    def order_book_dir(self) -> Path:
        """The order core's domain events (orders, payments, refunds, coupons) from its outbox topic."""
        return self.lake_dir / "order_book"

    @property
    def pushes_dir(self) -> Path:
        """Push records (sent or held out) from the streams' automations."""
        return self.lake_dir / "pushes"

    @property
    def live_minutes_dir(self) -> Path:
        """Per-minute live metrics from the streams, as additive deltas."""
        return self.lake_dir / "live_minutes"

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB file dashboards read; replaced whole by each published dbt build."""
        return self.data_dir / "warehouse" / "shoploop.duckdb"

    @property
    def build_dir(self) -> Path:
        return self.data_dir / "warehouse" / "build"
