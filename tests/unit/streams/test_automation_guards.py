from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from streams.automations.decisions import is_in_holdout, next_allowed_at
from streams.automations.rules import Rule, RuleBook

DAY = timedelta(days=1)


def test_a_person_reenters_a_rule_only_after_its_cooldown(shop, morning) -> None:
    shop.rule(delay_s=3600, cooldown_s=3 * 24 * 3600)
    shop.consent("mei", morning, times=3)
    shop.add_to_cart("mei", morning)
    shop.add_to_cart("mei", morning + timedelta(hours=2), product_id="p-cups")
    shop.add_to_cart("mei", morning + 4 * DAY, product_id="p-tray")

    shop.run_until(morning + 6 * DAY)

    sent = shop.triggers("send")
    assert [t["due_at"] for t in sent] == [
        (morning + timedelta(hours=1)).isoformat(),
        (morning + 4 * DAY + timedelta(hours=1)).isoformat(),
    ]
    assert shop.engine.suppressed == {"cooldown": 1}


def test_a_cart_changed_again_inside_the_cooldown_is_not_reminded_twice(shop, morning) -> None:
    shop.rule(delay_s=3600, cooldown_s=3 * 24 * 3600)
    shop.consent("mei", morning, times=3)
    shop.add_to_cart("mei", morning)
    shop.add_to_cart("mei", morning + timedelta(hours=2), product_id="p-cups")

    shop.run_until(morning + 2 * DAY)

    assert len(shop.triggers("send")) == 1
    assert shop.engine.suppressed == {"cooldown": 1}


def test_one_person_gets_at_most_the_daily_cap_across_all_automations(shop, morning) -> None:
    shop.rule(rule_id="cart-a", delay_s=600)
    shop.rule(rule_id="cart-b", delay_s=1200)
    shop.rule(rule_id="cart-c", delay_s=1800)
    shop.consent("mei", morning, times=5)
    shop.add_to_cart("mei", morning)

    shop.run_until(morning + DAY)

    assert sorted(t["rule_id"] for t in shop.triggers("send")) == ["cart-a", "cart-b"]
    assert shop.engine.suppressed == {"frequency_cap": 1}


def test_a_push_due_in_quiet_hours_waits_until_eight_in_the_morning_shanghai_time(shop) -> None:
    evening = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    shop.rule(delay_s=600)
    shop.consent("mei", evening)
    shop.add_to_cart("mei", evening)

    shop.run_until(evening + DAY)

    [reminder] = shop.triggers("send")
    assert reminder["fired_at"] == datetime(2026, 3, 3, 0, 0, tzinfo=UTC).isoformat()
    assert reminder["due_at"] == (evening + timedelta(minutes=10)).isoformat()


def test_a_deferred_reminder_is_dropped_when_the_shopper_pays_during_the_night(shop) -> None:
    evening = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    shop.rule(delay_s=600)
    shop.identify("mei", evening, user_id="u-mei")
    shop.consent("mei", evening)
    shop.add_to_cart("mei", evening)
    shop.paid("u-mei", "SL-9", evening + timedelta(hours=3))

    shop.run_until(evening + DAY)

    assert shop.triggers() == []


def test_next_allowed_minute_is_the_moment_itself_outside_quiet_hours() -> None:
    noon = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    assert next_allowed_at(noon, start=time(22), end=time(8), timezone="Asia/Shanghai") == noon
    early = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 07:00 next day in Shanghai
    assert next_allowed_at(early, start=time(22), end=time(8), timezone="Asia/Shanghai") == datetime(
        2026, 3, 3, 0, 0, tzinfo=UTC
    )


def test_without_an_accepted_subscribe_prompt_no_push_is_sent(shop, morning) -> None:
    shop.rule()
    shop.add_to_cart("mei", morning)

    shop.run_until(morning + 3 * DAY)

    assert shop.triggers() == []
    assert shop.engine.suppressed == {"no_subscribe_quota": 1}


def test_one_accepted_prompt_allows_exactly_one_push(shop, morning) -> None:
    shop.rule(delay_s=3600)
    shop.consent("mei", morning)
    shop.add_to_cart("mei", morning)
    shop.add_to_cart("mei", morning + timedelta(hours=3), product_id="p-cups")

    shop.run_until(morning + 3 * DAY)

    assert len(shop.triggers("send")) == 1
    assert shop.engine.suppressed == {"no_subscribe_quota": 1}
    assert shop.engine.persons["mei"].quota == {"TPL_CART": 0}


def test_a_person_in_the_holdout_never_receives_the_push_and_keeps_their_quota(shop, morning) -> None:
    rule = shop.rule(holdout_share=1.0)
    shop.consent("mei", morning)
    shop.add_to_cart("mei", morning)

    shop.run_until(morning + 3 * DAY)

    assert shop.triggers("send") == []
    [held] = shop.triggers("holdout")
    assert held["rule_id"] == rule.rule_id
    assert shop.engine.persons["mei"].quota == {"TPL_CART": 1}


def test_the_holdout_is_about_a_tenth_of_people_and_always_the_same_people() -> None:
    rule = Rule(rule_id="cart-24h", version=1, kind="abandoned_cart")
    people = [f"person-{n}" for n in range(20_000)]
    held = [p for p in people if is_in_holdout(p, rule)]
    assert 0.09 < len(held) / len(people) < 0.11
    assert held == [p for p in people if is_in_holdout(p, rule)]
    other = Rule(rule_id="win-back", version=1, kind="win_back")
    assert held != [p for p in people if is_in_holdout(p, other)]


def test_a_person_inactive_for_thirty_days_gets_a_comeback_gift(shop, morning) -> None:
    shop.rule(rule_id="win-back", kind="win_back", delay_s=30 * 24 * 3600, template_id="TPL_BACK",
              template_data={"thing1": "回归礼包"}, coupon_campaign_id="camp-back")  # fmt: skip
    shop.identify("mei", morning, user_id="u-mei")
    shop.consent("mei", morning, template_id="TPL_BACK")
    shop.identify("lei", morning, user_id="u-lei")
    shop.consent("lei", morning, template_id="TPL_BACK")
    shop.track("lei", "Product Viewed", morning + 20 * DAY, product_id="p-teapot")

    shop.run_until(morning + 31 * DAY)

    assert [t["person_id"] for t in shop.triggers("send")] == ["mei"]
    [gift] = shop.of("rewards")
    assert gift["user_id"] == "u-mei" and gift["campaign_id"] == "camp-back" and gift["role"] == "push_gift"


def test_a_birthday_greeting_goes_out_on_the_birthday_morning(shop, morning) -> None:
    shop.rule(rule_id="birthday", kind="birthday", template_id="TPL_BDAY", template_data={"thing1": "生日快乐"},
              cooldown_s=300 * 24 * 3600)  # fmt: skip
    shop.identify("mei", morning, user_id="u-mei", birthday="1990-03-05")
    shop.consent("mei", morning, template_id="TPL_BDAY")
    shop.identify("lei", morning, user_id="u-lei", birthday="1990-01-05")
    shop.consent("lei", morning, template_id="TPL_BDAY")

    shop.run_until(morning + 10 * DAY)

    [greeting] = shop.triggers("send")
    assert greeting["person_id"] == "mei"
    assert greeting["fired_at"] == datetime(2026, 3, 5, 2, 0, tzinfo=UTC).isoformat()


def test_a_location_near_a_store_brings_its_offer_and_a_far_one_does_not(shop, morning) -> None:
    shop.rule(rule_id="nearby", kind="nearby_offer", delay_s=0, template_id="TPL_NEAR",
              template_data={"thing1": "{store_name}", "thing2": "{offer}"},
              stores=[{"store_id": "s-jingan", "name": "静安寺店", "latitude": 31.2237, "longitude": 121.4453,
                       "offer": "到店满100减20"}])  # fmt: skip
    shop.consent("mei", morning, template_id="TPL_NEAR")
    shop.consent("lei", morning, template_id="TPL_NEAR")
    shop.track("mei", "Location Shared", morning + timedelta(minutes=1), latitude=31.2300, longitude=121.4500)
    shop.track("lei", "Location Shared", morning + timedelta(minutes=1), latitude=31.1000, longitude=121.3000)

    shop.run_until(morning + DAY)

    [offer] = shop.triggers("send")
    assert offer["person_id"] == "mei"
    assert offer["data"] == {"thing1": "静安寺店", "thing2": "到店满100减20"}


def test_a_rule_published_mid_stream_applies_from_then_on_and_an_older_version_never_wins(
    shop, morning
) -> None:
    shop.consent("mei", morning)
    shop.add_to_cart("mei", morning)
    shop.run_until(morning + timedelta(minutes=1))
    shop.rule(version=2, delay_s=3600)
    shop.rule(version=1, delay_s=60)

    shop.run_until(morning + DAY)

    [reminder] = shop.triggers("send")
    assert reminder["rule_version"] == 2
    assert reminder["due_at"] == (morning + timedelta(hours=1)).isoformat()


def test_a_rule_book_keeps_the_newest_version() -> None:
    book = RuleBook()
    assert book.publish(Rule(rule_id="r", version=3, kind="win_back"))
    assert not book.publish(Rule(rule_id="r", version=2, kind="win_back"))
    assert book.rules["r"].version == 3
