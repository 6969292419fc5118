"""Retention on seeded cohorts: week-1 retention is weighted by cohort size; repurchase adds up the months."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest


def test_weekly_cohorts_and_repurchase_show_their_rates(
    seeded_marts: Path, open_page: Callable[..., AppTest], page_metrics: Callable[[AppTest], dict[str, str]]
) -> None:
    app = open_page(seeded_marts, "retention")

    assert page_metrics(app) == {
        "群组数": "2",
        "群组用户": "150",
        "次周留存": "33.3%",  # (30 + 20) / (100 + 50)
        "购买用户": "100",
        "复购用户": "15",
        "复购率": "15.0%",
    }


def test_the_monthly_grain_comes_from_the_url_and_switches_the_labels_to_english(
    seeded_marts: Path, open_page: Callable[..., AppTest], page_metrics: Callable[[AppTest], dict[str, str]]
) -> None:
    app = open_page(seeded_marts, "retention", query={"grain": "month"})
    app.sidebar.segmented_control[0].set_value("en").run()

    shown = page_metrics(app)
    assert shown["Cohorts"] == "1"
    assert shown["Month-1 retention"] == "—"
