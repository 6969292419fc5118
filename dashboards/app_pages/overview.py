"""Overview: GMV, orders, AOV (客单价), conversion and active shoppers for a period, against the period before."""

from __future__ import annotations

from datetime import timedelta

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import queries
from dashboards.i18n import text
from dashboards.metrics import average_fen, format_change, format_rate, format_yuan, share
from dashboards.ui import date_range_filter, page_start, shop_today, table_with_download, yuan_columns


def render() -> None:
    started = page_start("overview.title", "overview.caption")
    if started is None:
        return
    settings, language, _ = started
    path = settings.warehouse_path
    dates = queries.data_dates(path)
    if dates is None:
        st.info(text("page.no_data", language), icon=":material/hourglass_empty:")
        return
    start, end = date_range_filter(
        "dates", language, first=dates[0], last=max(dates[1], shop_today(settings))
    )
    days = (end - start).days + 1
    previous_start, previous_end = start - timedelta(days=days), start - timedelta(days=1)
    now = queries.period_totals(path, start=start, end=end)
    before = queries.period_totals(path, start=previous_start, end=previous_end)
    aov, aov_before = average_fen(now.gmv_fen, now.orders), average_fen(before.gmv_fen, before.orders)
    conversion, conversion_before = (
        share(now.buyers, now.active_shoppers),
        share(before.buyers, before.active_shoppers),
    )

    st.subheader(f"{start.isoformat()} – {end.isoformat()}")
    st.caption(
        text("overview.compared", language, start=previous_start.isoformat(), end=previous_end.isoformat())
    )
    columns = st.columns([2, 1, 2, 1, 1])
    columns[0].metric(
        text("metric.gmv", language), format_yuan(now.gmv_fen), format_change(now.gmv_fen, before.gmv_fen)
    )
    columns[1].metric(
        text("metric.orders", language), f"{now.orders:,}", format_change(now.orders, before.orders)
    )
    columns[2].metric(
        text("metric.aov", language),
        "—" if aov is None else format_yuan(aov),
        None if aov is None or aov_before is None else format_change(aov, aov_before),
    )
    columns[3].metric(
        text("metric.conversion", language),
        format_rate(conversion),
        None
        if conversion is None or conversion_before is None
        else format_change(conversion, conversion_before),
    )
    columns[4].metric(
        text("metric.active_shoppers", language),
        f"{now.active_shoppers:,}",
        format_change(now.active_shoppers, before.active_shoppers),
    )

    daily = queries.daily_sales(path, start=start, end=end)
    day_labels = daily["day"].dt.to_string("%Y-%m-%d")
    figure = go.Figure()
    figure.add_bar(x=day_labels, y=(daily["gmv_fen"] / 100), name=text("column.gmv_yuan", language))
    figure.add_scatter(
        x=day_labels, y=daily["active_shoppers"], name=text("metric.active_shoppers", language), yaxis="y2"
    )
    figure.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        # From zero: an auto-ranged axis turns 107 → 108 active shoppers into a cliff.
        yaxis2={"overlaying": "y", "side": "right", "rangemode": "tozero", "showgrid": False},
        # Days as categories: on a time axis a single day's bar is a sliver under millisecond ticks.
        xaxis={"type": "category"},
        legend={"orientation": "h"},
    )
    st.plotly_chart(figure, key="overview_chart")
    table = yuan_columns(daily, "gmv_fen").with_columns(pl.col("day").dt.to_string("%Y-%m-%d"))
    table_with_download(table, language, key="overview", file_name=f"overview_{start}_{end}.csv")


render()
