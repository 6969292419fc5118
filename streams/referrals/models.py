"""The share tree and the touches that connect a paid order to the friend who shared."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ShareNode:
    """One share (a product card or a page sent to a chat): who shared, and where it sits in the tree."""

    share_id: str
    sharer_person_id: str
    shared_at: datetime
    root_share_id: str
    depth: int
    parent_share_id: str | None = None
    sharer_user_id: str | None = None
    sharer_openid: str | None = None
    sharer_device_id: str | None = None


@dataclass(frozen=True, slots=True)
class Touch:
    """A person entered the mini-program through a share (scenes 1007/1008/1044 with a share id)."""

    at: datetime
    share_id: str
    message_id: str


@dataclass(frozen=True, slots=True)
class Buyer:
    person_id: str
    user_id: str | None
    openid: str | None
    device_id: str | None
