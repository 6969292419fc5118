"""Referrals: K-factor, attributed GMV and rewards, top sharers, and one share tree at a time."""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import queries
from dashboards.i18n import text
from dashboards.metrics import format_yuan
from dashboards.ui import (
    date_range_filter,
    keep_in_url,
    page_start,
    table_with_download,
    url_value,
    yuan_columns,
)


def render() -> None:
    started = page_start("referrals.title", "referrals.caption")
    if started is None:
        return
    settings, language, _ = started
    path = settings.warehouse_path
    daily_all = queries.referrals_daily(path, start=date.min, end=date.max)
    if daily_all.is_empty():
        st.info(text("page.no_data", language), icon=":material/hourglass_empty:")
        return
    first, last = daily_all["shared_date"].min(), daily_all["shared_date"].max()
    start, end = date_range_filter("dates", language, first=first, last=last, default_days=28)  # type: ignore[arg-type]
    totals = queries.referral_totals(path, start=start, end=end)
    columns = st.columns([1, 1, 1, 1, 2, 1])
    columns[0].metric(text("referrals.shares", language), f"{totals.shares:,}")
    columns[1].metric(text("referrals.sharers", language), f"{totals.sharers:,}")
    columns[2].metric(text("referrals.new_shoppers", language), f"{totals.new_shoppers:,}")
    columns[3].metric(
        text("referrals.k_factor", language), "—" if totals.k_factor is None else f"{totals.k_factor:.2f}"
    )
    columns[4].metric(text("referrals.gmv", language), format_yuan(totals.attributed_gmv_fen))
    columns[5].metric(text("referrals.rewards", language), f"{totals.rewards:,}")
    st.caption(text("referrals.k_note", language))

    daily = daily_all.filter(pl.col("shared_date").is_between(start, end))
    day_labels = daily["shared_date"].dt.to_string("%Y-%m-%d")
    figure = go.Figure()
    figure.add_bar(x=day_labels, y=daily["new_shoppers"], name=text("referrals.new_shoppers", language))
    figure.add_scatter(x=day_labels, y=daily["k_factor"], name="K", yaxis="y2")
    figure.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        # From zero: an auto-ranged axis turns a K-factor of 0.9 → 1.1 into a cliff.
        yaxis2={"overlaying": "y", "side": "right", "rangemode": "tozero", "showgrid": False},
        # Days as categories: on a time axis a single day's bar is a sliver under millisecond ticks.
        xaxis={"type": "category"},
        legend={"orientation": "h"},
    )
    st.plotly_chart(figure, key="referrals_chart")

    st.subheader(text("referrals.top_sharers", language))
    sharers = queries.top_sharers(path, start=start, end=end)
    table_with_download(
        yuan_columns(sharers, "attributed_gmv_fen"), language, key="sharers", file_name="top_sharers.csv"
    )

    st.subheader(text("referrals.trees", language))
    trees = queries.share_trees(path, start=start, end=end)
    if trees.is_empty():
        st.info(text("page.no_data", language), icon=":material/hourglass_empty:")
        return
    roots = [str(root) for root in trees["root_share_id"]]
    sizes = dict(zip(roots, trees["shares"], strict=True))
    root = st.selectbox(
        text("referrals.pick_tree", language),
        options=roots,
        index=roots.index(url_value("tree", roots, roots[0])),
        format_func=lambda share_id: f"{share_id} · {sizes[share_id]}",
        key="referrals_tree",
    )
    keep_in_url("tree", root)
    tree = queries.share_tree(path, root_share_id=root)
    figure = go.Figure(
        go.Treemap(
            ids=tree["share_id"],
            labels=[
                f"{sharer}<br>+{new}"
                for sharer, new in zip(tree["sharer_person_id"], tree["new_shoppers"], strict=True)
            ],
            parents=tree["parent_share_id"].fill_null(""),
            values=tree["entered_shoppers"] + 1,
            branchvalues="remainder",
            marker={"colorscale": "Greens", "colors": tree["depth"]},
        )
    )
    figure.update_layout(height=360, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    st.plotly_chart(figure, key="tree_chart")
    table_with_download(
        yuan_columns(
            tree.with_columns(
                pl.col("shared_at")
                .dt.convert_time_zone(settings.shop_timezone)
                .dt.to_string("%Y-%m-%d %H:%M:%S")
            ),
            "attributed_gmv_fen",
        ),
        language,
        key="tree",
        file_name=f"share_tree_{root}.csv",
    )


render()
