"""Pure audience decisions: who a push rule may reach, with dim_users' definitions computed from stream state.

A person's profile is what dim_users would say about them from the facts the streams have seen by the time the
push is due: their province (the shipping address of their latest placed order that had one, else their latest
identify traits), their verified paid orders, and their RFM segment (shoploop/rfm.py, recency counted from the
day after the shop's newest paid order). No clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from shoploop.rfm import RfmSegment, rfm_segment
from streams.automations.rules import Audience

AudienceMiss = Literal["audience_segment", "audience_province", "audience_paid_orders"]


@dataclass(frozen=True, slots=True)
class ShippingAddress:
    """The address of a placed order: when it was placed, its province and city (either may be missing)."""

    placed_at: datetime
    province: str | None
    city: str | None


@dataclass(frozen=True, slots=True)
class AudienceProfile:
    province: str | None
    paid_orders: int
    rfm_segment: RfmSegment


def shop_date(at: datetime, timezone: str) -> date:
    return at.astimezone(ZoneInfo(timezone)).date()


def region_province(shipping: ShippingAddress | None, trait_province: str | None) -> str | None:
    """dim_users.province: the latest order address's province when an order had an address (even when only
    its city was given), else the identify traits' province."""
    return shipping.province if shipping is not None else trait_province


def audience_profile(
    *,
    paid_orders: int,
    last_paid_at: datetime | None,
    newest_paid_at: datetime | None,
    shipping: ShippingAddress | None,
    trait_province: str | None,
    timezone: str,
) -> AudienceProfile:
    """What dim_users says about a person, from their facts and the shop's newest paid order."""
    return AudienceProfile(
        province=region_province(shipping, trait_province),
        paid_orders=paid_orders,
        rfm_segment=rfm_segment(
            paid_orders=paid_orders,
            last_paid_date=shop_date(last_paid_at, timezone) if last_paid_at else None,
            newest_paid_date=shop_date(newest_paid_at, timezone) if newest_paid_at else None,
        ),
    )


def audience_miss(profile: AudienceProfile, audience: Audience | None) -> AudienceMiss | None:
    """The first filter of `audience` the person fails, or None when they are in it (None: everyone is)."""
    if audience is None:
        return None
    if audience.segments and profile.rfm_segment not in audience.segments:
        return "audience_segment"
    if audience.provinces and profile.province not in audience.provinces:
        return "audience_province"
    if profile.paid_orders < audience.min_paid_orders:
        return "audience_paid_orders"
    return None


def is_in_audience(profile: AudienceProfile, audience: Audience | None) -> bool:
    return audience_miss(profile, audience) is None
