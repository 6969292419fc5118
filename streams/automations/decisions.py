"""Pure automation decisions: when a rule's push is due for a person, and whether it may go out.

Each function takes event times; none reads the clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from streams.automations.audience import AudienceProfile, audience_miss
from streams.automations.rules import PushPolicy, Rule, Store
from streams.ids import stable_fraction

EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A push that is due for a person: which episode (cart change, last visit, year …) and when."""

    episode: str
    due_at: datetime
    context: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Literal["send", "holdout", "defer", "suppress"]
    reason: str = ""
    until: datetime | None = None


def is_in_holdout(person_id: str, rule: Rule) -> bool:
    """The same person is always in or out of a rule's holdout, so lift can be measured against them."""
    return stable_fraction("holdout", rule.rule_id, person_id) < rule.holdout_share


def is_quiet(at: datetime, *, start: time, end: time, timezone: str) -> bool:
    if start == end:
        return False
    local = at.astimezone(ZoneInfo(timezone)).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_allowed_at(at: datetime, *, start: time, end: time, timezone: str) -> datetime:
    """`at` itself outside quiet hours, else the first minute after they end (in the shop's time zone)."""
    if not is_quiet(at, start=start, end=end, timezone=timezone):
        return at
    zone = ZoneInfo(timezone)
    local = at.astimezone(zone)
    end_today = datetime.combine(local.date(), end, tzinfo=zone)
    allowed = end_today if end_today > local else end_today + timedelta(days=1)
    return allowed.astimezone(UTC)


def local_day(at: datetime, timezone: str) -> date:
    return at.astimezone(ZoneInfo(timezone)).date()


def win_back_due(last_active_at: datetime | None, rule: Rule) -> Candidate | None:
    """A person inactive for `delay` (default 30 days) since their last visit gets a comeback gift."""
    if last_active_at is None:
        return None
    return Candidate(episode=last_active_at.isoformat(), due_at=last_active_at + rule.delay)


def birthday_due(birthday: date | None, *, now: datetime, rule: Rule) -> Candidate | None:
    """The birthday greeting for the birthday in the current local year (29 Feb → 28 Feb)."""
    if birthday is None:
        return None
    zone = ZoneInfo(rule.timezone)
    year = now.astimezone(zone).year
    try:
        this_year = birthday.replace(year=year)
    except ValueError:
        this_year = date(year, 2, 28)
    due = datetime.combine(this_year, rule.send_at_local, tzinfo=zone).astimezone(UTC)
    return Candidate(episode=str(year), due_at=due)


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lng2 - lng1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def nearest_store_within(latitude: float, longitude: float, rule: Rule) -> Store | None:
    best: tuple[float, str, Store] | None = None
    for store in rule.stores:
        distance = distance_m(latitude, longitude, store.latitude, store.longitude)
        if distance <= rule.radius_m and (best is None or (distance, store.store_id) < best[:2]):
            best = (distance, store.store_id, store)
    return best[2] if best else None


def nearby_due(location: tuple[datetime, float, float, str] | None, rule: Rule) -> Candidate | None:
    """A shared location within `radius_m` of a store makes that store's offer due."""
    if location is None:
        return None
    at, latitude, longitude, location_id = location
    store = nearest_store_within(latitude, longitude, rule)
    if store is None:
        return None
    return Candidate(
        episode=f"{location_id}:{store.store_id}",
        due_at=at + rule.delay,
        context=(("store_name", store.name), ("offer", store.offer)),
    )


def judge(
    *,
    person_id: str,
    rule: Rule,
    policy: PushPolicy,
    now: datetime,
    last_entered_at: datetime | None,
    quota_left: int,
    sends_today: int,
    profile: AudienceProfile,
) -> Verdict:
    """The guards, in order: re-entry cooldown, quiet hours, audience, subscribe quota, daily cap, holdout.

    The audience is judged when the push would go out (after quiet hours), on the person's profile then. A
    person outside it is neither sent nor held out: they are not part of the rule.
    """
    if last_entered_at is not None and now < last_entered_at + rule.cooldown:
        return Verdict("suppress", "cooldown")
    allowed = next_allowed_at(now, start=rule.quiet_start, end=rule.quiet_end, timezone=rule.timezone)
    if allowed > now:
        return Verdict("defer", "quiet_hours", until=allowed)
    missed = audience_miss(profile, rule.audience)
    if missed is not None:
        return Verdict("suppress", missed)
    if rule.template_id is not None and quota_left <= 0:
        return Verdict("suppress", "no_subscribe_quota")
    if sends_today >= policy.daily_cap:
        return Verdict("suppress", "frequency_cap")
    if is_in_holdout(person_id, rule):
        return Verdict("holdout", "holdout")
    return Verdict("send")
