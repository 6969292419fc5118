"""Pure referral decisions: the share tree, which share a paid order is attributed to, and whether the
sharer and the friend are rewarded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

from streams.referrals.models import Buyer, ShareNode, Touch

MAX_CHAIN = 64


def place_share(
    *,
    share_id: str,
    parent_share_id: str | None,
    depth: int,
    shares: Mapping[str, ShareNode],
) -> tuple[str, int]:
    """The root and depth of a new share: the parent's root one level down, or itself at depth 1."""
    if parent_share_id is None:
        return share_id, 1
    parent = shares.get(parent_share_id)
    if parent is None:
        # The parent share was never seen (shared before tracking began): it is the root we know of.
        return parent_share_id, max(depth, 2)
    return parent.root_share_id, parent.depth + 1


def attribute(
    touches: Sequence[Touch],
    *,
    paid_at: datetime,
    window: timedelta,
    model: Literal["last_touch", "first_touch"],
    shares: Mapping[str, ShareNode],
    buyer_person_id: str,
) -> Touch | None:
    """The touch a paid order is credited to: entries through a share within `window` before payment.

    Entries through the buyer's own shares never count (self-referral).
    """
    eligible = [
        touch
        for touch in touches
        if paid_at - window <= touch.at <= paid_at
        and touch.share_id in shares
        and shares[touch.share_id].sharer_person_id != buyer_person_id
    ]
    if not eligible:
        return None
    ordered = sorted(eligible, key=lambda touch: (touch.at, touch.message_id))
    return ordered[-1] if model == "last_touch" else ordered[0]


def ancestors(share: ShareNode, shares: Mapping[str, ShareNode]) -> list[ShareNode]:
    """The share and its parents up to the root (bounded, so a corrupt cycle cannot loop forever)."""
    chain = [share]
    seen = {share.share_id}
    while chain[-1].parent_share_id and len(chain) < MAX_CHAIN:
        parent = shares.get(chain[-1].parent_share_id)
        if parent is None or parent.share_id in seen:
            break
        seen.add(parent.share_id)
        chain.append(parent)
    return chain


def reward_block_reason(buyer: Buyer, share: ShareNode, shares: Mapping[str, ShareNode]) -> str | None:
    """Why a referral must not be rewarded (farming), or None when it may be."""
    if share.sharer_person_id == buyer.person_id or (
        buyer.user_id is not None and share.sharer_user_id == buyer.user_id
    ):
        return "self_referral"
    if buyer.device_id is not None and share.sharer_device_id == buyer.device_id:
        return "same_device"
    if buyer.openid is not None and share.sharer_openid == buyer.openid:
        return "same_openid"
    # A shared to B, B shared to A, and A buys through B's share: rewards would flow in a circle.
    if any(
        node.sharer_person_id == buyer.person_id
        or (buyer.user_id is not None and node.sharer_user_id == buyer.user_id)
        for node in ancestors(share, shares)[1:]
    ):
        return "circular_share"
    if share.sharer_user_id is None:
        return "sharer_not_logged_in"
    return None
