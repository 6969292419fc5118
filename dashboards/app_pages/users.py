"""Users: RFM segments, interest tags, shoppers by province (a China province chart), usual active hours."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import queries
from dashboards.i18n import segment_label, text
from dashboards.ui import date_range_filter, page_start, table_with_download, yuan_columns


def render() -> None:
    started = page_start("users.title", "users.caption")
    if started is None:
        return
    settings, language, _ = started
    path = settings.warehouse_path
    segments = queries.rfm_segments(path)
    if segments.is_empty():
        st.info(text("page.no_data", language), icon=":material/hourglass_empty:")
        return
    columns = st.columns(3)
    columns[0].metric(text("users.shoppers", language), f"{int(segments['shoppers'].sum()):,}")
    columns[1].metric(text("users.segments", language), f"{segments.height:,}")
    columns[2].metric(
        text("users.largest", language), segment_label(str(segments["rfm_segment"][0]), language)
    )

    left, right = st.columns(2)
    with left:
        st.subheader(text("users.rfm", language))
        labels = [segment_label(str(code), language) for code in segments["rfm_segment"]]
        figure = go.Figure(go.Pie(labels=labels, values=segments["shoppers"], hole=0.45, sort=False))
        figure.update_layout(height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10})
        st.plotly_chart(figure, key="rfm_chart")
    with right:
        st.subheader(text("users.tags", language))
        tags = queries.interest_tags(path)
        figure = go.Figure(go.Bar(x=tags["shoppers"], y=tags["tag"], orientation="h", marker_color="#2aae67"))
        figure.update_layout(
            height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis={"autorange": "reversed"}
        )
        st.plotly_chart(figure, key="tags_chart")
    table_with_download(
        yuan_columns(
            segments.with_columns(
                pl.col("rfm_segment").map_elements(
                    lambda code: segment_label(code, language), return_dtype=pl.String
                )
            ),
            "lifetime_value_fen",
        ),
        language,
        key="segments",
        file_name="rfm_segments.csv",
    )

    st.subheader(text("users.regions", language))
    dates = queries.data_dates(path)
    if dates is not None:
        start, end = date_range_filter("dates", language, first=dates[0], last=dates[1], default_days=28)
        provinces = queries.regions(path, start=start, end=end)
        figure = go.Figure(
            go.Bar(
                x=provinces["province"],
                y=provinces["active_shoppers"],
                marker_color="#07c160",
                customdata=provinces["gmv_fen"] / 100,
                hovertemplate="%{x}: %{y:,} · ¥%{customdata:,.2f}<extra></extra>",
            )
        )
        figure.update_layout(height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10})
        st.plotly_chart(figure, key="regions_chart")
        st.caption(text("users.regions_note", language))
        table_with_download(
            yuan_columns(provinces, "gmv_fen"), language, key="regions", file_name="regions.csv"
        )

    st.subheader(text("users.hours", language))
    hours = queries.active_hours(path)
    figure = go.Figure(go.Bar(x=hours["hour"], y=hours["shoppers"], marker_color="#4d9a6e"))
    figure.update_layout(
        height=260,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"dtick": 1, "title": text("users.hour", language)},
    )
    st.plotly_chart(figure, key="hours_chart")
    table_with_download(hours, language, key="hours", file_name="active_hours.csv")


render()
