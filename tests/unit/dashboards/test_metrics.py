"""Money, rates and freshness as the pages print them."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from dashboards.metrics import (
    FunnelTotals,
    experiment_verdict,
    format_ago,
    format_points,
    format_rate,
    format_relative,
    format_yuan,
    funnel_totals,
)


def test_fen_are_shown_as_exact_yuan_with_thousands_separators() -> None:
    assert format_yuan(1999) == "¥19.99"
    assert format_yuan(123456789) == "¥1,234,567.89"
    assert format_yuan(5) == "¥0.05"
    assert format_yuan(-250) == "-¥2.50"


def test_a_rate_without_a_base_is_a_dash_not_zero() -> None:
    assert format_rate(None) == "—"
    assert format_rate(2 / 7) == "28.6%"


def test_totals_add_up_the_daily_rows_and_convert_from_views_to_payments() -> None:
    rows = pl.DataFrame(
        {
            "viewed_shoppers": [120, 80],
            "added_shoppers": [48, 20],
            "checkout_shoppers": [30, 10],
            "paid_shoppers": [24, 6],
            "orders": [26, 6],
            "gmv_fen": [1288800, 59940],
        }
    )
    totals = funnel_totals(rows)
    assert totals == FunnelTotals(200, 68, 40, 30, 32, 1348740)
    assert totals.view_to_paid_rate == 0.15


def test_no_rows_make_an_all_zero_funnel() -> None:
    assert funnel_totals(pl.DataFrame()) == FunnelTotals()
    assert FunnelTotals().view_to_paid_rate is None


def test_build_age_reads_naturally_in_both_languages() -> None:
    assert format_ago(timedelta(seconds=42), "zh") == "42 秒"
    assert format_ago(timedelta(minutes=2, seconds=5), "en") == "2 min"
    assert format_ago(timedelta(hours=3), "zh") == "3 小时"
    assert format_ago(timedelta(days=2), "en") == "2 d"


def test_an_experiments_uplift_reads_in_points_and_relative_to_the_control() -> None:
    verdict = experiment_verdict(
        variant="green", uplift=0.02, p_value=0.01, is_significant=True, control_rate=0.10, language="en"
    )

    assert verdict.startswith("green wins: conversion +2.0 pp against control (+20.0% relative")
    assert format_points(-0.005, "zh") == "-0.5 个百分点"
    assert format_relative(0.02, None) == "—"
