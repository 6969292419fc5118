from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.domain.bargains import Bargain, BargainStatus, cut_amount
from api.domain.errors import BargainClosed, BargainOwnCut

NOW = datetime(2026, 11, 11, 12, tzinfo=UTC)


def _bargain(**overrides: object) -> Bargain:
    fields: dict[str, object] = {
        "bargain_id": "bg1",
        "deal_id": "bd1",
        "user_id": "ming",
        "sku_id": "tee",
        "device_id": "phone-ming",
        "seed": "panda",
        "start_price_fen": 9900,
        "floor_price_fen": 4900,
        "price_fen": 9900,
        "expected_cuts": 5,
        "expires_at": NOW + timedelta(hours=1),
    }
    fields.update(overrides)
    return Bargain(**fields)  # type: ignore[arg-type]


def test_cut_amounts_are_the_same_for_the_same_seed_and_differ_for_another() -> None:
    amounts = [
        cut_amount(seed="panda", cut_no=n, price_fen=9900, floor_fen=4900, expected_cuts=5) for n in (1, 2)
    ]
    again = [
        cut_amount(seed="panda", cut_no=n, price_fen=9900, floor_fen=4900, expected_cuts=5) for n in (1, 2)
    ]
    other = [
        cut_amount(seed="bamboo", cut_no=n, price_fen=9900, floor_fen=4900, expected_cuts=5) for n in (1, 2)
    ]
    assert amounts == again
    assert amounts != other
    assert 500 <= amounts[0] <= 1500  # half to one and a half times an even fifth of 50.00


def test_the_expected_number_of_friends_reaches_the_floor_exactly_and_never_below() -> None:
    bargain = _bargain()
    for friend in range(5):
        bargain.cut(helper_user_id=f"friend{friend}", helper_device_id=f"phone{friend}", now=NOW)
    assert bargain.price_fen == 4900
    assert bargain.status(NOW) == BargainStatus.AT_FLOOR
    with pytest.raises(BargainClosed):
        bargain.cut(helper_user_id="late", helper_device_id="phone-late", now=NOW)


def test_the_starter_cannot_cut_by_account_or_by_device_and_nobody_cuts_after_the_deadline() -> None:
    bargain = _bargain()
    with pytest.raises(BargainOwnCut):
        bargain.cut(helper_user_id="ming", helper_device_id="phone-other", now=NOW)
    with pytest.raises(BargainOwnCut):
        bargain.cut(helper_user_id="hong", helper_device_id="phone-ming", now=NOW)
    with pytest.raises(BargainClosed):
        bargain.cut(helper_user_id="hong", helper_device_id="phone-hong", now=NOW + timedelta(hours=2))
