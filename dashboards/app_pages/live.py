"""Live: the streams' per-minute numbers, re-read every few seconds without reloading the page."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import queries
from dashboards.i18n import Language, text
from dashboards.metrics import format_yuan
from dashboards.settings import DashboardSettings
from dashboards.ui import page_start, table_with_download, yuan_columns

WINDOW_MINUTES = 60


def live_numbers(settings: DashboardSettings, language: Language) -> None:
    minutes = queries.live_minutes(settings.warehouse_path, minutes=WINDOW_MINUTES)
    if minutes.is_empty():
        st.info(text("live.none", language), icon=":material/sensors:")
        return
    minutes = minutes.with_columns(pl.col("minute_at").dt.convert_time_zone(settings.shop_timezone))
    latest = minutes.row(-1, named=True)
    st.subheader(text("live.latest", language, minute=latest["minute_at"].strftime("%H:%M")))
    columns = st.columns([1, 1, 1, 1, 2])
    columns[0].metric(text("live.events", language), f"{latest['events']:,}")
    columns[1].metric(text("live.new_shoppers", language), f"{latest['new_shoppers']:,}")
    columns[2].metric(text("live.cart_adds", language), f"{latest['cart_adds']:,}")
    columns[3].metric(text("metric.orders", language), f"{latest['orders']:,}")
    columns[4].metric(text("metric.gmv", language), format_yuan(latest["gmv_fen"]))
    st.subheader(text("live.window", language, n=minutes.height))
    columns = st.columns([1, 1, 2])
    columns[0].metric(text("live.events", language), f"{int(minutes['events'].sum()):,}")
    columns[1].metric(text("metric.orders", language), f"{int(minutes['orders'].sum()):,}")
    columns[2].metric(text("metric.gmv", language), format_yuan(int(minutes["gmv_fen"].sum())))
    figure = go.Figure()
    for column in ("events", "product_views", "cart_adds", "orders"):
        figure.add_scatter(x=minutes["minute_at"], y=minutes[column], name=text(f"live.{column}", language))
    figure.update_layout(height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"orientation": "h"})
    st.plotly_chart(figure, key="live_chart")
    table_with_download(
        yuan_columns(
            minutes.with_columns(pl.col("minute_at").dt.to_string("%Y-%m-%d %H:%M")), "gmv_fen"
        ).reverse(),
        language,
        key="live",
        file_name="live_minutes.csv",
    )


def render() -> None:
    started = page_start("live.title", "live.caption")
    if started is None:
        return
    settings, language, _ = started
    st.fragment(run_every=settings.live_refresh_s)(live_numbers)(settings, language)


render()
