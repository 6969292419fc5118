"""Experiments: each variant's conversion with its confidence interval, and a verdict in plain words."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import queries
from dashboards.i18n import text
from dashboards.metrics import experiment_verdict, format_points, format_rate, format_yuan
from dashboards.ui import keep_in_url, page_start, table_with_download, url_value, yuan_columns


def render() -> None:
    started = page_start("experiments.title", "experiments.caption")
    if started is None:
        return
    settings, language, _ = started
    everything = queries.experiments(settings.warehouse_path)
    if everything.is_empty():
        st.info(text("experiments.none", language), icon=":material/science:")
        return
    names = everything["experiment_id"].unique(maintain_order=True).to_list()
    chosen = st.selectbox(
        text("experiments.pick", language),
        options=names,
        index=names.index(url_value("experiment", names, names[0])),
        key="experiment",
    )
    keep_in_url("experiment", chosen)
    variants = everything.filter(pl.col("experiment_id") == chosen)

    control_rates = variants.filter(pl.col("is_control"))["conversion_rate"]
    control_rate = control_rates[0] if control_rates.len() else None
    columns = st.columns(variants.height)
    for column, row in zip(columns, variants.iter_rows(named=True), strict=True):
        column.metric(
            f"{row['variant']} · {text('experiments.conversion', language)}",
            format_rate(row["conversion_rate"]),
            None if row["is_control"] or row["uplift"] is None else format_points(row["uplift"], language),
        )
        column.caption(
            text(
                "experiments.ci",
                language,
                low=format_rate(row["conversion_ci_low"]),
                high=format_rate(row["conversion_ci_high"]),
                exposed=f"{row['exposed_shoppers']:,}",
                revenue=format_yuan(row["revenue_fen"]),
            )
        )
    for row in variants.filter(~pl.col("is_control")).iter_rows(named=True):
        verdict = experiment_verdict(
            variant=row["variant"],
            uplift=row["uplift"],
            p_value=row["p_value"],
            is_significant=row["is_significant"],
            control_rate=control_rate,
            language=language,
        )
        (st.success if row["is_significant"] and (row["uplift"] or 0) > 0 else st.info)(verdict)

    rates = variants["conversion_rate"]
    figure = go.Figure(
        go.Scatter(
            x=variants["variant"],
            y=rates,
            mode="markers",
            marker={"size": 14, "color": "#07c160"},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": variants["conversion_ci_high"] - rates,
                "arrayminus": rates - variants["conversion_ci_low"],
            },
        )
    )
    figure.update_layout(height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis={"tickformat": ".1%"})
    st.plotly_chart(figure, key="experiment_chart")
    table_with_download(
        yuan_columns(variants, "revenue_fen"), language, key="variants", file_name=f"{chosen}.csv"
    )


render()
