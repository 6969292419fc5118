"""Users on seeded profiles: RFM segments, interest tags, provinces and active hours."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest


def test_segments_tags_provinces_and_hours_are_counted_from_the_profiles(
    seeded_marts: Path, open_page: Callable[..., AppTest], page_metrics: Callable[[AppTest], dict[str, str]]
) -> None:
    app = open_page(seeded_marts, "users", query={"dates": "2025-06-18..2025-06-18"})

    assert page_metrics(app) == {
        "用户数": "4",
        "分层数": "4",
        "最大分层": "流失风险",
    }  # one each: ties go by code
    segments, provinces, hours = (app.dataframe[i].value for i in range(3))
    assert (
        dict(zip(segments["rfm_segment"], segments["lifetime_value_fen"], strict=True))["忠诚"] == "¥120.00"
    )
    assert list(provinces["province"]) == ["广东", "浙江"]
    assert list(provinces["active_shoppers"]) == [30, 12]
    assert dict(zip(hours["hour"], hours["shoppers"], strict=True))[21] == 3
    assert len(hours) == 24
