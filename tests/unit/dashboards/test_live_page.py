"""Live on seeded minutes: the latest minute and the last hour, from fct_live_minutes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest


def test_the_latest_minute_and_the_last_hour_are_shown_in_shop_time(
    seeded_marts: Path, open_page: Callable[..., AppTest]
) -> None:
    app = open_page(seeded_marts, "live")

    assert not app.exception
    values = [(metric.label, metric.value) for metric in app.metric]
    assert values == [
        ("事件数", "120"),
        ("新用户", "6"),
        ("加购", "12"),
        ("订单数", "3"),
        ("成交额 (GMV)", "¥264.00"),
        ("事件数", "220"),
        ("订单数", "5"),
        ("成交额 (GMV)", "¥440.00"),
    ]
    assert any("11:59" in header.value for header in app.subheader)  # 03:59 UTC is 11:59 in Shanghai
    latest = app.dataframe[0].value.iloc[0]
    assert (latest["minute_at"], latest["gmv_fen"]) == ("2025-06-18 11:59", "¥264.00")  # fen shown as yuan
