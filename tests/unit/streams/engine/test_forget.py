"""`privacy forget` reaches the decision core: `Engine.forget` removes a shopper's state, her pending pushes and
buffered inputs, and the identities on her shares, while other shoppers — including those who came in through
her shares — keep everything they had."""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson

from shoploop.tombstone import Tombstone
from streams.engine.core import Engine
from tests.unit.streams.conftest import Shop

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


def _cart_rule(shop: Shop) -> None:
    shop.rule(rule_id="cart-2h", delay_s=7200)


def _lily_and_ming_leave_their_carts(shop: Shop, morning: datetime) -> None:
    _cart_rule(shop)
    for person, user_id in (("phone-lily", "u-lily"), ("phone-ming", "u-ming")):
        shop.identify(person, morning, user_id=user_id)
        shop.consent(person, morning)
        shop.add_to_cart(person, morning + MINUTE)


def _everything_the_engine_holds(engine: Engine) -> bytes:
    """The engine's state, as far as a checkpoint or a trigger could show it (for 'no trace of her')."""
    return orjson.dumps(
        {
            "persons": {p: person.to_dict() for p, person in engine.persons.items()},
            "person_by_user": engine.person_by_user,
            "person_by_order": engine.person_by_order,
            "parked": {u: [f.order_id for f in facts] for u, facts in engine.parked_payments.items()},
            "orders_by_user": {u: len(times) for u, times in engine.orders_by_user.items()},
            "devices": {d: sorted(users) for d, users in engine.accounts_by_device.items()},
            "flags": sorted(engine.flagged_reasons),
            "shares": [str(node) for node in engine.shares.values()],
            "due": [list(map(str, entry)) for entry in engine._due],
            "pending": [str(item) for item in engine.pending()],
        }
    )


def test_a_pending_cart_reminder_of_a_forgotten_shopper_never_fires_while_another_shoppers_does(
    shop: Shop, morning: datetime
) -> None:
    _lily_and_ming_leave_their_carts(shop, morning)
    shop.run_until(morning + 30 * MINUTE)  # both reminders are scheduled, neither is due yet

    forgotten = shop.engine.forget({"phone-lily"}, {"u-lily"})

    shop.run_until(morning + 3 * 60 * MINUTE)
    assert [t["person_id"] for t in shop.triggers("send")] == ["phone-ming"]
    assert forgotten.persons == 1 and forgotten.pending_pushes == 1
    assert b"lily" not in _everything_the_engine_holds(shop.engine)


def test_a_forgotten_shopper_is_not_won_back_weeks_later(shop: Shop, morning: datetime) -> None:
    shop.rule(rule_id="win-back", kind="win_back", delay_s=30 * 24 * 3600, template_id="TPL_BACK",
              template_data={"thing1": "好久不见"})  # fmt: skip
    for person in ("phone-lily", "phone-ming"):
        shop.consent(person, morning, template_id="TPL_BACK")
    shop.run_until(morning + DAY)

    shop.engine.forget({"phone-lily"}, set())

    shop.run_until(morning + 40 * DAY)
    assert [(t["person_id"], t["kind"]) for t in shop.triggers()] == [("phone-ming", "win_back")]


def test_another_shopper_keeps_exactly_the_state_they_had(shop: Shop, morning: datetime) -> None:
    _lily_and_ming_leave_their_carts(shop, morning)
    shop.placed("u-ming", "SL-ming", morning + 2 * MINUTE)
    shop.run_until(morning + 30 * MINUTE)
    mings_before = shop.engine.persons["phone-ming"].to_dict()

    shop.engine.forget({"phone-lily"}, {"u-lily"})

    assert shop.engine.persons["phone-ming"].to_dict() == mings_before
    assert shop.engine.person_by_user == {"u-ming": "phone-ming"}
    assert list(shop.engine.orders_by_user) == ["u-ming"]
    assert shop.engine.accounts_by_device == {"dev_phone-ming": {"u-ming"}}


def test_shoppers_who_came_through_a_forgotten_sharers_share_keep_their_tree_and_attribution(
    shop: Shop, morning: datetime
) -> None:
    shop.rule(rule_id="share-5-yuan", kind="referral_reward", template_id=None, template_data={},
              sharer_campaign_id="camp-sharer", friend_campaign_id="camp-friend",
              second_level_campaign_id="camp-second")  # fmt: skip
    shop.identify("phone-lily", morning, user_id="u-lily")
    shop.track(
        "phone-lily", "Product Shared", morning, product_id="p-teapot", share_id="sh-lily", share_depth=1
    )
    # Bo came in through Lily's share and shared on; Cy came in through Bo's.
    shop.track("phone-bo", "Mini Program Launched", morning + MINUTE, scene=1007, share_id="sh-lily")
    shop.identify("phone-bo", morning + MINUTE, user_id="u-bo")
    shop.track("phone-bo", "Product Shared", morning + 2 * MINUTE, product_id="p-teapot", share_id="sh-bo",
               share_depth=2, parent_share_id="sh-lily")  # fmt: skip
    shop.track("phone-cy", "Mini Program Launched", morning + 3 * MINUTE, scene=1008, share_id="sh-bo")
    shop.identify("phone-cy", morning + 3 * MINUTE, user_id="u-cy")
    shop.run_until(morning + 10 * MINUTE)

    forgotten = shop.engine.forget({"phone-lily"}, {"u-lily"})
    # A share placed after the erasure under Bo's still finds the whole tree.
    shop.track("phone-cy", "Product Shared", morning + 11 * MINUTE, product_id="p-teapot", share_id="sh-cy",
               share_depth=3, parent_share_id="sh-bo")  # fmt: skip
    shop.paid("u-cy", "SL-cy", morning + 12 * MINUTE)
    shop.paid("u-bo", "SL-bo", morning + 13 * MINUTE)
    shop.run_until(morning + 60 * MINUTE)

    assert forgotten.shares_anonymised == 1
    attributions = {a["order_id"]: a for a in shop.of("attributions")}
    assert {order: (a["share_id"], a["root_share_id"], a["depth"]) for order, a in attributions.items()} == {
        "SL-cy": ("sh-bo", "sh-lily", 2),
        "SL-bo": ("sh-lily", "sh-lily", 1),
    }
    assert attributions["SL-bo"]["sharer_user_id"] is None
    assert attributions["SL-bo"]["sharer_person_id"] != "phone-lily"
    rewards = sorted((r["source_id"], r["role"], r["user_id"]) for r in shop.of("rewards"))
    # Cy's order: Bo and Cy as before; Lily, the level above Bo, is rewarded nothing. Bo's order through
    # Lily's share is not rewarded: its sharer has no account any more (as for a sharer who never logged in).
    assert rewards == [("SL-cy", "friend", "u-cy"), ("SL-cy", "sharer", "u-bo")]
    assert attributions["SL-bo"]["reward_blocked_reason"] == "sharer_not_logged_in"
    assert shop.engine.shares["sh-cy"].root_share_id == "sh-lily"
    assert b'lily"' not in orjson.dumps([str(node) for node in shop.engine.shares.values()]).replace(
        b"sh-lily", b""
    )


def test_her_inputs_still_buffered_or_arriving_late_are_dropped_and_her_phone_comes_back_fresh_later(
    shop: Shop, morning: datetime
) -> None:
    _cart_rule(shop)
    shop.consent("phone-lily", morning)
    shop.add_to_cart("phone-lily", morning + MINUTE)  # offered, not yet applied (the watermark has not moved)
    guard = Tombstone(
        person_ids=frozenset({"phone-lily"}),
        ids=frozenset({"phone-lily", "u-lily"}),
        erased_at=morning + 2 * MINUTE,
        people_until=morning + 12 * MINUTE,
    )

    forgotten = shop.engine.forget({"phone-lily"}, {"u-lily"}, guard=guard)
    # Already on Kafka when she was forgotten: her cart, her payment, and an event keyed by her old person
    # in the moment before the collectors heard of the erasure.
    shop.add_to_cart("phone-lily", morning + MINUTE + 30 * 1000 * timedelta(microseconds=1))
    shop.paid("u-lily", "SL-lily", morning + 90 * timedelta(seconds=1))
    shop.track("phone-lily", "Product Viewed", morning + 5 * MINUTE, product_id="p-teapot")
    shop.run_until(morning + 15 * MINUTE)

    assert forgotten.pending_inputs == 2
    assert "phone-lily" not in shop.engine.persons and not shop.engine.parked_payments
    assert not shop.engine.erasure_guards  # event time passed its window
    # Weeks later the same phone is a new shopper like any other.
    shop.consent("phone-lily", morning + 20 * DAY)
    shop.add_to_cart("phone-lily", morning + 20 * DAY + MINUTE)
    shop.run_until(morning + 21 * DAY)
    assert [t["person_id"] for t in shop.triggers("send")] == ["phone-lily"]
    assert shop.engine.persons["phone-lily"].cart.lines[0].product_id == "p-teapot"


def test_her_parked_payments_order_links_flags_and_device_links_go_and_a_second_forget_finds_nothing(
    shop: Shop, morning: datetime
) -> None:
    # Lily's account paid before her tracked events named it: the payment waits for her login.
    shop.paid("u-lily", "SL-parked", morning)
    shop.identify("phone-ming", morning, user_id="u-ming", device_id="shared-pad")
    shop.identify("phone-lily2", morning, user_id="u-lily-2", device_id="shared-pad")
    shop.track("phone-lily2", "Order Completed", morning + MINUTE, user_id="u-lily-2", order_id="SL-2")
    shop.run_until(morning + 10 * MINUTE)
    assert shop.engine.parked_payments and shop.engine.person_by_order == {"SL-2": "phone-lily2"}

    forgotten = shop.engine.forget({"phone-lily2"}, {"u-lily", "u-lily-2"})
    again = shop.engine.forget({"phone-lily2"}, {"u-lily", "u-lily-2"})

    assert forgotten.parked_facts == 1 and forgotten.index_entries >= 2
    assert not shop.engine.parked_payments and not shop.engine.person_by_order
    # The shared pad keeps Ming's account, not Lily's.
    assert shop.engine.accounts_by_device == {"shared-pad": {"u-ming"}}
    assert b"lily" not in _everything_the_engine_holds(shop.engine)
    assert again.persons == again.pending_pushes == again.parked_facts == again.index_entries == 0
