from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from api.domain.experiments import assign
from api.domain.membership import MemberDay, level_for, member_discount_fen, points_for_payment
from api.domain.stores import haversine_m, is_open


def test_assignment_is_stable_follows_the_split_and_differs_between_experiments() -> None:
    split = [("control", 80), ("treatment", 20)]
    counts = Counter(assign("exp-a", f"user{n}", split) for n in range(4000))
    assert 0.76 < counts["control"] / 4000 < 0.84
    assert assign("exp-a", "user7", split) == assign("exp-a", "user7", split)
    pairs = Counter(
        (assign("exp-a", f"u{n}", [("a", 1), ("b", 1)]), assign("exp-b", f"u{n}", [("a", 1), ("b", 1)]))
        for n in range(2000)
    )
    assert all(350 < count < 650 for count in pairs.values())  # independent between experiments


def test_haversine_between_the_bund_and_peoples_square_is_about_one_and_a_half_kilometres() -> None:
    assert 1500 < haversine_m(31.2304, 121.4737, 31.2400, 121.4900) < 2000


def test_a_store_open_past_midnight_is_open_at_one_in_the_morning_shanghai_time() -> None:
    one_am_shanghai = datetime(2026, 11, 11, 17, 0, tzinfo=UTC)
    assert is_open("18:00", "02:00", one_am_shanghai)
    assert not is_open("10:00", "22:00", one_am_shanghai)


def test_the_member_day_doubles_points_and_adds_its_discount_only_on_its_day_in_shanghai() -> None:
    day = MemberDay(day_of_month=12, extra_discount_percent=3, points_multiplier=2)
    on_the_day = datetime(2026, 11, 11, 16, 30, tzinfo=UTC)  # 00:30 on the 12th in Shanghai
    before = datetime(2026, 11, 11, 15, 30, tzinfo=UTC)
    assert points_for_payment(9950, member_day=day, now=on_the_day) == 198
    assert points_for_payment(9950, member_day=day, now=before) == 99
    assert member_discount_fen(10000, spend_fen=600_000, member_day=day, now=on_the_day) == 800
    assert level_for(99_999).name == "regular" and level_for(100_000).name == "silver"


def test_a_member_day_on_the_31st_falls_on_the_30th_in_november() -> None:
    day = MemberDay(day_of_month=31, extra_discount_percent=0, points_multiplier=2)
    assert day.is_today(datetime(2026, 11, 30, 4, tzinfo=UTC))
