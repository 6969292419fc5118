"""Automation rules as data: marketers publish them on a compacted topic, keyed by rule id.

Every push records the rule id and version that fired it. A rule is a JSON object; unknown fields are
refused so that a typo does not silently change behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from shoploop.rfm import RfmSegment

RuleKind = Literal["abandoned_cart", "win_back", "birthday", "nearby_offer", "referral_reward"]


class InvalidRule(ValueError):
    """A published rule that cannot be used; the agent dead-letters it and keeps the previous version."""


class Store(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    store_id: str
    name: str
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    offer: str = ""


Province = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


class Audience(BaseModel):
    """Who a push rule may reach. Every filter given must hold; an empty filter does not narrow.

    The definitions are dim_users' (see shoploop/rfm.py and docs/streams.md): `segments` are RFM segments,
    `provinces` the province of the shipping address of the shopper's latest order that had one (else of their
    identify traits; a shopper with neither matches no province filter), `min_paid_orders` counts verified
    payments. The streams evaluate them when the push is due; the console's preview counts the same on the marts.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    segments: tuple[RfmSegment, ...] = ()
    provinces: tuple[Province, ...] = Field(default=(), max_length=64)
    min_paid_orders: int = Field(default=0, ge=0, le=1000)

    @field_validator("segments", "provinces")
    @classmethod
    def _sorted_without_repeats(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        # The same audience always has the same JSON, so republishing it is not a new rule.
        return tuple(sorted(set(values)))

    @property
    def is_everyone(self) -> bool:
        return not self.segments and not self.provinces and self.min_paid_orders == 0


class Rule(BaseModel):
    """One automation or reward rule, one version of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule_id: str
    version: int = Field(ge=1)
    kind: RuleKind
    is_active: bool = True
    # When the push is due: after the last cart change, after the last activity, or on the event itself.
    delay_s: int = Field(default=24 * 3600, ge=0)
    # A person who entered this rule (sent or held out) cannot enter it again for this long.
    cooldown_s: int = Field(default=7 * 24 * 3600, ge=0)
    holdout_share: float = Field(default=0.10, ge=0, le=1)
    # Quiet hours in the shop's time zone; a push due inside them waits for the next allowed minute.
    quiet_start: time = time(22, 0)
    quiet_end: time = time(8, 0)
    timezone: str = "Asia/Shanghai"
    template_id: str | None = None
    page: str | None = None
    # Subscribe-message fields (key = type + index, e.g. thing1); "{product_name}"-style placeholders.
    template_data: dict[str, str] = Field(default_factory=dict)
    coupon_campaign_id: str | None = None
    # Birthday: the local time of day the greeting goes out.
    send_at_local: time = time(10, 0)
    # Nearby offer.
    stores: tuple[Store, ...] = ()
    radius_m: float = Field(default=3000.0, gt=0)
    # Referral reward.
    attribution_window_s: int = Field(default=7 * 24 * 3600, gt=0)
    attribution_model: Literal["last_touch", "first_touch"] = "last_touch"
    sharer_campaign_id: str | None = None
    friend_campaign_id: str | None = None
    second_level_campaign_id: str | None = None
    first_order_only: bool = True
    # Push rules: who may receive it (None: everyone the trigger finds).
    audience: Audience | None = None

    @model_validator(mode="after")
    def _audience_only_for_pushes(self) -> Rule:
        if self.audience is not None and not self.is_push:
            raise ValueError("audience: a referral reward has no audience; it follows the paid order")
        return self

    @property
    def delay(self) -> timedelta:
        return timedelta(seconds=self.delay_s)

    @property
    def cooldown(self) -> timedelta:
        return timedelta(seconds=self.cooldown_s)

    @property
    def attribution_window(self) -> timedelta:
        return timedelta(seconds=self.attribution_window_s)

    @property
    def is_push(self) -> bool:
        return self.kind != "referral_reward"


def parse_rule(raw: bytes) -> Rule:
    try:
        return Rule.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as error:
        raise InvalidRule(str(error)) from error


@dataclass(frozen=True)
class PushPolicy:
    """Shop-wide limits that hold across all automations."""

    # At most this many pushes to one person per day in the shop's time zone, whatever rule sends them.
    daily_cap: int = 2
    timezone: str = "Asia/Shanghai"


@dataclass
class RuleBook:
    """The current version of every rule; an older version never replaces a newer one."""

    rules: dict[str, Rule] = field(default_factory=dict)

    def publish(self, rule: Rule) -> bool:
        current = self.rules.get(rule.rule_id)
        if current is not None and current.version > rule.version:
            return False
        self.rules[rule.rule_id] = rule
        return True

    def active_pushes(self) -> list[Rule]:
        return [
            rule
            for rule in sorted(self.rules.values(), key=lambda r: r.rule_id)
            if rule.is_active and rule.is_push
        ]

    def active_rewards(self) -> list[Rule]:
        return [
            rule
            for rule in sorted(self.rules.values(), key=lambda r: r.rule_id)
            if rule.is_active and rule.kind == "referral_reward"
        ]

    def as_dict(self) -> dict[str, Any]:
        return {rule_id: rule.model_dump(mode="json") for rule_id, rule in self.rules.items()}
