"""Products on seeded daily product rows: hot list, revenue, view → purchase conversion, low stock needs the API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest


def test_the_days_best_seller_leads_and_totals_add_up(
    seeded_marts: Path, open_page: Callable[..., AppTest], page_metrics: Callable[[AppTest], dict[str, str]]
) -> None:
    app = open_page(seeded_marts, "products", query={"dates": "2025-06-18..2025-06-18"})

    assert page_metrics(app) == {
        "有销量商品": "2",
        "销量（件）": "14",
        "销售额": "¥742.00",
        "浏览→购买": "8.0%",  # 12 buyers / 150 viewers
    }
    products = app.dataframe[0].value
    assert list(products["name"]) == ["云南小粒咖啡", "蜂蜜面膜", "婴儿湿巾"]
    assert list(products["revenue_fen"]) == ["¥390.00", "¥352.00", "¥0.00"]
    assert any("SHOPLOOP_DASHBOARD_API_USERNAME" in info.body for info in app.info)
