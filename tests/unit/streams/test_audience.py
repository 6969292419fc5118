"""A push rule's audience (RFM segments, provinces, minimum paid orders): a person outside it gets nothing,
with dim_users' definitions computed from what the streams have seen."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from pydantic import ValidationError

from shoploop.rfm import rfm_segment
from streams.automations.audience import AudienceProfile, ShippingAddress, audience_miss, audience_profile
from streams.automations.rules import Audience, Rule
from streams.engine.checkpoint import index_row, restore_engine, shop_state
from streams.engine.core import Engine, PersonState
from streams.inputs import Activity, OrderFact, order_fact_from_json

DAY = timedelta(days=1)


def placed(
    shop, user_id: str, order_id: str, at: datetime, province: str | None, city: str | None = None
) -> None:
    shop._offer(
        OrderFact(
            f"placed:{order_id}",
            "OrderPlaced",
            at,
            user_id=user_id,
            order_id=order_id,
            shipping_province=province,
            shipping_city=city,
        )
    )


def cart_left(shop, person: str, at: datetime) -> None:
    shop.consent(person, at)
    shop.add_to_cart(person, at)


def test_only_shoppers_in_the_chosen_provinces_get_the_reminder(shop, morning) -> None:
    shop.rule(delay_s=3600, audience={"provinces": ["广东省"]})
    shop.identify("mei", morning, user_id="u-mei", province="浙江省")
    placed(shop, "u-mei", "SL-1", morning + timedelta(minutes=1), "广东省", "深圳市")
    shop.identify("lei", morning, user_id="u-lei", province="广东省")
    placed(shop, "u-lei", "SL-2", morning + timedelta(minutes=1), "北京市", "北京市")
    shop.identify("wen", morning, user_id="u-wen")
    for person in ("mei", "lei", "wen"):
        cart_left(shop, person, morning + timedelta(minutes=5))

    shop.run_until(morning + DAY)

    # Mei's latest order ships to 广东; Lei lives in 广东 by her traits but her order ships to 北京.
    assert [t["person_id"] for t in shop.triggers("send")] == ["mei"]
    assert shop.engine.suppressed == {"audience_province": 2}


def test_a_shopper_without_an_order_address_is_placed_by_their_identify_traits(shop, morning) -> None:
    shop.rule(delay_s=3600, audience={"provinces": ["广东省"]})
    shop.identify("mei", morning, user_id="u-mei", province="广东省")
    placed(shop, "u-mei", "SL-1", morning + timedelta(minutes=1), None, None)
    cart_left(shop, "mei", morning + timedelta(minutes=5))

    shop.run_until(morning + DAY)

    assert [t["person_id"] for t in shop.triggers("send")] == ["mei"]


def test_an_address_placed_before_the_shopper_is_known_is_kept_until_they_are(shop, morning) -> None:
    shop.rule(delay_s=3600, audience={"provinces": ["广东省"]})
    placed(shop, "u-mei", "SL-1", morning, "广东省", "广州市")
    shop.identify("mei", morning + timedelta(minutes=1), user_id="u-mei", province="浙江省")
    cart_left(shop, "mei", morning + timedelta(minutes=5))

    shop.run_until(morning + DAY)

    assert [t["person_id"] for t in shop.triggers("send")] == ["mei"]


def test_only_shoppers_with_enough_verified_paid_orders_get_the_reminder(shop, morning) -> None:
    shop.rule(delay_s=3600, audience={"min_paid_orders": 2})
    shop.identify("mei", morning, user_id="u-mei")
    shop.identify("lei", morning, user_id="u-lei")
    shop.paid("u-mei", "SL-1", morning + timedelta(minutes=1))
    shop.paid("u-mei", "SL-2", morning + timedelta(minutes=2))
    shop.paid("u-mei", "SL-2", morning + timedelta(minutes=3))  # relayed twice: still one order
    shop.paid("u-lei", "SL-3", morning + timedelta(minutes=1))
    shop.paid("u-lei", "SL-3", morning + timedelta(minutes=2))
    shop.track("lei", "Order Completed", morning + timedelta(minutes=3), order_id="SL-4")  # not proof
    for person in ("mei", "lei"):
        cart_left(shop, person, morning + timedelta(minutes=5))

    shop.run_until(morning + DAY)

    assert [t["person_id"] for t in shop.triggers("send")] == ["mei"]
    assert shop.engine.suppressed == {"audience_paid_orders": 1}


def test_only_shoppers_in_the_chosen_rfm_segments_get_the_reminder(shop, morning) -> None:
    shop.rule(delay_s=3600, audience={"segments": ["at_risk"]})
    for person in ("mei", "lei", "wen"):
        shop.identify(person, morning - 200 * DAY, user_id=f"u-{person}")
    # Mei: two orders 120 days before the shop's newest payment (at_risk); Lei: two recent ones (loyal).
    shop.paid("u-mei", "SL-1", morning - 121 * DAY)
    shop.paid("u-mei", "SL-2", morning - 120 * DAY)
    shop.paid("u-lei", "SL-3", morning - 2 * DAY)
    shop.paid("u-lei", "SL-4", morning - DAY)
    for person in ("mei", "lei", "wen"):
        cart_left(shop, person, morning + timedelta(minutes=5))

    shop.run_until(morning + DAY)

    assert [t["person_id"] for t in shop.triggers("send")] == ["mei"]
    assert shop.engine.suppressed == {"audience_segment": 2}


def test_a_holdout_person_outside_the_audience_is_not_counted_in_the_holdout(shop, morning) -> None:
    shop.rule(delay_s=3600, holdout_share=1.0, audience={"min_paid_orders": 1})
    cart_left(shop, "mei", morning)

    shop.run_until(morning + DAY)

    assert shop.triggers() == []
    assert shop.engine.suppressed == {"audience_paid_orders": 1}


def test_without_an_audience_everyone_the_trigger_finds_is_reminded(shop, morning) -> None:
    shop.rule(delay_s=3600)
    for person in ("mei", "lei"):
        cart_left(shop, person, morning)

    shop.run_until(morning + DAY)

    assert sorted(t["person_id"] for t in shop.triggers("send")) == ["lei", "mei"]


def test_recency_counts_shop_days_from_the_day_after_the_newest_paid_order() -> None:
    newest = date(2026, 3, 2)
    assert (
        rfm_segment(paid_orders=1, last_paid_date=newest - timedelta(days=29), newest_paid_date=newest)
        == "new"
    )
    assert (
        rfm_segment(paid_orders=1, last_paid_date=newest - timedelta(days=30), newest_paid_date=newest)
        == "needs_attention"
    )
    assert (
        rfm_segment(paid_orders=1, last_paid_date=newest - timedelta(days=90), newest_paid_date=newest)
        == "hibernating"
    )
    assert rfm_segment(paid_orders=5, last_paid_date=newest, newest_paid_date=newest) == "champion"
    assert rfm_segment(paid_orders=4, last_paid_date=newest, newest_paid_date=newest) == "loyal"
    assert (
        rfm_segment(paid_orders=2, last_paid_date=newest - timedelta(days=100), newest_paid_date=newest)
        == "at_risk"
    )
    assert rfm_segment(paid_orders=0, last_paid_date=None, newest_paid_date=newest) == "prospect"


def test_a_payment_late_in_the_shanghai_evening_counts_on_the_next_utc_day() -> None:
    # 2026-03-01 17:00 UTC is 2 March 01:00 in Shanghai: the same shop day as the newest payment.
    profile = audience_profile(
        paid_orders=1,
        last_paid_at=datetime(2026, 3, 1, 17, 0, tzinfo=UTC) - timedelta(days=29),
        newest_paid_at=datetime(2026, 3, 2, 3, 0, tzinfo=UTC),
        shipping=None,
        trait_province=None,
        timezone="Asia/Shanghai",
    )
    assert profile.rfm_segment == "new"


def test_an_order_address_with_only_a_city_leaves_the_province_unknown() -> None:
    at = datetime(2026, 3, 2, tzinfo=UTC)
    profile = audience_profile(
        paid_orders=0,
        last_paid_at=None,
        newest_paid_at=None,
        shipping=ShippingAddress(at, None, "深圳市"),
        trait_province="广东省",
        timezone="Asia/Shanghai",
    )
    assert profile.province is None
    assert audience_miss(profile, Audience(provinces=("广东省",))) == "audience_province"


def test_every_filter_must_hold() -> None:
    profile = AudienceProfile(province="广东省", paid_orders=2, rfm_segment="loyal")
    assert (
        audience_miss(profile, Audience(segments=("loyal",), provinces=("广东省",), min_paid_orders=2))
        is None
    )
    assert audience_miss(profile, Audience(segments=("champion",))) == "audience_segment"
    assert audience_miss(profile, Audience(provinces=("北京市",))) == "audience_province"
    assert audience_miss(profile, Audience(min_paid_orders=3)) == "audience_paid_orders"
    assert audience_miss(profile, None) is None


@pytest.mark.parametrize(
    ("audience", "complaint"),
    [
        ({"segments": ["vip"]}, "audience.segments.0"),
        ({"provinces": ["  "]}, "audience.provinces.0"),
        ({"min_paid_orders": -1}, "audience.min_paid_orders"),
        ({"cities": ["深圳市"]}, "audience.cities"),
    ],
)
def test_a_rule_with_a_malformed_audience_is_refused(audience: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError) as error:
        Rule(rule_id="cart", version=1, kind="abandoned_cart", audience=audience)
    assert ".".join(str(part) for part in error.value.errors()[0]["loc"]) == complaint


def test_a_referral_reward_has_no_audience() -> None:
    with pytest.raises(ValidationError, match="referral reward has no audience"):
        Rule(rule_id="share", version=1, kind="referral_reward", audience={"min_paid_orders": 1})


def test_the_same_audience_in_another_order_is_the_same_rule() -> None:
    first = Rule(rule_id="c", version=1, kind="win_back", audience={"provinces": ["广东省", "北京市"]})
    second = Rule(
        rule_id="c", version=1, kind="win_back", audience={"provinces": ["北京市", "广东省", "北京市"]}
    )
    assert first == second


def test_a_persons_audience_facts_survive_a_checkpoint(shop, morning) -> None:
    shop.identify("mei", morning, user_id="u-mei", province="浙江省")
    placed(shop, "u-mei", "SL-1", morning + timedelta(minutes=1), "广东省", "深圳市")
    shop.paid("u-mei", "SL-1", morning + timedelta(minutes=2))
    shop.run_until(morning + timedelta(hours=1))
    person = shop.engine.persons["mei"]

    assert PersonState.from_dict(orjson.loads(person.to_json())) == person
    assert PersonState.from_dict(person.to_dict()) == person
    assert person.shipping == ShippingAddress(morning + timedelta(minutes=1), "广东省", "深圳市")
    assert person.last_paid_at == morning + timedelta(minutes=2)


def test_an_order_placed_message_carries_its_shipping_province_and_city() -> None:
    fact = order_fact_from_json(
        b'{"name": "OrderPlaced", "order_id": "SL-1", "user_id": "u-mei", "occurred_at": "2026-03-02T02:00:00+00:00",'
        b' "total_fen": 100, "shipping_province": "\xe5\xb9\xbf\xe4\xb8\x9c\xe7\x9c\x81", "shipping_city": null}'
    )
    assert fact is not None
    assert (fact.shipping_province, fact.shipping_city) == ("广东省", None)


def test_the_shops_newest_payment_and_a_parked_address_survive_a_restart(shop, morning) -> None:
    shop.rule(delay_s=3600, audience={"segments": ["new"], "provinces": ["广东省"]})
    shop.identify("lei", morning, user_id="u-lei")
    shop.paid("u-lei", "SL-9", morning + timedelta(minutes=1))
    placed(shop, "u-mei", "SL-1", morning + timedelta(minutes=2), "广东省", "广州市")
    shop.paid("u-mei", "SL-1", morning + timedelta(minutes=3))
    shop.run_until(morning + timedelta(minutes=4))
    engine = shop.engine
    index = [index_row(engine, kind, key) for kind, key in engine.changed_index]
    restored = Engine()
    restore_engine(
        restored,
        shop=orjson.loads(orjson.dumps(shop_state(engine))),
        persons=[orjson.loads(p.to_json()) for p in engine.persons.values()],
        shares=[],
        index=[row for row in index if row is not None],
        pending=[],
    )
    assert restored.newest_paid_at == morning + timedelta(minutes=3)
    restored.offer(
        Activity("m-login", "mei", morning + timedelta(minutes=5), "identify", None, user_id="u-mei")
    )
    restored.offer(
        Activity("m-ok", "mei", morning + timedelta(minutes=6), "track", "Subscribe Message Consent",
                 properties={"results": {"TPL_CART": "accept"}})
    )  # fmt: skip
    restored.offer(
        Activity("m-add", "mei", morning + timedelta(minutes=7), "track", "Product Added",
                 properties={"product_id": "p-teapot", "quantity": 1})
    )  # fmt: skip

    outputs = restored.advance_to(morning + DAY)

    [reminder] = [o.value for o in outputs if o.stream == "triggers"]
    assert (reminder["person_id"], reminder["outcome"]) == ("mei", "send")


def test_an_order_the_shoppers_client_reported_counts_for_them_without_a_login(shop, morning) -> None:
    # As in the warehouse (int_orders_placed): the order goes to the shopper whose client reported it.
    shop.rule(delay_s=3600, audience={"provinces": ["广东省"], "min_paid_orders": 1})
    placed(shop, "u-sun", "SL-7", morning, "广东省", "深圳市")
    shop.paid("u-sun", "SL-7", morning + timedelta(seconds=10))
    shop.track("sun", "Order Completed", morning + timedelta(seconds=20), order_id="SL-7")
    cart_left(shop, "sun", morning + timedelta(minutes=5))

    shop.run_until(morning + DAY)

    assert [t["person_id"] for t in shop.triggers("send")] == ["sun"]
    assert shop.engine.parked_payments == {}


def test_which_shopper_reported_an_order_survives_a_restart(shop, morning) -> None:
    shop.track("sun", "Order Completed", morning, order_id="SL-7")
    placed(shop, "u-other", "SL-8", morning + timedelta(seconds=1), "北京市")
    shop.run_until(morning + timedelta(minutes=1))
    engine = shop.engine
    index = [index_row(engine, kind, key) for kind, key in engine.changed_index]
    restored = Engine()
    restore_engine(
        restored,
        shop=orjson.loads(orjson.dumps(shop_state(engine))),
        persons=[orjson.loads(p.to_json()) for p in engine.persons.values()],
        shares=[],
        index=[row for row in index if row is not None],
        pending=[],
    )
    assert restored.person_by_order == {"SL-7": "sun"}
    restored.offer(
        OrderFact("paid:SL-7", "OrderPaid", morning + timedelta(minutes=2), user_id="u-sun", order_id="SL-7")
    )
    # The parked address of SL-8 is found again by its order once its shopper's client reports it.
    restored.offer(
        Activity(
            "m-oc",
            "lei",
            morning + timedelta(minutes=3),
            "track",
            "Order Completed",
            properties={"order_id": "SL-8"},
        )
    )
    restored.advance_to(morning + timedelta(minutes=4))
    assert restored.persons["sun"].paid_orders == 1
    assert restored.persons["lei"].shipping == ShippingAddress(morning + timedelta(seconds=1), "北京市", None)
