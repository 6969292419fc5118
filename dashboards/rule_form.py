"""What the marketer console sends: a rule body from the form, checked with the streams' own rule model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time
from typing import Any, Final

from pydantic import ValidationError

from streams.automations.rules import Rule

CONSOLE_KINDS: Final = ("abandoned_cart", "win_back", "birthday")


def rule_body(
    *,
    kind: str,
    delay_s: int,
    cooldown_s: int,
    holdout_share: float,
    quiet_start: time,
    quiet_end: time,
    template_id: str,
    page: str,
    template_data: dict[str, str],
    coupon_campaign_id: str,
    send_at_local: time,
    is_active: bool,
    audience: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of `PUT /admin/v1/automation-rules/{rule_id}` (a Rule without its id and version)."""
    return {
        "kind": kind,
        "is_active": is_active,
        "delay_s": delay_s,
        "cooldown_s": cooldown_s,
        "holdout_share": holdout_share,
        "quiet_start": quiet_start.strftime("%H:%M:%S"),
        "quiet_end": quiet_end.strftime("%H:%M:%S"),
        "template_id": template_id.strip() or None,
        "page": page.strip() or None,
        "template_data": {key.strip(): value for key, value in template_data.items() if key.strip()},
        "coupon_campaign_id": coupon_campaign_id.strip() or None,
        "send_at_local": send_at_local.strftime("%H:%M:%S"),
        "audience": audience,
    }


def audience_body(
    *, segments: Sequence[str], provinces: Sequence[str], min_paid_orders: int
) -> dict[str, Any] | None:
    """The rule's audience as the form sets it; None when no filter is set (everyone the trigger finds)."""
    if not segments and not provinces and min_paid_orders <= 0:
        return None
    return {"segments": sorted(segments), "provinces": sorted(provinces), "min_paid_orders": min_paid_orders}


def rule_problem(rule_id: str, body: dict[str, Any]) -> str | None:
    """The first thing the streams would refuse in this rule, or None when it is valid."""
    try:
        Rule.model_validate({**body, "rule_id": rule_id, "version": 1})
    except ValidationError as error:
        first = error.errors()[0]
        return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
    return None
