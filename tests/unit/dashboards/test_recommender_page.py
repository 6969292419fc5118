"""Recommender: offline metrics per model version from the registry, and the live model's picks with reasons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from streamlit.testing.v1 import AppTest

from recsys.model import ALSModel, ALSParams, Recommender
from recsys.registry import ModelRegistry


def _two_product_model() -> Recommender:
    """ann has bought p1, so the live model can only offer her p2."""
    model = ALSModel.from_factors(
        np.array([[1.0, 0.0]], dtype=np.float32),
        np.array([[1.0, 0.0], [0.9, 0.1]], dtype=np.float32),
        ALSParams(),
    )
    bought = sp.csr_matrix(np.array([[1.0, 0.0]], dtype=np.float32))
    return Recommender(
        model=model,
        person_ids=np.array(["ann"]),
        product_ids=np.array(["p1", "p2"]),
        purchased=bought,
        interacted=bought,
        popularity=np.array([5.0, 3.0], dtype=np.float32),
        complement_scores=sp.csr_matrix((2, 2), dtype=np.float32),
        product_names=np.array(["云南小粒咖啡", "蜂蜜面膜"]),
        product_categories=np.array(["茶饮", "美妆护肤"]),
    )


def test_model_versions_show_their_offline_metrics_and_a_shopper_gets_reasons(
    seeded_marts: Path, open_page: Callable[..., AppTest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = ModelRegistry(tmp_path / "models")
    for day, ndcg in ((1, 0.21), (2, 0.25)):
        registry.save_run(
            _two_product_model(),
            validation_score=ndcg,
            metrics={
                "k": 10,
                "models": {"als": {"ndcg@10": ndcg, "recall@10": ndcg / 2}, "popular": {"ndcg@10": 0.1}},
            },
            now=datetime(2025, 6, day, tzinfo=UTC),
        )
    monkeypatch.setenv("SHOPLOOP_RECSYS_REGISTRY_DIR", str(tmp_path / "models"))

    app = open_page(seeded_marts, "recommender", query={"shopper": "ann"})

    assert not app.exception, [e.message for e in app.exception]
    shown = {metric.label: metric.value for metric in app.metric}
    assert (shown["模型版本"], shown["NDCG@10"], shown["Recall@10"]) == ("2", "0.250", "0.125")
    runs = app.dataframe[0].value
    assert len(runs) == 4  # two runs × two models
    assert any("Recommendation Shown / Clicked" in info.body for info in app.info)
    picks = app.dataframe[1].value
    assert list(picks["name"]) == ["蜂蜜面膜"]
    assert picks["reason"][0]


def test_the_click_through_rate_per_day_and_model_version_comes_from_the_recommendation_mart(
    seeded_marts: Path, open_page: Callable[..., AppTest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    # June 1st: model run-a, 4 lists shown, 1 tapped (twice); June 2nd: run-a 6 shown, 2 tapped; best sellers
    # 10 shown, none tapped.
    rows = [
        (date(2025, 6, 1), "run-a", 4, 24, 2, 1),
        (date(2025, 6, 2), "popular", 10, 60, 0, 0),
        (date(2025, 6, 2), "run-a", 6, 36, 2, 2),
    ]
    with duckdb.connect(str(seeded_marts)) as connection:
        connection.execute("delete from fct_recommendation_daily")
        for day, version, shown, products, clicks, tapped in rows:
            connection.execute(
                "insert into fct_recommendation_daily values (?, ?, ?, ?, ?, ?, ?, ?)",
                [day, version, shown, products, clicks, tapped, tapped / shown, clicks / products],
            )
    registry = ModelRegistry(tmp_path / "models")
    registry.save_run(_two_product_model(), validation_score=0.2, metrics={})  # a card without metrics
    monkeypatch.setenv("SHOPLOOP_RECSYS_REGISTRY_DIR", str(tmp_path / "models"))

    app = open_page(seeded_marts, "recommender", query={"shopper": "ann"})

    assert not app.exception, [e.message for e in app.exception]
    shown = {metric.label: metric.value for metric in app.metric}
    assert (shown["点击率（近 28 天）"], shown["推荐展示次数"], shown["推荐点击次数"]) == ("15.0%", "20", "4")
    daily = app.dataframe[0].value  # the card has no metrics table: the first table is the daily clicks
    assert list(daily["event_date"]) == ["2025-06-01", "2025-06-02", "2025-06-02"]
    assert list(daily["model_version"]) == ["run-a", "popular", "run-a"]
    assert list(daily["click_through_rate"]) == [0.25, 0.0, 2 / 6]
