"""Products: the hot list, category performance, view → purchase conversion, and low stock from the order core."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import queries
from dashboards.i18n import text
from dashboards.metrics import format_rate, format_yuan, share
from dashboards.order_core import OrderCoreRefused, OrderCoreUnavailable
from dashboards.staff_session import forget_token, order_core, unreachable
from dashboards.ui import date_range_filter, page_start, table_with_download, yuan_columns

HOT_LIST = 20


def render() -> None:
    started = page_start("products.title", "products.caption")
    if started is None:
        return
    settings, language, _ = started
    path = settings.warehouse_path
    dates = queries.product_dates(path)
    if dates is None:
        st.info(text("page.no_data", language), icon=":material/hourglass_empty:")
        return
    start, end = date_range_filter("dates", language, first=dates[0], last=dates[1])
    products = queries.product_performance(path, start=start, end=end)
    columns = st.columns([1, 1, 2, 1])
    columns[0].metric(text("products.sold", language), f"{products.filter(pl.col('units') > 0).height:,}")
    columns[1].metric(text("products.units", language), f"{int(products['units'].sum()):,}")
    columns[2].metric(text("products.revenue", language), format_yuan(int(products["revenue_fen"].sum())))
    columns[3].metric(
        text("products.conversion", language),
        format_rate(share(int(products["buyers"].sum()), int(products["viewers"].sum()))),
    )

    st.subheader(text("products.hot", language))
    hot = products.head(HOT_LIST)
    figure = go.Figure(
        go.Bar(x=hot["revenue_fen"] / 100, y=hot["name"], orientation="h", marker_color="#07c160")
    )
    figure.update_layout(
        height=24 * max(hot.height, 4) + 40,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"autorange": "reversed"},
        xaxis={"title": text("column.gmv_yuan", language)},
    )
    st.plotly_chart(figure, key="hot_chart")
    shown = products.with_columns(
        (pl.col("buyers") / pl.when(pl.col("viewers") > 0).then(pl.col("viewers"))).alias("conversion")
    )
    table_with_download(
        yuan_columns(shown, "revenue_fen"), language, key="products", file_name="products.csv"
    )

    st.subheader(text("products.categories", language))
    categories = (
        products.group_by("category")
        .agg(pl.len().alias("products"), pl.col("viewers", "buyers", "units", "revenue_fen").sum())
        .with_columns(
            (pl.col("buyers") / pl.when(pl.col("viewers") > 0).then(pl.col("viewers"))).alias("conversion")
        )
        .sort(["revenue_fen", "category"], descending=[True, False])
    )
    figure = go.Figure(
        go.Bar(
            x=categories["category"],
            y=categories["revenue_fen"] / 100,
            marker_color="#2aae67",
            customdata=categories["conversion"],
            hovertemplate="%{x}: ¥%{y:,.2f} · %{customdata:.1%}<extra></extra>",
        )
    )
    figure.update_layout(height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    st.plotly_chart(figure, key="category_chart")
    table_with_download(
        yuan_columns(categories, "revenue_fen"), language, key="categories", file_name="categories.csv"
    )

    st.subheader(text("products.low_stock", language))
    client = order_core(settings, language, ask=False)
    if client is None:
        st.info(text("products.low_stock_needs_api", language), icon=":material/inventory_2:")
        return
    try:
        low = client.low_stock()
    except OrderCoreUnavailable:
        unreachable(settings, language)
        return
    except OrderCoreRefused as error:
        if error.status == 401:
            forget_token()
        st.error(text("console.refused", language, message=error.message), icon=":material/block:")
        return
    frame = pl.DataFrame(
        low, schema={"sku_id": pl.String, "product_id": pl.String, "title": pl.String, "stock": pl.Int64}
    )
    st.metric(text("products.low_stock_skus", language), f"{frame.height:,}")
    table_with_download(frame.sort("stock"), language, key="low_stock", file_name="low_stock.csv")


render()
