"""Overview on seeded marts: paid GMV, orders, 客单价, conversion and active shoppers against the week before."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest


def test_the_overview_shows_the_weeks_sales_and_their_change_from_the_week_before(
    seeded_marts: Path, open_page: Callable[..., AppTest], page_metrics: Callable[[AppTest], dict[str, str]]
) -> None:
    app = open_page(seeded_marts, "overview", query={"dates": "2025-06-12..2025-06-18"})

    # This week: o1 ¥100.00 + o2 ¥50.01 paid (o3 closed); buyers ann, bob of 4 visitors. Week before: o4 ¥30.00.
    assert page_metrics(app) == {
        "成交额 (GMV)": "¥150.01",
        "订单数": "2",
        "客单价": "¥75.01",
        "下单转化率": "50.0%",
        "活跃用户": "4",
    }
    deltas = {metric.label: metric.delta for metric in app.metric}
    assert deltas["成交额 (GMV)"] == "+400.0%"
    assert deltas["活跃用户"] == "+100.0%"
    assert app.query_params["dates"] == "2025-06-12..2025-06-18"


def test_a_narrower_date_range_from_a_shared_link_is_used(
    seeded_marts: Path, open_page: Callable[..., AppTest], page_metrics: Callable[[AppTest], dict[str, str]]
) -> None:
    app = open_page(seeded_marts, "overview", query={"dates": "2025-06-18..2025-06-18"})

    shown = page_metrics(app)
    assert (shown["成交额 (GMV)"], shown["订单数"], shown["活跃用户"]) == ("¥100.00", "1", "1")
