from __future__ import annotations

from datetime import timedelta

MINUTE = timedelta(minutes=1)


def _reward_rule(shop, **fields):
    return shop.rule(rule_id="share-5-yuan", kind="referral_reward", template_id=None, template_data={},
                     sharer_campaign_id="camp-5y-sharer", friend_campaign_id="camp-5y-friend", **fields)  # fmt: skip


def _share(shop, person, share_id, at, parent=None, depth=1, **extra):
    shop.track(person, "Product Shared", at, product_id="p-teapot", share_id=share_id, share_depth=depth,
               parent_share_id=parent, **extra)  # fmt: skip


def _enter(shop, person, share_id, at, scene=1007, **extra):
    shop.track(person, "Mini Program Launched", at, scene=scene, share_id=share_id, **extra)


def test_a_share_chain_keeps_root_parent_and_depth(shop, morning) -> None:
    _share(shop, "ann", "sh-a", morning)
    _enter(shop, "bo", "sh-a", morning + MINUTE)
    _share(shop, "bo", "sh-b", morning + 2 * MINUTE, parent="sh-a", depth=2)
    _enter(shop, "cy", "sh-b", morning + 3 * MINUTE, scene=1044)
    _share(shop, "cy", "sh-c", morning + 4 * MINUTE, parent="sh-b", depth=3)

    shop.run_until(morning + timedelta(hours=1))

    tree = {s["share_id"]: (s["root_share_id"], s["parent_share_id"], s["depth"]) for s in shop.of("shares")}
    assert tree == {"sh-a": ("sh-a", None, 1), "sh-b": ("sh-a", "sh-a", 2), "sh-c": ("sh-a", "sh-b", 3)}


def test_both_sides_get_a_five_yuan_coupon_when_the_friends_first_order_is_paid(shop, morning) -> None:
    _reward_rule(shop)
    shop.identify("ann", morning, user_id="u-ann")
    _share(shop, "ann", "sh-a", morning)
    _enter(shop, "bo", "sh-a", morning + MINUTE)
    shop.identify("bo", morning + 2 * MINUTE, user_id="u-bo")
    shop.paid("u-bo", "SL-1", morning + 5 * MINUTE, total_fen=12_900)
    shop.paid("u-bo", "SL-2", morning + 50 * MINUTE)

    shop.run_until(morning + timedelta(hours=2))

    first, second = shop.of("attributions")
    assert (first["order_id"], first["sharer_user_id"], first["total_fen"]) == ("SL-1", "u-ann", 12_900)
    assert first["is_first_order"] and not second["is_first_order"]
    rewards = sorted((r["role"], r["user_id"], r["campaign_id"], r["source_id"]) for r in shop.of("rewards"))
    assert rewards == [
        ("friend", "u-bo", "camp-5y-friend", "SL-1"),
        ("sharer", "u-ann", "camp-5y-sharer", "SL-1"),
    ]


def test_the_last_share_touched_within_the_window_gets_the_order_by_default(shop, morning) -> None:
    _reward_rule(shop)
    _share(shop, "ann", "sh-a", morning)
    _share(shop, "dan", "sh-d", morning)
    _share(shop, "eve", "sh-e", morning)
    _enter(shop, "bo", "sh-e", morning - timedelta(days=8) + MINUTE)  # too old
    _enter(shop, "bo", "sh-a", morning + MINUTE)
    _enter(shop, "bo", "sh-d", morning + 2 * MINUTE, scene=1008)
    _enter(shop, "bo", "sh-a", morning + 3 * MINUTE, scene=1001)  # not a share scene
    shop.identify("bo", morning + 3 * MINUTE, user_id="u-bo")
    shop.paid("u-bo", "SL-1", morning + 5 * MINUTE)

    shop.run_until(morning + timedelta(hours=1))

    [attribution] = shop.of("attributions")
    assert attribution["share_id"] == "sh-d"


def test_first_touch_attribution_can_be_configured(shop, morning) -> None:
    _reward_rule(shop, attribution_model="first_touch")
    _share(shop, "ann", "sh-a", morning)
    _share(shop, "dan", "sh-d", morning)
    _enter(shop, "bo", "sh-a", morning + MINUTE)
    _enter(shop, "bo", "sh-d", morning + 2 * MINUTE)
    shop.identify("bo", morning + 3 * MINUTE, user_id="u-bo")
    shop.paid("u-bo", "SL-1", morning + 5 * MINUTE)

    shop.run_until(morning + timedelta(hours=1))

    assert [a["share_id"] for a in shop.of("attributions")] == ["sh-a"]


def test_an_entry_through_ones_own_share_is_not_a_referral(shop, morning) -> None:
    _reward_rule(shop)
    shop.identify("ann", morning, user_id="u-ann")
    _share(shop, "ann", "sh-a", morning)
    _enter(shop, "ann", "sh-a", morning + MINUTE)
    shop.paid("u-ann", "SL-1", morning + 5 * MINUTE)

    shop.run_until(morning + timedelta(hours=1))

    assert shop.of("attributions") == []
    assert shop.of("rewards") == []


def test_a_second_account_on_the_sharers_phone_earns_no_reward(shop, morning) -> None:
    _reward_rule(shop)
    shop.identify("ann", morning, user_id="u-ann", device_id="iphone-ann")
    _share(shop, "ann", "sh-a", morning, device_id="iphone-ann")
    _enter(shop, "ann-alt", "sh-a", morning + MINUTE, device_id="iphone-ann")
    shop.identify("ann-alt", morning + 2 * MINUTE, user_id="u-ann-alt", device_id="iphone-ann")
    shop.paid("u-ann-alt", "SL-1", morning + 5 * MINUTE)

    shop.run_until(morning + timedelta(hours=1))

    [attribution] = shop.of("attributions")
    assert attribution["reward_blocked_reason"] == "same_device"
    assert shop.of("rewards") == []


def test_a_second_account_on_the_sharers_wechat_earns_no_reward(shop, morning) -> None:
    _reward_rule(shop)
    shop.identify("ann", morning, user_id="u-ann", openid="o-ann")
    _share(shop, "ann", "sh-a", morning, openid="o-ann")
    _enter(shop, "ann-alt", "sh-a", morning + MINUTE, openid="o-ann")
    shop.identify("ann-alt", morning + 2 * MINUTE, user_id="u-ann-alt", openid="o-ann")
    shop.paid("u-ann-alt", "SL-1", morning + 5 * MINUTE)

    shop.run_until(morning + timedelta(hours=1))

    assert [a["reward_blocked_reason"] for a in shop.of("attributions")] == ["same_openid"]
    assert shop.of("rewards") == []


def test_rewards_do_not_flow_around_a_circle_of_shares(shop, morning) -> None:
    _reward_rule(shop)
    shop.identify("ann", morning, user_id="u-ann")
    shop.identify("bo", morning, user_id="u-bo")
    _share(shop, "ann", "sh-a", morning)
    _enter(shop, "bo", "sh-a", morning + MINUTE)
    _share(shop, "bo", "sh-b", morning + 2 * MINUTE, parent="sh-a", depth=2)
    _enter(shop, "ann", "sh-b", morning + 3 * MINUTE)
    shop.paid("u-ann", "SL-1", morning + 5 * MINUTE)

    shop.run_until(morning + timedelta(hours=1))

    assert [a["reward_blocked_reason"] for a in shop.of("attributions")] == ["circular_share"]
    assert shop.of("rewards") == []


def test_a_paid_order_announced_before_the_login_event_waits_for_it(shop, morning) -> None:
    _reward_rule(shop)
    shop.identify("ann", morning, user_id="u-ann")
    _share(shop, "ann", "sh-a", morning)
    _enter(shop, "bo", "sh-a", morning + MINUTE)
    shop.paid("u-bo", "SL-1", morning + 2 * MINUTE)
    shop.identify("bo", morning + 3 * MINUTE, user_id="u-bo")

    shop.run_until(morning + timedelta(hours=1))

    assert [a["order_id"] for a in shop.of("attributions")] == ["SL-1"]
    assert len(shop.of("rewards")) == 2
