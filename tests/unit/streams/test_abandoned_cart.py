from __future__ import annotations

from datetime import datetime, timedelta

from streams.carts.decisions import abandoned_due_at, apply_cart_event
from streams.carts.models import Cart

DAY = timedelta(days=1)


def test_a_cart_left_alone_gets_one_reminder_a_day_after_its_last_change(shop, morning) -> None:
    shop.rule()
    shop.consent("mei", morning)
    shop.add_to_cart("mei", morning)
    shop.add_to_cart("mei", morning + timedelta(hours=2), product_id="p-cups")

    shop.run_until(morning + 3 * DAY)

    [reminder] = shop.triggers("send")
    assert reminder["due_at"] == (morning + timedelta(hours=2) + DAY).isoformat()
    assert reminder["rule_id"] == "cart-24h" and reminder["rule_version"] == 1
    assert reminder["data"] == {"thing1": "白瓷茶壶", "phrase2": "待支付"}
    assert reminder["page"] == f"pages/cart/index?push_id={reminder['trigger_id']}"


def test_cart_reminder_is_not_sent_after_the_order_is_paid(shop, morning) -> None:
    shop.rule()
    shop.identify("mei", morning, user_id="u-mei")
    shop.consent("mei", morning)
    shop.add_to_cart("mei", morning)
    shop.paid("u-mei", "SL-1", morning + timedelta(hours=5))

    shop.run_until(morning + 3 * DAY)

    assert shop.triggers() == []


def test_a_client_order_completed_without_a_verified_payment_does_not_stop_the_reminder(
    shop, morning
) -> None:
    shop.rule()
    shop.consent("mei", morning)
    shop.add_to_cart("mei", morning)
    shop.track("mei", "Order Completed", morning + timedelta(minutes=5), order_id="SL-FAKE", total=88.0)

    shop.run_until(morning + 3 * DAY)

    assert len(shop.triggers("send")) == 1


def test_cart_reminder_is_not_sent_once_the_cart_is_emptied(shop, morning) -> None:
    shop.rule()
    shop.consent("mei", morning)
    shop.add_to_cart("mei", morning)
    shop.track("mei", "Product Removed", morning + timedelta(hours=1), product_id="p-teapot", quantity=1)

    shop.run_until(morning + 3 * DAY)

    assert shop.triggers() == []


def test_cart_reminder_is_not_sent_when_every_item_sold_out(shop, morning) -> None:
    shop.rule()
    shop.consent("mei", morning)
    shop.add_to_cart("mei", morning)
    shop.sold_out("sku-p-teapot", morning + timedelta(hours=3))

    shop.run_until(morning + 3 * DAY)

    assert shop.triggers() == []


def test_a_payment_after_the_reminder_was_due_does_not_take_it_back(shop, morning) -> None:
    shop.rule()
    shop.identify("mei", morning, user_id="u-mei")
    shop.consent("mei", morning)
    shop.add_to_cart("mei", morning)
    shop.paid("u-mei", "SL-1", morning + DAY + timedelta(minutes=1))

    shop.run_until(morning + 3 * DAY)

    assert len(shop.triggers("send")) == 1


def test_removing_more_than_the_cart_holds_empties_the_line() -> None:
    at = datetime.fromisoformat("2026-03-02T02:00:00+00:00")
    cart = apply_cart_event(
        Cart(), event="Product Added", properties={"product_id": "p", "quantity": 2}, at=at
    )
    cart = apply_cart_event(
        cart, event="Product Removed", properties={"product_id": "p", "quantity": 5}, at=at
    )

    assert cart.is_empty
    assert abandoned_due_at(cart, delay=DAY, sold_out=frozenset()) is None
