"""The group-buy aggregate: seats, completion on the N-th payment, failure when the window ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.domain.errors import GroupBuyAlreadyJoined, GroupBuyClosed, GroupBuyFull
from api.domain.events import GroupBuyCompleted
from api.domain.group_buys import GroupBuy, GroupBuyStatus

NOON = datetime(2025, 6, 18, 4, 0, tzinfo=UTC)


def _group(size: int = 2) -> GroupBuy:
    group = GroupBuy(
        group_id="gb1",
        deal_id="gd1",
        sku_id="tee-red-m",
        leader_id="u-leader",
        group_size=size,
        group_price_fen=6900,
        created_at=NOON,
        expires_at=NOON + timedelta(hours=24),
    )
    group.join(user_id="u-leader", order_id="o1", now=NOON)
    return group


def test_the_group_completes_on_the_payment_that_fills_it_and_says_so_once() -> None:
    group = _group()
    group.join(user_id="u-friend", order_id="o2", now=NOON)
    group.member_paid(user_id="u-leader", now=NOON)
    assert group.status == GroupBuyStatus.OPEN
    group.member_paid(user_id="u-friend", now=NOON)
    group.member_paid(user_id="u-friend", now=NOON)
    assert group.status == GroupBuyStatus.COMPLETED
    assert [e.name for e in group.events].count("GroupBuyCompleted") == 1


def test_a_seat_is_one_per_shopper_and_never_more_than_the_group_size() -> None:
    group = _group()
    with pytest.raises(GroupBuyAlreadyJoined):
        group.join(user_id="u-leader", order_id="o9", now=NOON)
    group.join(user_id="u-friend", order_id="o2", now=NOON)
    with pytest.raises(GroupBuyFull):
        group.join(user_id="u-stranger", order_id="o3", now=NOON)


def test_an_unpaid_members_closed_order_frees_the_seat_but_a_paid_one_keeps_it() -> None:
    group = _group()
    group.join(user_id="u-friend", order_id="o2", now=NOON)
    group.member_paid(user_id="u-leader", now=NOON)
    group.leave(user_id="u-leader")
    group.leave(user_id="u-friend")
    assert set(group.members) == {"u-leader"}


def test_an_expired_group_fails_once_and_takes_nobody_after() -> None:
    group = _group()
    later = group.expires_at
    assert group.expire(now=later - timedelta(seconds=1)) is False
    assert group.expire(now=later) is True
    assert group.expire(now=later) is False
    with pytest.raises(GroupBuyClosed):
        group.join(user_id="u-friend", order_id="o2", now=later)


def test_the_completed_group_lists_each_members_order_at_the_members_place() -> None:
    group = _group(size=3)
    # The order ids sort the other way round from the members, so sorting each list alone would pair them wrongly.
    group.join(user_id="u-amy", order_id="o9", now=NOON)
    group.join(user_id="u-zed", order_id="o0", now=NOON)
    for user_id in ("u-leader", "u-amy", "u-zed"):
        group.member_paid(user_id=user_id, now=NOON)
    (completed,) = [e for e in group.events if isinstance(e, GroupBuyCompleted)]
    assert dict(zip(completed.member_user_ids, completed.order_ids, strict=True)) == {
        "u-amy": "o9",
        "u-leader": "o1",
        "u-zed": "o0",
    }
