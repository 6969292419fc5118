"""The group-buy (拼团) aggregate: a leader opens a group at the group price, friends join through the share,
and the group completes when `group_size` members have paid before it expires; otherwise it fails and every
paid member is refunded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from api.domain import events
from api.domain.errors import GroupBuyAlreadyJoined, GroupBuyClosed, GroupBuyFull


class GroupBuyStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass
class GroupMember:
    user_id: str
    order_id: str
    joined_at: datetime
    is_paid: bool = False


@dataclass
class GroupBuy:
    group_id: str
    deal_id: str
    sku_id: str
    leader_id: str
    group_size: int
    group_price_fen: int
    created_at: datetime
    expires_at: datetime
    status: GroupBuyStatus = GroupBuyStatus.OPEN
    members: dict[str, GroupMember] = field(default_factory=dict)
    version: int = 0
    events: list[events.Event] = field(default_factory=list, repr=False, compare=False)

    @property
    def paid_count(self) -> int:
        return sum(member.is_paid for member in self.members.values())

    def is_open(self, now: datetime) -> bool:
        return self.status == GroupBuyStatus.OPEN and now < self.expires_at

    def join(self, *, user_id: str, order_id: str, now: datetime) -> None:
        """Take a seat; the seat is held by the member's order until it is paid, closed or cancelled."""
        if not self.is_open(now):
            raise GroupBuyClosed(f"this group buy is {self.status if self.status != 'open' else 'expired'}")
        if user_id in self.members:
            raise GroupBuyAlreadyJoined("you are already in this group buy")
        if len(self.members) >= self.group_size:
            raise GroupBuyFull("this group buy is full")
        self.members[user_id] = GroupMember(user_id=user_id, order_id=order_id, joined_at=now)
        self.events.append(
            events.GroupBuyJoined(
                key=self.group_id,
                occurred_at=now,
                group_id=self.group_id,
                deal_id=self.deal_id,
                user_id=user_id,
                order_id=order_id,
                is_leader=user_id == self.leader_id,
            )
        )

    def leave(self, *, user_id: str) -> None:
        """An unpaid member's order was closed or cancelled: the seat is free again."""
        member = self.members.get(user_id)
        if member is not None and not member.is_paid and self.status == GroupBuyStatus.OPEN:
            del self.members[user_id]

    def member_paid(self, *, user_id: str, now: datetime) -> None:
        member = self.members.get(user_id)
        if member is None or member.is_paid:
            return
        member.is_paid = True
        if self.status == GroupBuyStatus.OPEN and self.paid_count >= self.group_size:
            self.status = GroupBuyStatus.COMPLETED
            self.events.append(
                events.GroupBuyCompleted(
                    key=self.group_id,
                    occurred_at=now,
                    group_id=self.group_id,
                    deal_id=self.deal_id,
                    member_user_ids=tuple(sorted(self.members)),
                    order_ids=tuple(self.members[user_id].order_id for user_id in sorted(self.members)),
                )
            )

    def expire(self, *, now: datetime) -> bool:
        """Fail the group when its window is over without enough paid members; True when it just failed."""
        if self.status != GroupBuyStatus.OPEN or now < self.expires_at:
            return False
        self.status = GroupBuyStatus.FAILED
        self.events.append(
            events.GroupBuyFailed(
                key=self.group_id,
                occurred_at=now,
                group_id=self.group_id,
                deal_id=self.deal_id,
                paid_count=self.paid_count,
                group_size=self.group_size,
            )
        )
        return True
