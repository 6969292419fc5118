"""砍价 friend-assisted bargains: the price falls by one friend's cut at a time, to the floor or the deadline.

Each cut's amount is random but deterministic from the bargain's seed and the cut number, so that it can be
tested and audited; the expected number of friends reaches the floor exactly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from api.domain import events
from api.domain.errors import BargainClosed, BargainOwnCut


class BargainStatus(StrEnum):
    OPEN = "open"
    AT_FLOOR = "at_floor"
    EXPIRED = "expired"
    ORDERED = "ordered"


def cut_amount(*, seed: str, cut_no: int, price_fen: int, floor_fen: int, expected_cuts: int) -> int:
    """Between half and one and a half times an even share of what is left; the last expected cut (and any
    later one) takes the rest, never below the floor."""
    remaining = price_fen - floor_fen
    if remaining <= 0:
        return 0
    cuts_left = expected_cuts - cut_no + 1
    if cuts_left <= 1:
        return remaining
    draw = int.from_bytes(hashlib.sha256(f"{seed}:{cut_no}".encode()).digest()[:8], "big") / 2**64
    return max(1, min(remaining, int(remaining / cuts_left * (0.5 + draw))))


@dataclass
class Bargain:
    bargain_id: str
    deal_id: str
    user_id: str
    sku_id: str
    device_id: str
    seed: str
    start_price_fen: int
    floor_price_fen: int
    price_fen: int
    expected_cuts: int
    expires_at: datetime
    cut_count: int = 0
    order_id: str | None = None
    version: int = 0
    events: list[events.Event] = field(default_factory=list, repr=False, compare=False)

    def status(self, now: datetime) -> BargainStatus:
        if self.order_id:
            return BargainStatus.ORDERED
        if now >= self.expires_at:
            return BargainStatus.EXPIRED
        if self.price_fen <= self.floor_price_fen:
            return BargainStatus.AT_FLOOR
        return BargainStatus.OPEN

    def cut(self, *, helper_user_id: str, helper_device_id: str, now: datetime) -> int:
        """Apply the next friend's cut; the starter (by account or by device) cannot cut their own."""
        if helper_user_id == self.user_id or helper_device_id == self.device_id:
            raise BargainOwnCut("share the link with friends; you cannot cut your own bargain")
        if self.status(now) != BargainStatus.OPEN:
            raise BargainClosed(f"this bargain is {self.status(now)}")
        self.cut_count += 1
        amount = cut_amount(
            seed=self.seed,
            cut_no=self.cut_count,
            price_fen=self.price_fen,
            floor_fen=self.floor_price_fen,
            expected_cuts=self.expected_cuts,
        )
        self.price_fen -= amount
        self.events.append(
            events.BargainCut(
                key=self.bargain_id,
                occurred_at=now,
                bargain_id=self.bargain_id,
                user_id=self.user_id,
                helper_user_id=helper_user_id,
                cut_no=self.cut_count,
                amount_fen=amount,
                price_fen=self.price_fen,
            )
        )
        return amount

    def ordered(self, *, order_id: str, now: datetime) -> None:
        if self.status(now) not in (BargainStatus.OPEN, BargainStatus.AT_FLOOR):
            raise BargainClosed(f"this bargain is {self.status(now)}")
        self.order_id = order_id
        self.events.append(
            events.BargainOrdered(
                key=self.bargain_id,
                occurred_at=now,
                bargain_id=self.bargain_id,
                user_id=self.user_id,
                order_id=order_id,
                price_fen=self.price_fen,
            )
        )
