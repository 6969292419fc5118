"""Reasons are decided once, as a code and parameters, and read in Chinese (the default) or English."""

from __future__ import annotations

import pytest

from recsys.reasons import TEMPLATES, Reason, render


def test_a_reason_reads_in_chinese_by_default_and_in_english_when_asked() -> None:
    reason = Reason.of("viewed", product="云南小粒咖啡", product_id="p-coffee")

    assert reason.text() == "因为你浏览过云南小粒咖啡"
    assert reason.text("en") == "because you viewed 云南小粒咖啡"
    assert reason.parameters == {"product": "云南小粒咖啡", "product_id": "p-coffee"}


def test_a_channel_is_named_in_the_readers_language() -> None:
    reason = Reason.of("popular_with_channel", channel="qr_code")

    assert reason.text("zh") == "扫码来的顾客都在买"
    assert reason.text("en") == "popular with shoppers from QR codes"
    assert render("popular_with_channel", {"channel": "live_stream"}, "en").endswith("live stream")


def test_every_reason_has_both_languages_and_an_unknown_code_is_refused() -> None:
    assert all(set(texts) == {"zh", "en"} for texts in TEMPLATES.values())
    with pytest.raises(ValueError, match="unknown reason code"):
        Reason.of("because")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown reason code"):
        render("because", {}, "zh")
