"""Every dashboard page in headless Debian Chromium: real numbers, no exception box; screenshots for docs/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
PAGES = (
    "funnel",
    "overview",
    "retention",
    "products",
    "users",
    "referrals",
    "experiments",
    "recommender",
    "live",
    "automations",
)


def screenshot_whole_page(tab: Any, path: Path) -> None:
    """Streamlit scrolls inside its main block, so the window is made as tall as the page before the shot."""
    height = tab.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    tab.set_viewport_size({"width": 1400, "height": max(1000, int(height))})
    tab.wait_for_timeout(800)  # charts redraw at the new size
    path.parent.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(path), full_page=True)


@pytest.mark.parametrize("page", PAGES)
def test_the_page_renders_real_numbers_without_an_exception(
    dashboard_url: str, browser: Any, page: str
) -> None:
    tab = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    try:
        # The funnel is the landing page: it lives at the root, not under its name.
        path = "" if page == "funnel" else page
        tab.goto(f"{dashboard_url}/{path}", wait_until="domcontentloaded")
        tab.wait_for_selector("[data-testid=stMain] h1", timeout=30_000)
        tab.wait_for_selector("[data-testid=stMetric]", timeout=30_000)
        values = tab.locator("[data-testid=stMetricValue]").all_inner_texts()
        assert any(re.search(r"[1-9]", value) for value in values), values
        # Every chart of the page has drawn (plotly loads lazily) before the screenshot.
        tab.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')]"
            ".every(chart => chart.querySelector('.main-svg'))",
            timeout=30_000,
        )
        tab.wait_for_timeout(500)
        assert tab.locator("[data-testid=stException]").count() == 0
        assert tab.get_by_text("Page not found").count() == 0
        screenshot_whole_page(tab, SCREENSHOTS / f"dashboard-{page}.png")
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
    tab = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    try:
        tab.goto(f"{dashboard_url}/recommender", wait_until="domcontentloaded")
        tab.wait_for_selector("[data-testid=stMetric]", timeout=30_000)
        metrics = {
            label: value
            for label, value in zip(
                tab.locator("[data-testid=stMetricLabel]").all_inner_texts(),
                tab.locator("[data-testid=stMetricValue]").all_inner_texts(),
                strict=True,
            )
        }
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
