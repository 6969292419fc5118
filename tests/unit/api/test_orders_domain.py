"""The order aggregate's state machine and money rules, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.domain import events
from api.domain.errors import EmptyOrder, InvalidTransition, PaymentAmountMismatch, RefundNotAllowed
from api.domain.orders import Order, OrderLine, OrderStatus

NOW = datetime(2026, 6, 18, 12, 0, tzinfo=UTC)


def a_panda_tee_order(**overrides: object) -> Order:
    return Order.place(
        order_id="SL0001",
        user_id="xiaoming",
        lines=[
            OrderLine(
                sku_id="tee-red-m", product_id="p-tee", title="Panda tee", unit_price_fen=9900, quantity=2
            )
        ],
        now=NOW,
        payment_window=timedelta(minutes=30),
        **overrides,  # type: ignore[arg-type]
    )


def test_placing_an_order_totals_the_lines_minus_the_discount_and_records_order_placed() -> None:
    order = a_panda_tee_order(discount_fen=2000, coupon_id="cp1")
    assert (order.subtotal_fen, order.total_fen) == (19800, 17800)
    assert [type(e) for e in order.events] == [events.OrderPlaced]


def test_a_discount_never_makes_an_order_free() -> None:
    assert a_panda_tee_order(discount_fen=1_000_000).total_fen == 1


def test_an_order_without_lines_is_refused() -> None:
    with pytest.raises(EmptyOrder):
        Order.place(order_id="x", user_id="u", lines=[], now=NOW, payment_window=timedelta(minutes=30))


def test_a_payment_for_the_wrong_amount_is_refused_and_the_order_stays_unpaid() -> None:
    order = a_panda_tee_order()
    with pytest.raises(PaymentAmountMismatch):
        order.pay(transaction_id="42", amount_fen=1, now=NOW)
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_the_same_payment_twice_is_recorded_once() -> None:
    order = a_panda_tee_order()
    assert order.pay(transaction_id="42", amount_fen=19800, now=NOW) is True
    assert order.pay(transaction_id="42", amount_fen=19800, now=NOW) is False
    assert [type(e) for e in order.events].count(events.OrderPaid) == 1


def test_an_order_goes_from_paid_to_shipped_to_completed() -> None:
    order = a_panda_tee_order()
    order.pay(transaction_id="42", amount_fen=19800, now=NOW)
    order.ship(tracking_no="SF1", now=NOW)
    order.complete(now=NOW)
    assert order.status == OrderStatus.COMPLETED


def test_an_unpaid_order_cannot_be_shipped_and_a_paid_one_cannot_be_cancelled() -> None:
    order = a_panda_tee_order()
    with pytest.raises(InvalidTransition):
        order.ship(tracking_no="SF1", now=NOW)
    order.pay(transaction_id="42", amount_fen=19800, now=NOW)
    with pytest.raises(InvalidTransition):
        order.cancel(now=NOW)


def test_a_closed_order_cannot_be_paid() -> None:
    order = a_panda_tee_order()
    order.close(now=NOW)
    with pytest.raises(InvalidTransition):
        order.pay(transaction_id="42", amount_fen=19800, now=NOW)


def test_an_unpaid_order_cannot_be_refunded_and_a_refused_refund_restores_the_state() -> None:
    order = a_panda_tee_order()
    with pytest.raises(RefundNotAllowed):
        order.request_refund(refund_id="RF1", reason="x", now=NOW)
    order.pay(transaction_id="42", amount_fen=19800, now=NOW)
    order.ship(tracking_no="SF1", now=NOW)
    assert order.request_refund(refund_id="RF1", reason="too small", now=NOW) == 19800
    order.refund_failed()
    assert order.status == OrderStatus.SHIPPED


def test_a_refund_of_a_paid_but_unshipped_order_restocks_and_a_shipped_one_does_not() -> None:
    unshipped = a_panda_tee_order()
    unshipped.pay(transaction_id="42", amount_fen=19800, now=NOW)
    unshipped.request_refund(refund_id="RF1", reason="changed my mind", now=NOW)
    assert unshipped.restocks_on_exit
    shipped = a_panda_tee_order()
    shipped.pay(transaction_id="43", amount_fen=19800, now=NOW)
    shipped.ship(tracking_no="SF1", now=NOW)
    shipped.request_refund(refund_id="RF2", reason="broken", now=NOW)
    assert not shipped.restocks_on_exit
    assert shipped.refund_succeeded(refund_id="RF2", amount_fen=19800, now=NOW) is True
    assert shipped.refund_succeeded(refund_id="RF2", amount_fen=19800, now=NOW) is False
