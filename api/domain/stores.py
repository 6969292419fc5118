"""Stores nearby (LBS): great-circle distance and opening hours in the shop's time zone."""

from __future__ import annotations

import math
from datetime import datetime, time
from zoneinfo import ZoneInfo

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE_LATITUDE = 111_320.0
SHOP_TZ = ZoneInfo("Asia/Shanghai")


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lng2 - lng1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lng: float, radius_m: float) -> tuple[float, float, float, float]:
    """A box that holds the circle (for an index-friendly pre-filter); (min_lat, max_lat, min_lng, max_lng)."""
    d_lat = radius_m / METRES_PER_DEGREE_LATITUDE
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    d_lng = min(180.0, radius_m / (METRES_PER_DEGREE_LATITUDE * cos_lat))
    return lat - d_lat, lat + d_lat, lng - d_lng, lng + d_lng


def is_open(opens_at: str, closes_at: str, now: datetime) -> bool:
    """Opening hours as local "HH:MM"; a closing time before the opening time runs past midnight."""
    local = now.astimezone(SHOP_TZ).time().replace(tzinfo=None)
    start, end = time.fromisoformat(opens_at), time.fromisoformat(closes_at)
    if start <= end:
        return start <= local < end
    return local >= start or local < end
