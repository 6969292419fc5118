"""Every read the dashboards make, in one place: parameterised SQL against the marts of the published warehouse.

Each query opens the published file afresh, read-only, so the next query after a publish sees the new build.
It attaches the file into a new in-memory DuckDB instance rather than `duckdb.connect(path)`: DuckDB reuses the
instance it already has open for a path in this process, which would keep serving the replaced file.
Results are cached for a few seconds so many sessions share one query, while live numbers still move.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import streamlit as st

CACHE_TTL_S = 5


@dataclass(frozen=True, slots=True)
class WarehouseStatus:
    built_at: datetime
    last_event_received_at: datetime | None
    event_count: int


@dataclass(frozen=True, slots=True)
class FunnelOptions:
    """What the funnel filters can offer: the channels and scenes present and the dates covered."""

    channels: tuple[str, ...]
    scenes: tuple[int, ...]
    first_date: date
    last_date: date


@contextmanager
def read_only(warehouse_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    try:
        connection.execute("attach ? as warehouse (read_only)", [str(warehouse_path)])
        connection.execute("use warehouse")
        yield connection
    finally:
        connection.close()


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def warehouse_status(warehouse_path: Path) -> WarehouseStatus | None:
    """When the published warehouse was built; None when nothing has been published yet."""
    if not warehouse_path.exists():
        return None
    with read_only(warehouse_path) as connection:
        row = connection.execute(
            "select built_at, last_event_received_at, event_count from meta_build_info"
        ).fetchone()
    if row is None:
        return None
    return WarehouseStatus(built_at=row[0], last_event_received_at=row[1], event_count=int(row[2]))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def funnel_options(warehouse_path: Path) -> FunnelOptions | None:
    """The filter choices of the funnel page; None when the mart has no rows yet."""
    with read_only(warehouse_path) as connection:
        bounds = connection.execute(
            "select min(event_date), max(event_date) from fct_funnel_daily"
        ).fetchone()
        if bounds is None or bounds[0] is None:
            return None
        channels = connection.execute(
            "select distinct channel from fct_funnel_daily order by channel"
        ).fetchall()
        scenes = connection.execute("select distinct scene from fct_funnel_daily order by scene").fetchall()
    return FunnelOptions(
        channels=tuple(str(row[0]) for row in channels),
        scenes=tuple(int(row[0]) for row in scenes),
        first_date=bounds[0],
        last_date=bounds[1],
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def funnel_daily(
    warehouse_path: Path,
    *,
    start: date,
    end: date,
    channels: tuple[str, ...] = (),
    scenes: tuple[int, ...] = (),
) -> pl.DataFrame:
    """fct_funnel_daily rows between two shop dates (inclusive); empty channels/scenes mean all of them."""
    with read_only(warehouse_path) as connection:
        result = connection.sql(
            """
            select
                event_date, channel, scene,
                viewed_shoppers, added_shoppers, checkout_shoppers, paid_shoppers,
                orders, gmv_fen, gmv_yuan, view_to_paid_rate
            from fct_funnel_daily
            where event_date between $start and $end
                and (len($channels) = 0 or list_contains($channels, channel))
                and (len($scenes) = 0 or list_contains($scenes, scene))
            order by event_date desc, viewed_shoppers desc, channel, scene
            """,
            params={"start": start, "end": end, "channels": list(channels), "scenes": list(scenes)},
        )
        return pl.DataFrame(result.to_arrow_table())
