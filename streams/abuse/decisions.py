"""Pure abnormal-order (防刷单) decisions: bursts of orders, many accounts on one device."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta


def is_order_burst(order_times: Sequence[datetime], *, now: datetime, window: timedelta, limit: int) -> bool:
    """More than `limit` orders from one account within `window` ending now."""
    return sum(1 for at in order_times if now - window < at <= now) > limit


def is_crowded_device(accounts: set[str], *, limit: int) -> bool:
    """More than `limit` accounts logged in on one device: reward or coupon farming."""
    return len(accounts) > limit
