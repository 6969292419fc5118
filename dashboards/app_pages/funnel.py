"""The funnel page (the landing page): today's and a date range's funnel by channel and WeChat scene."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import queries
from dashboards.i18n import Language, channel_label, scene_label, text
from dashboards.metrics import FUNNEL_STEPS, FunnelTotals, format_rate, format_yuan, funnel_totals
from dashboards.settings import DashboardSettings
from dashboards.ui import current_language, freshness_badge

DEFAULT_RANGE_DAYS = 7


def show_totals(totals: FunnelTotals, language: Language) -> None:
    # GMV gets room for seven-figure amounts; the counts are short.
    columns = st.columns([1, 1, 1, 1, 1, 2, 1])
    for column, step in zip(columns, FUNNEL_STEPS, strict=False):
        column.metric(text(f"step.{step}", language), f"{totals.shoppers(step):,}")
    columns[4].metric(text("metric.orders", language), f"{totals.orders:,}")
    columns[5].metric(text("metric.gmv", language), format_yuan(totals.gmv_fen))
    columns[6].metric(text("metric.view_to_paid", language), format_rate(totals.view_to_paid_rate))


def funnel_chart(totals: FunnelTotals, language: Language) -> go.Figure:
    figure = go.Figure(
        go.Funnel(
            y=[text(f"step.{step}", language) for step in FUNNEL_STEPS],
            x=[totals.shoppers(step) for step in FUNNEL_STEPS],
            texttemplate=(
                f"%{{value:,}}<br>{text('chart.of_first', language)} %{{percentInitial:.1%}}"
                f" · {text('chart.of_previous', language)} %{{percentPrevious:.1%}}"
            ),
            marker={"color": ["#07c160", "#2aae67", "#4d9a6e", "#1f6f43"]},
        )
    )
    figure.update_layout(margin={"l": 10, "r": 10, "t": 10, "b": 10}, height=320)
    return figure


def daily_table(rows: pl.DataFrame, language: Language) -> pl.DataFrame:
    """The mart's rows with display labels for channels and scenes and the page's column names."""
    labelled = rows.with_columns(
        pl.col("event_date").dt.to_string("%Y-%m-%d"),
        pl.col("channel").map_elements(lambda code: channel_label(code, language), return_dtype=pl.String),
        pl.col("scene").map_elements(lambda scene: scene_label(scene, language), return_dtype=pl.String),
    )
    names = {
        "event_date": text("column.event_date", language),
        "channel": text("column.channel", language),
        "scene": text("column.scene", language),
        "viewed_shoppers": text("step.viewed", language),
        "added_shoppers": text("step.added", language),
        "checkout_shoppers": text("step.checkout", language),
        "paid_shoppers": text("step.paid", language),
        "orders": text("metric.orders", language),
        "gmv_yuan": text("column.gmv_yuan", language),
        "view_to_paid_rate": text("column.view_to_paid_rate", language),
    }
    return labelled.select(pl.col(source).alias(shown) for source, shown in names.items())


def selected_range(value: object, fallback: tuple[date, date]) -> tuple[date, date]:
    """st.date_input returns one date while the second end of a range is still being picked."""
    if isinstance(value, tuple | list) and len(value) == 2:
        return value[0], value[1]
    if isinstance(value, tuple | list) and len(value) == 1:
        return value[0], value[0]
    if isinstance(value, date):
        return value, value
    return fallback


def render() -> None:
    settings = DashboardSettings()
    language = current_language(settings)
    st.title(text("funnel.title", language))
    st.caption(text("funnel.caption", language))

    status = queries.warehouse_status(settings.warehouse_path)
    if status is None:
        st.info(text("funnel.no_warehouse", language), icon=":material/hourglass_empty:")
        return
    freshness_badge(status, settings, language)
    options = queries.funnel_options(settings.warehouse_path)
    if options is None:
        st.info(text("funnel.no_data", language), icon=":material/hourglass_empty:")
        return

    today = datetime.now(UTC).astimezone(ZoneInfo(settings.shop_timezone)).date()
    last_day = max(today, options.last_date)
    # The latest week that has data: the last seven days, or the mart's last seven when the shop went quiet.
    range_end = today if options.last_date > today - timedelta(days=DEFAULT_RANGE_DAYS) else options.last_date
    default_range = (max(options.first_date, range_end - timedelta(days=DEFAULT_RANGE_DAYS - 1)), range_end)
    with st.sidebar:
        picked = st.date_input(
            text("filter.dates", language),
            value=default_range,
            min_value=options.first_date,
            max_value=last_day,
            key="funnel_dates",
        )
        channels = st.multiselect(
            text("filter.channels", language),
            options=options.channels,
            format_func=lambda code: channel_label(code, language),
            placeholder=text("filter.all", language),
            key="funnel_channels",
        )
        scenes = st.multiselect(
            text("filter.scenes", language),
            options=options.scenes,
            format_func=lambda scene: scene_label(scene, language),
            placeholder=text("filter.all", language),
            key="funnel_scenes",
        )
    start, end = selected_range(picked, default_range)

    st.subheader(f"{text('funnel.today', language)} · {today.isoformat()}")
    today_rows = queries.funnel_daily(
        settings.warehouse_path, start=today, end=today, channels=tuple(channels), scenes=tuple(scenes)
    )
    show_totals(funnel_totals(today_rows), language)

    st.subheader(f"{text('funnel.range', language)} · {start.isoformat()} – {end.isoformat()}")
    range_rows = queries.funnel_daily(
        settings.warehouse_path, start=start, end=end, channels=tuple(channels), scenes=tuple(scenes)
    )
    range_totals = funnel_totals(range_rows)
    show_totals(range_totals, language)
    st.caption(text("funnel.range_note", language))
    st.plotly_chart(funnel_chart(range_totals, language), key="funnel_chart")

    st.subheader(text("funnel.daily_table", language))
    table = daily_table(range_rows, language)
    st.dataframe(
        table,
        hide_index=True,
        key="funnel_table",
        column_config={
            text("column.view_to_paid_rate", language): st.column_config.NumberColumn(format="percent"),
            text("column.gmv_yuan", language): st.column_config.NumberColumn(format="¥%.2f"),
        },
    )
    st.download_button(
        text("funnel.download", language),
        data=range_rows.write_csv(),
        file_name=f"funnel_{start.isoformat()}_{end.isoformat()}.csv",
        mime="text/csv",
        icon=":material/download:",
    )


render()
