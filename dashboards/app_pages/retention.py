"""Retention: weekly or monthly cohort heatmap, and repurchase by first-order month."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import queries
from dashboards.i18n import text
from dashboards.metrics import format_rate, share
from dashboards.ui import keep_in_url, page_start, table_with_download, url_value

GRAINS = ("week", "month")


def render() -> None:
    started = page_start("retention.title", "retention.caption")
    if started is None:
        return
    settings, language, _ = started
    path = settings.warehouse_path
    grain = (
        st.sidebar.segmented_control(
            text("retention.grain", language),
            options=list(GRAINS),
            default=url_value("grain", GRAINS, "week"),
            format_func=lambda value: text(f"retention.{value}", language),
            key="retention_grain",
        )
        or "week"
    )
    keep_in_url("grain", grain)

    cohorts = queries.retention_cohorts(path, grain=grain)
    if cohorts.is_empty():
        st.info(text("page.no_data", language), icon=":material/hourglass_empty:")
    else:
        first_period = cohorts.filter(pl.col("periods_since") == 1)
        cohort_sizes = cohorts.filter(pl.col("periods_since") == 0)
        columns = st.columns(3)
        columns[0].metric(text("retention.cohorts", language), f"{cohort_sizes.height:,}")
        columns[1].metric(
            text("retention.shoppers", language), f"{int(cohort_sizes['cohort_shoppers'].sum()):,}"
        )
        columns[2].metric(
            text(f"retention.after_one_{grain}", language),
            format_rate(
                share(int(first_period["active_shoppers"].sum()), int(first_period["cohort_shoppers"].sum()))
            ),
        )
        grid = cohorts.pivot(
            on="periods_since", index="cohort_start", values="retention_rate", sort_columns=True
        )
        periods = [name for name in grid.columns if name != "cohort_start"]
        z = grid.select(periods).to_numpy()
        figure = go.Figure(
            go.Heatmap(
                z=z,
                x=[f"+{period}" for period in periods],
                y=[day.isoformat() for day in grid["cohort_start"]],
                colorscale="Greens",
                zmin=0,
                zmax=1,
                text=[["" if value != value else f"{value:.0%}" for value in row] for row in z],
                texttemplate="%{text}",
                hovertemplate="%{y} %{x}: %{z:.1%}<extra></extra>",
            )
        )
        figure.update_layout(
            height=60 + 32 * grid.height,
            margin={"l": 10, "r": 10, "t": 10, "b": 10},
            yaxis={"autorange": "reversed", "type": "category"},
            xaxis={"title": text(f"retention.periods_{grain}", language)},
        )
        st.plotly_chart(figure, key="retention_heatmap")
        table_with_download(
            cohorts.with_columns(pl.col("cohort_start").dt.to_string("%Y-%m-%d")),
            language,
            key="retention",
            file_name=f"retention_{grain}.csv",
        )

    st.subheader(text("retention.repurchase", language))
    repeat = queries.repurchase(path)
    if repeat.is_empty():
        st.info(text("page.no_data", language), icon=":material/hourglass_empty:")
        return
    columns = st.columns(3)
    columns[0].metric(text("retention.buyers", language), f"{int(repeat['buyers'].sum()):,}")
    columns[1].metric(text("retention.repeat_buyers", language), f"{int(repeat['repeat_buyers'].sum()):,}")
    columns[2].metric(
        text("retention.repeat_rate", language),
        format_rate(share(int(repeat["repeat_buyers"].sum()), int(repeat["buyers"].sum()))),
    )
    figure = go.Figure(
        go.Bar(
            x=[day.strftime("%Y-%m") for day in repeat["cohort_month"]],
            y=repeat["repeat_rate"],
            marker_color="#07c160",
            texttemplate="%{y:.1%}",
        )
    )
    figure.update_layout(
        height=280,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        # One bar per cohort month, labelled as such (plotly reads "2026-10" as a date and ticks fortnights).
        xaxis={"type": "category"},
        yaxis={"tickformat": ".0%"},
    )
    st.plotly_chart(figure, key="repurchase_chart")
    table_with_download(
        repeat.with_columns(pl.col("cohort_month").dt.to_string("%Y-%m")),
        language,
        key="repurchase",
        file_name="repurchase.csv",
    )


render()
