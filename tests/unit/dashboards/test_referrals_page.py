"""Referrals on seeded shares: K-factor, attributed GMV, rewards, top sharers and the share tree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest


def test_the_k_factor_is_new_shoppers_per_sharer_over_the_dates(
    seeded_marts: Path, open_page: Callable[..., AppTest], page_metrics: Callable[[AppTest], dict[str, str]]
) -> None:
    app = open_page(seeded_marts, "referrals", query={"dates": "2025-06-17..2025-06-18"})

    assert page_metrics(app) == {
        "分享次数": "4",
        "分享人": "3",
        "带来新用户": "6",
        "K 因子": "2.00",
        "归因成交额": "¥127.00",
        "奖励次数": "2",
    }
    sharers = app.dataframe[0].value
    assert list(sharers["sharer_person_id"]) == ["ann", "eve", "bob"]


def test_the_tree_explorer_opens_the_tree_named_in_the_url(
    seeded_marts: Path, open_page: Callable[..., AppTest]
) -> None:
    app = open_page(seeded_marts, "referrals", query={"dates": "2025-06-17..2025-06-18", "tree": "sh1"})

    assert not app.exception
    tree = app.dataframe[1].value
    assert list(tree["share_id"]) == ["sh1", "sh2"]
    assert list(tree["attributed_gmv_fen"]) == ["¥39.00", "¥88.00"]
