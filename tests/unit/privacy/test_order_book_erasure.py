"""After `privacy forget`, the order-book sink keeps every order-core event of the erased shopper out of the lake,
whatever its time — the erasure removed her order-book rows, and an order placed before it goes on after it (paid,
refunded): kept, those rows would be a payment and a refund of an order the warehouse no longer holds. Another
shopper's orders are kept."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pytest

from shoploop.tombstone import Tombstone
from streams.sink.agents import decode_order_events, write_new_order_events
from warehouse.compaction import compact_partition
from warehouse.dedup import LakeIds
from warehouse.erasure import LakeErasures, erase_people, group_buy_without_erased_members, write_tombstone
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


def _group_buy_completed(event_id: str, *, members: dict[str, str], at: datetime) -> bytes:
    """The order core's GroupBuyCompleted as its outbox relays it: no user of its own, the members in its payload."""
    return orjson.dumps(
        {
            "event_id": event_id,
            "event": "GroupBuyCompleted",
            "key": "gb-lipstick",
            "occurred_at": at.isoformat(),
            "group_id": "gb-lipstick",
            "deal_id": "gd-lipstick",
            "member_user_ids": list(members),
            "order_ids": list(members.values()),
        }
    )


def _bargain_cut(cut_no: int, *, helper: str, at: datetime) -> bytes:
    """A cut a friend (`helper`) made in Ming's bargain, as the outbox relays it."""
    return orjson.dumps(
        {
            "event_id": f"cut-{cut_no}",
            "event": "BargainCut",
            "key": "bg-ming",
            "occurred_at": at.isoformat(),
            "bargain_id": "bg-ming",
            "user_id": "u-ming",
            "helper_user_id": helper,
            "cut_no": cut_no,
            "amount_fen": 500,
            "price_fen": 9000 - 500 * cut_no,
        }
    )


def _lake_written_then_erased(lake: Path, values: list[bytes], *, at: datetime, way: str) -> Path:
    """The order book after `privacy forget` erased Lily, `way` "rewrite" (the rows landed before, the erasure
    rewrote them) or "sink" (they reached the sink after the tombstone)."""
    order_book = lake / "order_book"
    events, broken = decode_order_events(values, received_at=at)
    assert broken == []
    seen = LakeIds(order_book, id_column="event_id", partition_key=ORDER_BOOK_PARTITION_KEY)
    if way == "rewrite":
        write_new_order_events(order_book, seen, events)
        write_tombstone(lake, LILY)
        erase_people(order_book, sorted(LILY.person_ids | LILY.ids))
    else:
        write_tombstone(lake, LILY)
        write_new_order_events(order_book, seen, events, erasures=LakeErasures(lake))
    return order_book


def _lake_payloads(order_book_dir: Path) -> list[dict[str, object]]:
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select payload from read_parquet(?) order by event_id", [order_book_glob(order_book_dir)]
        ).fetchall()
    return [orjson.loads(row[0]) for row in rows]


@pytest.mark.parametrize("way", ["rewrite", "sink"])
def test_a_group_buy_she_completed_with_others_stays_in_the_lake_without_her_id_or_her_order(
    tmp_path: Path, way: str
) -> None:
    # Lily, Ming and Wei bought the lipstick together; the group completed the day before she was forgotten.
    completed = _group_buy_completed(
        "group-completed",
        members={"u-lily": "o-lily", "u-ming": "o-ming", "u-wei": "o-wei"},
        at=ERASED_AT - timedelta(days=1),
    )
    order_book = _lake_written_then_erased(
        tmp_path / "lake", [completed], at=ERASED_AT - timedelta(days=1), way=way
    )

    (group,) = _lake_payloads(order_book)
    assert group["member_user_ids"] == ["u-ming", "u-wei"]
    assert group["order_ids"] == ["o-ming", "o-wei"]
    assert group["erased_members"] == 1
    assert b"lily" not in orjson.dumps(group)


def test_taking_an_erased_member_out_of_a_group_buy_leaves_one_without_her_untouched() -> None:
    payload = orjson.dumps(
        {
            "event": "GroupBuyCompleted",
            "member_user_ids": ["u-ming", "u-wei"],
            "order_ids": ["o-ming", "o-wei"],
        }
    ).decode()

    assert group_buy_without_erased_members(payload, LILY.ids) is None


@pytest.mark.parametrize("way", ["rewrite", "sink"])
def test_a_cut_she_made_in_a_friends_bargain_stays_the_friends_without_her_id(
    tmp_path: Path, way: str
) -> None:
    # Ming's bargain: Lily made the first cut, Wei the second.
    at = ERASED_AT - timedelta(days=2)
    cuts = [_bargain_cut(1, helper="u-lily", at=at), _bargain_cut(2, helper="u-wei", at=at)]
    order_book = _lake_written_then_erased(tmp_path / "lake", cuts, at=at, way=way)

    payloads = _lake_payloads(order_book)
    assert [(cut["helper_user_id"], cut["amount_fen"]) for cut in payloads] == [
        ("erased:1", 500),
        ("u-wei", 500),
    ]
    assert b"lily" not in orjson.dumps(payloads)


def test_a_compaction_that_reads_others_rows_naming_her_after_the_tombstone_writes_them_without_her(
    tmp_path: Path,
) -> None:
    """The race the rewrite cannot see: a merge that took the lake after the tombstone but read its files before
    the rewrite reached them. It drops her own rows by the tombstone, and takes her out of the others' too."""
    lake = tmp_path / "lake"
    order_book = lake / "order_book"
    completed = _group_buy_completed(
        "group-completed",
        members={"u-lily": "o-lily", "u-ming": "o-ming", "u-wei": "o-wei"},
        at=ERASED_AT - timedelta(days=1),
    )
    cut = _bargain_cut(1, helper="u-lily", at=ERASED_AT - timedelta(days=1))
    seen = LakeIds(order_book, id_column="event_id", partition_key=ORDER_BOOK_PARTITION_KEY)
    for value in (completed, cut):  # two sink batches: two small files in one partition
        events, _ = decode_order_events([value], received_at=ERASED_AT - timedelta(days=1))
        write_new_order_events(order_book, seen, events)
    write_tombstone(lake, LILY)
    (partition,) = order_book.glob("*=*")

    result = compact_partition(
        partition,
        id_column="event_id",
        order_column="received_at",
        min_files=2,
        closed_after_s=0,
        grace_s=0,
        erasures=LakeErasures(lake),
    )
    compact_partition(
        partition, id_column="event_id", order_column="received_at", grace_s=0, now=time.time() + 1
    )

    assert result.merges == 1 and len(list(partition.glob("*.parquet"))) == 1
    bargain_cut, group = _lake_payloads(order_book)  # by event_id
    assert (group["member_user_ids"], group["order_ids"]) == (["u-ming", "u-wei"], ["o-ming", "o-wei"])
    assert bargain_cut["helper_user_id"] == "erased:1"
