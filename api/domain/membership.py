"""Membership (会员体系): points rules, member levels by spend, the monthly member day (会员日). Pure."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

SHOP_TZ = ZoneInfo("Asia/Shanghai")
REGISTRATION_POINTS = 100
# One point per whole yuan paid.
FEN_PER_POINT = 100


@dataclass(frozen=True)
class Level:
    name: str
    min_spend_fen: int
    discount_percent: int


# Levels by net spend (paid minus refunded); the discount applies to the order after its coupon.
LEVELS: tuple[Level, ...] = (
    Level("regular", 0, 0),
    Level("silver", 100_000, 2),
    Level("gold", 500_000, 5),
    Level("diamond", 2_000_000, 8),
)


@dataclass(frozen=True)
class MemberDay:
    """The monthly member day, configured in the back office: on that local date, an extra discount and
    more points per yuan."""

    day_of_month: int
    extra_discount_percent: int
    points_multiplier: int
    is_active: bool = True

    def is_today(self, now: datetime) -> bool:
        local = now.astimezone(SHOP_TZ)
        # The 31st falls on the last day of shorter months.
        day = min(self.day_of_month, calendar.monthrange(local.year, local.month)[1])
        return self.is_active and local.day == day


def level_for(spend_fen: int) -> Level:
    reached = [level for level in LEVELS if spend_fen >= level.min_spend_fen]
    return reached[-1]


def next_level(spend_fen: int) -> Level | None:
    higher = [level for level in LEVELS if level.min_spend_fen > spend_fen]
    return higher[0] if higher else None


def member_discount_fen(
    amount_fen: int, *, spend_fen: int, member_day: MemberDay | None, now: datetime
) -> int:
    """The level discount (plus the member day's exclusive discount) on what is left after the coupon."""
    percent = level_for(spend_fen).discount_percent
    if member_day is not None and member_day.is_today(now):
        percent += member_day.extra_discount_percent
    percent = min(percent, 50)
    return max(0, amount_fen * percent // 100)


def points_for_payment(paid_fen: int, *, member_day: MemberDay | None, now: datetime) -> int:
    points = max(0, paid_fen) // FEN_PER_POINT
    if member_day is not None and member_day.is_today(now):
        points *= member_day.points_multiplier
    return points
