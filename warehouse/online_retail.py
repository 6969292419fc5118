"""Load the real UCI Online Retail data into the lake as order-book events and tracking events.

For `shoploop load online-retail`: a year of a real shop's invoices checks the cohort, repurchase and RFM marts
against numbers nobody designed. Its dirt is handled on purpose, and counted in the report:

- an invoice is an order of one customer, placed and paid at its (UK local) invoice time, in fen at the
  catalogue's fixed rate (`gbp_to_fen`); its lines are the rows with a positive quantity and a positive price;
- rows with a zero or negative price (free samples, bad-debt adjustments) are not sold lines, and rows with a
  negative quantity outside a cancellation (stock adjustments, damages) are not either;
- rows without a customer (guest checkouts) cannot be tied to a shopper, so their invoices are left out;
- a cancellation (invoice `C…`) becomes a refund of the cancelled amount against the customer's latest order
  placed before it, capped at what that order still holds; a cancellation with no earlier order is left out;
- each invoice also gets the client's "Order Completed" and each customer an identify (country), as the
  mini-program would send them, so the client-vs-order-book comparison has both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import polars as pl

from ingestion.contract.event import TrackedEvent
from shoploop.online_retail import ONLINE_RETAIL_PATH, gbp_to_fen
from warehouse.lake import OrderBookEvent, request_full_refresh, write_events, write_order_events

DEFAULT_PATH = ONLINE_RETAIL_PATH
SHOP_TIMEZONE = "Europe/London"


@dataclass(frozen=True, slots=True)
class LoadReport:
    orders: int
    order_lines: int
    customers: int
    refunds: int
    rows_without_customer: int
    rows_with_free_or_negative_price: int
    rows_with_negative_quantity_outside_cancellations: int
    cancellations_without_earlier_order: int


def customer_key(customer_id: int) -> str:
    return f"uk-{customer_id}"


def _utc(local: pl.Expr) -> pl.Expr:
    return local.dt.replace_time_zone(SHOP_TIMEZONE, ambiguous="earliest").dt.convert_time_zone("UTC")


def _order_event(name: str, event_id: str, occurred_at: datetime, **fields: object) -> OrderBookEvent:
    body = {"event_id": event_id, "event": name, "occurred_at": occurred_at.isoformat(), **fields}
    return OrderBookEvent.from_json(orjson.dumps(body), received_at=occurred_at + timedelta(seconds=1))


def _tracked(
    *, message_id: str, call: str, event: str | None, person: str, at: datetime, **documents: object
) -> TrackedEvent:
    return TrackedEvent(
        message_id=message_id,
        type=call,
        event=event,
        person_id=person,
        anonymous_id=person,
        user_id=person,
        timestamp=at,
        original_timestamp=at,
        sent_at=at,
        received_at=at + timedelta(seconds=1),
        scene=None,
        channel="direct",
        source="online-retail",
        properties=dict(documents.get("properties") or {}),  # type: ignore[call-overload]
        traits=dict(documents.get("traits") or {}),  # type: ignore[call-overload]
        context={},
    )


def build_rows(raw: pl.DataFrame) -> tuple[list[OrderBookEvent], list[TrackedEvent], LoadReport]:
    """Turn the raw invoice rows into order-book events and tracking events (pure; no files)."""
    rows = raw.with_columns(
        pl.col("InvoiceNo").str.starts_with("C").alias("is_cancellation"),
        _utc(pl.col("InvoiceDate")).alias("at"),
    )
    with_customer = rows.filter(pl.col("CustomerID").is_not_null())
    sold = with_customer.filter(
        ~pl.col("is_cancellation") & (pl.col("Quantity") > 0) & (pl.col("UnitPrice") > 0)
    ).with_columns(pl.col("UnitPrice").map_elements(gbp_to_fen, return_dtype=pl.Int64).alias("unit_fen"))
    invoices = (
        sold.group_by("InvoiceNo", maintain_order=True)
        .agg(
            pl.col("CustomerID").first(),
            pl.col("Country").first(),
            pl.col("at").min(),
            pl.col("StockCode"),
            pl.col("Quantity"),
            pl.col("unit_fen"),
        )
        .sort("at", "InvoiceNo")
    )

    order_events: list[OrderBookEvent] = []
    tracked: list[TrackedEvent] = []
    remaining: dict[str, int] = {}
    orders_of: dict[int, list[tuple[datetime, str]]] = {}
    for invoice in invoices.iter_rows(named=True):
        order_id, user = f"uk-{invoice['InvoiceNo']}", customer_key(invoice["CustomerID"])
        at: datetime = invoice["at"].astimezone(UTC)
        lines = list(zip(invoice["StockCode"], invoice["Quantity"], invoice["unit_fen"], strict=True))
        total = sum(quantity * price for _, quantity, price in lines)
        common = {"key": order_id, "order_id": order_id, "user_id": user}
        order_events.append(
            _order_event(
                "OrderPlaced",
                f"{order_id}-placed",
                at,
                total_fen=total,
                discount_fen=0,
                coupon_id=None,
                lines=lines,
                **common,
            )
        )
        order_events.append(
            _order_event(
                "OrderPaid",
                f"{order_id}-paid",
                at,
                total_fen=total,
                transaction_id=f"tx-{order_id}",
                **common,
            )
        )
        tracked.append(
            _tracked(
                message_id=f"{order_id}-completed",
                call="track",
                event="Order Completed",
                person=user,
                at=at,
                properties={"order_id": order_id, "total": total / 100, "currency": "CNY"},
            )
        )
        remaining[order_id] = total
        orders_of.setdefault(invoice["CustomerID"], []).append((at, order_id))

    first_seen = invoices.group_by("CustomerID").agg(pl.col("at").min(), pl.col("Country").first())
    for customer in first_seen.sort("CustomerID").iter_rows(named=True):
        user = customer_key(customer["CustomerID"])
        tracked.append(
            _tracked(
                message_id=f"{user}-identify",
                call="identify",
                event=None,
                person=user,
                at=customer["at"].astimezone(UTC),
                traits={"country": customer["Country"]},
            )
        )

    cancellations = (
        with_customer.filter(pl.col("is_cancellation") & (pl.col("UnitPrice") > 0))
        .with_columns(
            (
                pl.col("Quantity").abs() * pl.col("UnitPrice").map_elements(gbp_to_fen, return_dtype=pl.Int64)
            ).alias("line_fen")
        )
        .group_by("InvoiceNo")
        .agg(pl.col("CustomerID").first(), pl.col("at").min(), pl.col("line_fen").sum())
        .sort("at", "InvoiceNo")
    )
    refunds = orphaned = 0
    for cancellation in cancellations.iter_rows(named=True):
        at = cancellation["at"].astimezone(UTC)
        earlier = [
            order for placed_at, order in orders_of.get(cancellation["CustomerID"], []) if placed_at <= at
        ]
        target = next((order for order in reversed(earlier) if remaining[order] > 0), None)
        if target is None:
            orphaned += 1
            continue
        amount = min(int(cancellation["line_fen"]), remaining[target])
        if amount <= 0:
            orphaned += 1
            continue
        remaining[target] -= amount
        refund_id = f"rf-{cancellation['InvoiceNo']}"
        user = customer_key(cancellation["CustomerID"])
        order_events.append(
            _order_event(
                "RefundSucceeded",
                f"{refund_id}-succeeded",
                at,
                key=target,
                order_id=target,
                user_id=user,
                refund_id=refund_id,
                amount_fen=amount,
            )
        )
        refunds += 1

    not_cancelled = rows.filter(~pl.col("is_cancellation"))
    report = LoadReport(
        orders=invoices.height,
        order_lines=sold.height,
        customers=first_seen.height,
        refunds=refunds,
        rows_without_customer=rows.filter(pl.col("CustomerID").is_null()).height,
        rows_with_free_or_negative_price=with_customer.filter(pl.col("UnitPrice") <= 0).height,
        rows_with_negative_quantity_outside_cancellations=not_cancelled.filter(
            pl.col("CustomerID").is_not_null() & (pl.col("Quantity") <= 0) & (pl.col("UnitPrice") > 0)
        ).height,
        cancellations_without_earlier_order=orphaned,
    )
    return order_events, tracked, report


def load_online_retail(*, events_dir: Path, order_book_dir: Path, path: Path = DEFAULT_PATH) -> LoadReport:
    """Write the dataset into the lake (build with shop_timezone Europe/London to keep its calendar)."""
    order_events, tracked, report = build_rows(pl.read_parquet(path))
    write_order_events(order_book_dir, order_events)
    write_events(events_dir, tracked)
    # Years-old received dates lie outside any incremental lookback.
    request_full_refresh(events_dir.parent)
    return report
