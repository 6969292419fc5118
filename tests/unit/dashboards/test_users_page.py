"""Users on seeded profiles: RFM segments, interest tags, provinces and active hours."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
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


def test_table_columns_are_named_in_the_pages_language_while_the_csv_keeps_the_column_names(
    seeded_marts: Path, open_page: Callable[..., AppTest]
) -> None:
    app = open_page(seeded_marts, "users", query={"dates": "2025-06-18..2025-06-18"})

    labels = orjson.loads(app.dataframe[0].proto.columns)
    assert labels["rfm_segment"]["label"] == "RFM 分层"
    assert labels["lifetime_value_fen"]["label"] == "累计消费 (¥)"

    app.button_group(key="language").set_value("en").run()

    labels = orjson.loads(app.dataframe[0].proto.columns)
    assert labels["lifetime_value_fen"]["label"] == "Lifetime value (¥)"
    # The data, and so its CSV download, keeps the mart's own column names.
    assert list(app.dataframe[0].value.columns)[:2] == ["rfm_segment", "shoppers"]
