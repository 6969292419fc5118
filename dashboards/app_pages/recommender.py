"""Recommender: offline metrics per model version, click-through rate, example recommendations with reasons."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import queries
from dashboards.i18n import Language, text
from dashboards.metrics import format_rate, shop_time
from dashboards.settings import DashboardSettings
from dashboards.ui import keep_in_url, page_start, table_with_download
from recsys.model import Recommender
from recsys.registry import ModelRegistry, NoModelError, RunCard
from recsys.settings import RecsysSettings
from recsys.train import load_live


@st.cache_resource(ttl=60, show_spinner=False)
def live_recommender(registry_dir: str) -> Recommender:
    """The live model, loaded once a minute at most (it is the same artifact serving uses)."""
    return load_live(RecsysSettings(registry_dir=registry_dir))


def version_label(run: RunCard, settings: DashboardSettings) -> str:
    """A model version as people name it: when it was trained (shop time) and the tail of its run id."""
    return f"{shop_time(run.created_at, settings.shop_timezone)[5:16]} · {run.run_id[-6:]}"


def click_through(warehouse_path: Path, language: Language) -> None:
    """Lists tapped per recommendation list shown, per day and model version (fct_recommendation_daily)."""
    st.subheader(text("recommender.ctr", language))
    daily = queries.recommendation_clicks(warehouse_path)
    if daily.is_empty():
        st.info(text("recommender.no_ctr", language), icon=":material/ads_click:")
        return
    shown, tapped = int(daily["lists_shown"].sum()), int(daily["lists_clicked"].sum())
    columns = st.columns(3)
    columns[0].metric(
        text("recommender.ctr_overall", language), format_rate(tapped / shown if shown else None)
    )
    columns[1].metric(text("recommender.shown", language), f"{shown:,}")
    columns[2].metric(text("recommender.clicked", language), f"{int(daily['clicks'].sum()):,}")
    figure = go.Figure()
    for version in daily["model_version"].unique(maintain_order=True):
        points = daily.filter(pl.col("model_version") == version)
        figure.add_scatter(
            x=points["event_date"], y=points["click_through_rate"], name=version, mode="lines+markers"
        )
    figure.update_layout(
        height=260,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"tickformat": ".1%", "title": text("recommender.ctr", language)},
    )
    st.plotly_chart(figure, key="ctr_chart")
    table_with_download(
        daily.with_columns(pl.col("event_date").dt.to_string("%Y-%m-%d")),
        language,
        key="recommendation_clicks",
        file_name="recommendation_clicks.csv",
    )


def render() -> None:
    started = page_start("recommender.title", "recommender.caption")
    if started is None:
        return
    settings, language, _ = started
    recsys_settings = RecsysSettings()
    registry = ModelRegistry(recsys_settings.resolved_registry_dir())
    runs = registry.runs()
    if not runs:
        st.info(text("recommender.no_runs", language), icon=":material/model_training:")
        return
    live = registry.live()
    rows = [
        {
            "run_id": run.run_id,
            "created_at": shop_time(run.created_at, settings.shop_timezone),
            "is_live": live is not None and run.run_id == live.run_id,
            "model": model,
            **{name: float(value) for name, value in scores.items() if isinstance(value, int | float)},
        }
        for run in runs
        for model, scores in run.metrics.get("models", {}).items()
    ]
    metrics = pl.DataFrame(rows)
    k = runs[-1].metrics.get("k", recsys_settings.k)
    newest = (
        metrics.filter((pl.col("run_id") == runs[-1].run_id) & (pl.col("model").str.to_lowercase() == "als"))
        if not metrics.is_empty()
        else metrics
    )
    columns = st.columns([1, 1.5, 1, 1])  # the live version is the longest value
    columns[0].metric(text("recommender.runs", language), f"{len(runs):,}")
    columns[1].metric(text("recommender.live", language), version_label(live, settings) if live else "—")
    if not newest.is_empty():
        columns[2].metric(f"NDCG@{k}", f"{newest[f'ndcg@{k}'][0]:.3f}")
        columns[3].metric(f"Recall@{k}", f"{newest[f'recall@{k}'][0]:.3f}")
    if not metrics.is_empty() and f"ndcg@{k}" in metrics.columns:
        # One tick per model version (training time and the run id's tail), evenly spaced whatever the gaps.
        versions = {run.run_id: version_label(run, settings) for run in runs}
        figure = go.Figure()
        for model in metrics["model"].unique(maintain_order=True):
            points = metrics.filter(pl.col("model") == model)
            figure.add_scatter(
                x=[versions[run_id] for run_id in points["run_id"]],
                y=points[f"ndcg@{k}"],
                name=model,
                mode="lines+markers",
            )
        figure.update_layout(
            height=300,
            margin={"l": 10, "r": 10, "t": 10, "b": 10},
            xaxis={"type": "category"},
            yaxis={"title": f"NDCG@{k}"},
        )
        st.plotly_chart(figure, key="recsys_chart")
        table_with_download(metrics, language, key="recsys_runs", file_name="recsys_runs.csv")

    click_through(settings.warehouse_path, language)

    st.subheader(text("recommender.examples", language))
    shoppers = queries.most_active_shoppers(settings.warehouse_path)
    person_id = st.selectbox(
        text("recommender.pick", language),
        options=shoppers,
        index=shoppers.index(st.query_params["shopper"]) if st.query_params.get("shopper") in shoppers else 0,
        accept_new_options=True,
        key="recommender_shopper",
    )
    if not person_id:
        return
    keep_in_url("shopper", person_id)
    try:
        model = live_recommender(str(recsys_settings.resolved_registry_dir()))
    except NoModelError as error:
        st.info(str(error))
        return
    index = model.product_index
    recommendations = pl.DataFrame(
        [
            {
                "rank": rank,
                "product_id": item.product_id,
                "name": str(model.product_names[index[item.product_id]]),
                "category": str(model.product_categories[index[item.product_id]]),
                "score": round(item.score, 4),
                "reason": item.why.text(language),
            }
            for rank, item in enumerate(model.recommend_for(person_id, 10), start=1)
        ]
    )
    if person_id not in model.person_index:
        st.caption(text("recommender.cold_start", language))
    table_with_download(
        recommendations, language, key="recommendations", file_name=f"recommendations_{person_id}.csv"
    )


render()
