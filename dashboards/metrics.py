"""Pure arithmetic and formatting behind the pages: totals of a funnel, money in yuan, freshness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from dashboards.i18n import Language, text

FUNNEL_STEPS = ("viewed", "added", "checkout", "paid")


@dataclass(frozen=True, slots=True)
class FunnelTotals:
    viewed_shoppers: int = 0
    added_shoppers: int = 0
    checkout_shoppers: int = 0
    paid_shoppers: int = 0
    orders: int = 0
    gmv_fen: int = 0

    def shoppers(self, step: str) -> int:
        return int(getattr(self, f"{step}_shoppers"))

    @property
    def view_to_paid_rate(self) -> float | None:
        return share(self.paid_shoppers, self.viewed_shoppers)


def funnel_totals(rows: pl.DataFrame) -> FunnelTotals:
    """Add up fct_funnel_daily rows (across days this counts shopper-days, the usual daily-funnel sum)."""
    if rows.is_empty():
        return FunnelTotals()
    sums = rows.select(
        pl.col(name).sum()
        for name in (
            "viewed_shoppers",
            "added_shoppers",
            "checkout_shoppers",
            "paid_shoppers",
            "orders",
            "gmv_fen",
        )
    ).row(0, named=True)
    return FunnelTotals(**{name: int(value) for name, value in sums.items()})


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def format_rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def format_yuan(fen: int) -> str:
    """Integer fen as yuan, exactly (no float): 123456 → ¥1,234.56."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"


def format_ago(elapsed: timedelta, language: Language) -> str:
    seconds = max(0, int(elapsed.total_seconds()))
    if seconds < 60:
        return text("ago.seconds", language, n=seconds)
    if seconds < 3600:
        return text("ago.minutes", language, n=seconds // 60)
    if seconds < 86400:
        return text("ago.hours", language, n=seconds // 3600)
    return text("ago.days", language, n=seconds // 86400)


def is_stale(built_at: datetime, now: datetime, *, stale_after_s: float) -> bool:
    return (now - built_at).total_seconds() > stale_after_s


def shop_time(moment: datetime, timezone: str) -> str:
    """A UTC instant as the shop's wall-clock time, for display."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")


def average_fen(total_fen: int, count: int) -> int | None:
    """An average amount in whole fen, rounded half up (integer arithmetic, no float)."""
    return (total_fen * 2 + count) // (count * 2) if count else None


def format_change(current: float, previous: float) -> str | None:
    """Period-over-period change for st.metric's delta; None when there is nothing to compare with."""
    if not previous:
        return None
    return f"{(current - previous) / previous:+.1%}"


def experiment_verdict(
    *,
    variant: str,
    uplift: float | None,
    p_value: float | None,
    is_significant: bool | None,
    control_rate: float | None,
    language: Language,
) -> str:
    """One sentence a shop owner can act on, from the variant's uplift and two-sided z-test.

    `uplift` is the variant's conversion rate minus the control's (as `fct_experiments` has it);
    `control_rate` gives the relative change beside it.
    """
    if uplift is None or p_value is None:
        return text("verdict.no_data", language, variant=variant)
    key = "verdict.inconclusive"
    if is_significant:
        key = "verdict.better" if uplift > 0 else "verdict.worse"
    return text(
        key,
        language,
        variant=variant,
        uplift=format_points(uplift, language),
        relative=format_relative(uplift, control_rate),
        p=f"{p_value:.3f}",
    )


def format_points(difference: float, language: Language) -> str:
    """A difference of two rates in percentage points: 0.03 → "+3.0 个百分点" / "+3.0 pp"."""
    unit = " 个百分点" if language == "zh" else " pp"
    return f"{difference * 100:+.1f}{unit}"


def format_relative(difference: float, base_rate: float | None) -> str:
    """The difference relative to the base rate: 0.03 over 0.10 → "+30.0%"; "—" without a base."""
    return "—" if not base_rate else f"{difference / base_rate:+.1%}"
