"""The order book in the warehouse equals the order core's events, recomputed here in plain Python, to the fen."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import orjson

from warehouse.settings import WarehouseSettings


def _order_book(path: Path) -> list[dict[str, Any]]:
    unique: dict[str, dict[str, Any]] = {}
    for line in path.read_bytes().splitlines():
        if line.strip():
            event = orjson.loads(line)
            unique.setdefault(event["event_id"], event)
    return list(unique.values())


def _query(settings: WarehouseSettings, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_net_gmv_and_paid_orders_equal_verified_payments_minus_refunds_to_the_fen(
    fixture_warehouse: WarehouseSettings, fixture_order_book_file: Path
) -> None:
    events = _order_book(fixture_order_book_file)
    paid = {e["order_id"]: e["total_fen"] for e in events if e["event"] == "OrderPaid"}
    refunded: dict[str, int] = defaultdict(int)
    for event in events:
        if event["event"] == "RefundSucceeded":
            refunded[event["order_id"]] += event["amount_fen"]
    expected_net = {order_id: amount - refunded[order_id] for order_id, amount in paid.items()}

    rows = _query(fixture_warehouse, "select order_id, net_paid_fen from fct_orders where is_paid")
    [(orders, net_fen)] = _query(
        fixture_warehouse, "select count(*) filter (where is_paid), sum(net_paid_fen) from fct_orders"
    )

    assert dict(rows) == expected_net
    assert (orders, net_fen) == (len(paid), sum(paid.values()) - sum(refunded.values()))
    assert net_fen == 510 + 1250 + 2000 - 1250  # the fixture's memorable numbers


def test_every_order_line_and_the_coupon_discount_add_up_to_the_order_total(
    fixture_warehouse: WarehouseSettings, fixture_order_book_file: Path
) -> None:
    placed = {e["order_id"]: e for e in _order_book(fixture_order_book_file) if e["event"] == "OrderPlaced"}
    rows = _query(fixture_warehouse, "select order_id, items_fen, discount_fen, total_fen from fct_orders")
    assert {row[0]: row[1:] for row in rows} == {
        order_id: (
            sum(quantity * price for _, quantity, price in event["lines"]),
            event["discount_fen"],
            event["total_fen"],
        )
        for order_id, event in placed.items()
    }


def test_client_reports_and_the_order_book_disagree_visibly_where_they_differ(
    fixture_warehouse: WarehouseSettings,
) -> None:
    rows = _query(
        fixture_warehouse,
        "select order_id, reconciliation_status, gap_fen from dq_order_reports_vs_order_book order by order_id",
    )
    assert rows == [
        ("o-1001", "matched", 0),
        ("o-1003", "matched", 0),
        # Ma's client said it paid 19.99 yuan; the order core closed the order unpaid.
        ("o-1004", "reported_not_paid", 1999),
        # Qian paid 20 yuan but no tracking event reported it.
        ("o-1005", "paid_not_reported", -2000),
    ]


def test_a_relayed_event_sent_twice_is_one_payment(fixture_warehouse: WarehouseSettings) -> None:
    assert _query(fixture_warehouse, "select count(*) from fct_payments where order_id = 'o-1001'") == [(1,)]
