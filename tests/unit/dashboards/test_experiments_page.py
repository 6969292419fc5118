"""Experiments on a seeded A/B test: rates with CIs and a verdict a shop owner can act on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest


def test_a_significant_winner_is_called_a_winner_with_its_interval(
    seeded_marts: Path, open_page: Callable[..., AppTest], page_metrics: Callable[[AppTest], dict[str, str]]
) -> None:
    app = open_page(seeded_marts, "experiments")

    assert page_metrics(app) == {"control · 转化率": "10.0%", "green · 转化率": "13.0%"}
    assert "green 胜出" in app.success[0].body
    assert "+3.0 个百分点" in app.success[0].body  # 13% against 10%
    assert "相对 +30.0%" in app.success[0].body
    assert any("10.9% – 15.1%" in caption.value for caption in app.caption)
