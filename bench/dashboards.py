"""First render of every dashboard page on a large warehouse, with AppTest (the page's Python and queries).

Usage: `.venv/bin/python -m bench.dashboards [--shoppers 1000000] [--warehouse PATH]`. Without --warehouse it
writes a sample warehouse (dashboards.sample_warehouse) of that many shoppers; 1,000,000 shoppers give 4 M
sessions, 600 k orders and 200 k shares (marts of a warehouse past 10 M events). Each page runs once, cold cache.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import duckdb
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboards.sample_warehouse import write_sample_warehouse
from dashboards.screenshots import PAGES

APP = Path(__file__).resolve().parents[1] / "dashboards" / "streamlit_app.py"
TARGET_S = 2.0


def first_render_seconds(warehouse: Path, page: str) -> float:
    os.environ["SHOPLOOP_DASHBOARD_WAREHOUSE_PATH"] = str(warehouse)
    os.environ.setdefault("SHOPLOOP_DASHBOARD_API_URL", "http://127.0.0.1:9")
    st.cache_data.clear()
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()
    st.cache_data.clear()
    started = time.perf_counter()
    app.switch_page(f"app_pages/{page}.py").run()
    elapsed = time.perf_counter() - started
    if app.exception:
        raise RuntimeError(f"{page}: {app.exception[0].message}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shoppers", type=int, default=1_000_000)
    parser.add_argument("--warehouse", type=Path)
    arguments = parser.parse_args()
    with TemporaryDirectory() as folder:
        warehouse = arguments.warehouse
        if warehouse is None:
            started = time.perf_counter()
            warehouse = write_sample_warehouse(Path(folder) / "shoploop.duckdb", shoppers=arguments.shoppers)
            print(
                f"sample warehouse of {arguments.shoppers:,} shoppers in {time.perf_counter() - started:.1f} s"
            )
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            for table in ("fct_sessions", "fct_orders", "dim_users", "fct_product_daily", "fct_referrals"):
                count = connection.execute(f"select count(*) from {table}").fetchone()
                print(f"  {table}: {count[0] if count else 0:,} rows")
        print(f"{'page':<12} {'first render':>12}")
        for page in PAGES:
            seconds = first_render_seconds(warehouse, page)
            verdict = "ok" if seconds < TARGET_S else f"over the {TARGET_S:.0f} s target"
            print(f"{page:<12} {seconds:>10.2f} s  {verdict}")


if __name__ == "__main__":
    main()
