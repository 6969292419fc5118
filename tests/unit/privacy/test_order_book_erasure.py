"""After `privacy forget`, the order-book sink keeps every order-core event of the erased shopper out of the lake,
whatever its time — the erasure removed her order-book rows, and an order placed before it goes on after it (paid,
refunded): kept, those rows would be a payment and a refund of an order the warehouse no longer holds. Another
shopper's orders are kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson

from shoploop.tombstone import Tombstone
from streams.sink.agents import decode_order_events, write_new_order_events
from warehouse.dedup import LakeIds
from warehouse.erasure import LakeErasures, erase_people, write_tombstone
from warehouse.lake import ORDER_BOOK_PARTITION_KEY, order_book_glob

ERASED_AT = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
LILY = Tombstone(
    erased_at=ERASED_AT,
    people_until=ERASED_AT + timedelta(minutes=10),
    person_ids=frozenset({"phone-lily"}),
    ids=frozenset({"phone-lily", "u-lily"}),
)


def _order_event(event_id: str, event: str, *, order_id: str, user_id: str, at: datetime) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "event": event,
            "key": order_id,
            "occurred_at": at.isoformat(),
            "order_id": order_id,
            "user_id": user_id,
            "total_fen": 12900,
            "amount_fen": 12900,
        }
    )


def _lake_order_events(order_book_dir: Path) -> list[str]:
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select event_id from read_parquet(?) order by event_id", [order_book_glob(order_book_dir)]
        ).fetchall()
    return [str(row[0]) for row in rows]


def test_the_order_book_sink_keeps_out_every_order_event_of_an_erased_shopper_and_keeps_another_shoppers(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    order_book = lake / "order_book"
    write_tombstone(lake, LILY)
    # Lily's lipstick order was placed before she was forgotten, paid and refunded after; Ming ordered too.
    values = [
        _order_event(
            "lily-placed",
            "OrderPlaced",
            order_id="o-lily",
            user_id="u-lily",
            at=ERASED_AT - timedelta(hours=1),
        ),
        _order_event(
            "lily-paid", "OrderPaid", order_id="o-lily", user_id="u-lily", at=ERASED_AT + timedelta(minutes=1)
        ),
        _order_event(
            "lily-refunded",
            "RefundSucceeded",
            order_id="o-lily",
            user_id="u-lily",
            at=ERASED_AT + timedelta(days=3),
        ),
        _order_event(
            "ming-placed",
            "OrderPlaced",
            order_id="o-ming",
            user_id="u-ming",
            at=ERASED_AT - timedelta(hours=1),
        ),
    ]
    events, broken = decode_order_events(values, received_at=ERASED_AT + timedelta(days=3, seconds=2))
    assert broken == []
    erasures = LakeErasures(lake)
    seen = LakeIds(order_book, id_column="event_id", partition_key=ORDER_BOOK_PARTITION_KEY)

    written, _ = write_new_order_events(order_book, seen, events, erasures=erasures)

    assert written == 1
    assert _lake_order_events(order_book) == ["ming-placed"]
    assert (erasures.dropped_last, erasures.dropped_total) == (3, 3)


def test_the_order_book_sink_keeps_out_what_the_erasure_removed_from_the_lake(tmp_path: Path) -> None:
    """The sink's rule and the erasure's rewrite agree: the same order events are gone either way."""
    lake = tmp_path / "lake"
    values = [
        _order_event(
            "lily-placed",
            "OrderPlaced",
            order_id="o-lily",
            user_id="u-lily",
            at=ERASED_AT - timedelta(days=9),
        ),
        _order_event(
            "ming-placed",
            "OrderPlaced",
            order_id="o-ming",
            user_id="u-ming",
            at=ERASED_AT - timedelta(days=9),
        ),
    ]
    events, _ = decode_order_events(values, received_at=ERASED_AT - timedelta(days=9))
    rewritten = lake / "rewritten"
    write_new_order_events(
        rewritten, LakeIds(rewritten, id_column="event_id", partition_key=ORDER_BOOK_PARTITION_KEY), events
    )
    erase_people(rewritten, sorted(LILY.person_ids | LILY.ids))

    write_tombstone(lake, LILY)
    filtered = lake / "order_book"
    write_new_order_events(
        filtered,
        LakeIds(filtered, id_column="event_id", partition_key=ORDER_BOOK_PARTITION_KEY),
        events,
        erasures=LakeErasures(lake),
    )

    assert _lake_order_events(filtered) == _lake_order_events(rewritten) == ["ming-placed"]
