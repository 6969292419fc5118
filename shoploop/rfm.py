"""The RFM segmentation every part of ShopLoop shares: dbt's dim_users, the streams' audience filters and the
marketer console's preview. The thresholds live here only; `shoploop dbt build` passes them to dbt as vars
(`dbt_vars`), so the warehouse and the streams cannot drift apart.

Recency is counted in shop days from the day after the newest paid order in the shop (not from the clock), so
the same data gives the same segments whenever it is computed.
"""

from __future__ import annotations

from datetime import date
from typing import Final, Literal

RfmSegment = Literal["champion", "loyal", "new", "at_risk", "hibernating", "needs_attention", "prospect"]
SEGMENTS: Final[tuple[RfmSegment, ...]] = (
    "champion",
    "loyal",
    "new",
    "needs_attention",
    "at_risk",
    "hibernating",
    "prospect",
)

# Recency score 3 within this many days of the as-of day, 2 within LAPSING_DAYS, else 1.
RECENT_DAYS: Final = 30
LAPSING_DAYS: Final = 90
# Frequency score 3 from this many paid orders, 2 from REPEAT_ORDERS, else 1.
FREQUENT_ORDERS: Final = 5
REPEAT_ORDERS: Final = 2


def dbt_vars() -> dict[str, int]:
    """The thresholds as the dbt vars dim_users reads."""
    return {
        "rfm_recent_days": RECENT_DAYS,
        "rfm_lapsing_days": LAPSING_DAYS,
        "rfm_frequent_orders": FREQUENT_ORDERS,
        "rfm_repeat_orders": REPEAT_ORDERS,
    }


def recency_score(recency_days: int) -> int:
    return 3 if recency_days <= RECENT_DAYS else 2 if recency_days <= LAPSING_DAYS else 1


def frequency_score(paid_orders: int) -> int:
    return 3 if paid_orders >= FREQUENT_ORDERS else 2 if paid_orders >= REPEAT_ORDERS else 1


def rfm_segment(
    *, paid_orders: int, last_paid_date: date | None, newest_paid_date: date | None
) -> RfmSegment:
    """A shopper's segment, exactly as dim_users computes it.

    `last_paid_date` is the shop day of the shopper's latest paid order, `newest_paid_date` that of the shop's
    newest paid order (anyone's); recency is `newest_paid_date + 1 day - last_paid_date` in days.
    """
    if paid_orders <= 0 or last_paid_date is None or newest_paid_date is None:
        return "prospect"
    recency = recency_score((newest_paid_date - last_paid_date).days + 1)
    frequency = frequency_score(paid_orders)
    if recency == 3 and frequency == 3:
        return "champion"
    if recency >= 2 and frequency >= 2:
        return "loyal"
    if recency == 3 and frequency == 1:
        return "new"
    if recency == 1 and frequency >= 2:
        return "at_risk"
    if recency == 1:
        return "hibernating"
    return "needs_attention"
