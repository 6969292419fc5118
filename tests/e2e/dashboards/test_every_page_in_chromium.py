"""Every dashboard page in headless Debian Chromium over the sample warehouse: numbers, no exception box."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dashboards.screenshots import (
    PAGES,
    metric_values,
    metrics_by_label,
    open_rendered_page,
    screenshot_whole_page,
)


@pytest.mark.parametrize("page", PAGES)
def test_the_page_renders_numbers_without_an_exception(
    dashboard_url: str, browser: Any, page: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tab = open_rendered_page(browser, dashboard_url, page)
    try:
        values = metric_values(tab)
        assert any(re.search(r"[1-9]", value) for value in values), values
        # Saved to look at when something is off; docs/screenshots holds the demo's (dashboards/screenshots.py).
        screenshot_whole_page(tab, tmp_path_factory.getbasetemp() / "screenshots" / f"dashboard-{page}.png")
    finally:
        tab.close()


def test_the_console_says_when_the_order_core_is_unreachable(dashboard_url: str, browser: Any) -> None:
    tab = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        tab.goto(f"{dashboard_url}/automations", wait_until="domcontentloaded")
        tab.wait_for_selector("[data-testid=stMetric]", timeout=30_000)
        tab.get_by_label("用户名").fill("mei")
        tab.get_by_label("密码").fill("s3cret")
        tab.get_by_role("button", name="登录").click()
        tab.wait_for_selector("text=无法连接订单中心 API", timeout=30_000)
        assert tab.locator("[data-testid=stException]").count() == 0
    finally:
        tab.close()


def test_the_recommender_page_shows_both_trained_versions_their_ctr_and_a_shoppers_picks(
    dashboard_url: str, browser: Any
) -> None:
    tab = open_rendered_page(browser, dashboard_url, "recommender")
    try:
        metrics = metrics_by_label(tab)
        assert metrics["模型版本"] == "2"
        assert 0 < float(metrics["NDCG@10"]) <= 1
        assert re.fullmatch(r"\d+\.\d%", metrics["点击率（近 28 天）"]), metrics
        # Runs, daily clicks and the picked shopper's recommendations.
        tab.wait_for_function(
            "() => document.querySelectorAll('[data-testid=stDataFrame]').length === 3", timeout=30_000
        )
        assert tab.locator("[data-testid=stException]").count() == 0
    finally:
        tab.close()
