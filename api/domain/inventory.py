"""Inventory decisions that do not need the database."""

from __future__ import annotations


def is_low_stock(*, stock_before: int, stock_after: int, threshold: int) -> bool:
    """True only when this change crosses the threshold, so that one alert is raised per crossing."""
    return stock_before > threshold >= stock_after
