from __future__ import annotations

from datetime import timedelta

MINUTE = timedelta(minutes=1)


def test_many_orders_in_minutes_from_one_account_flag_it_for_review(shop, morning) -> None:
    for n in range(6):
        shop.placed("u-farmer", f"SL-F{n}", morning + n * MINUTE)
    for n in range(3):
        shop.placed("u-mei", f"SL-M{n}", morning + n * MINUTE)
    for n in range(6):
        shop.placed("u-lei", f"SL-L{n}", morning + n * 5 * MINUTE)

    shop.run_until(morning + timedelta(hours=1))

    assert [(f["user_id"], f["reason"]) for f in shop.of("flags")] == [("u-farmer", "order_burst")]


def test_many_accounts_on_one_device_are_all_flagged_once(shop, morning) -> None:
    for n in range(4):
        shop.identify(f"p{n}", morning + n * MINUTE, user_id=f"u-{n}", device_id="farm-phone")
    shop.identify("mei", morning, user_id="u-mei", device_id="mei-phone")
    shop.identify("mei", morning + 5 * MINUTE, user_id="u-mei", device_id="mei-phone")

    shop.run_until(morning + timedelta(hours=1))

    flags = shop.of("flags")
    assert sorted(f["user_id"] for f in flags) == ["u-0", "u-1", "u-2", "u-3"]
    assert {f["reason"] for f in flags} == {"crowded_device"}
    assert len({f["flag_id"] for f in flags}) == 4
