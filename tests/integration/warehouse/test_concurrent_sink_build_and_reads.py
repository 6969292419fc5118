"""The sink writes, dbt rebuilds and publishes, the compactor merges, and dashboards read, all at the same time: no
error, no torn read.

The real `shoploop sink` worker consumes the embedded broker while a producer keeps sending shoppers' events and
the order core's outbox events (some twice, as retries do); `build_and_publish` runs again and again (each build
after the first continues incrementally from the published file); a reader attaches the published file
read-only in a fresh in-memory DuckDB for every query, as dashboards/queries.py does; the compaction loop
(`shoploop lake compact --repeat`) merges the sink's files every second and deletes merged-away ones after a grace
period shorter than the test, so builds run over merges and deletions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import duckdb
import orjson
import pytest
from kafka import KafkaProducer

from dashboards.queries import read_only
from shoploop.broker import embedded_broker
from shoploop.kafka import KafkaSettings, Topics, ensure_topics
from tests.support.stack import shoploop_command, sink_environment, start_process, stop_process
from warehouse.compaction import run_periodically
from warehouse.lake import events_glob, order_book_glob
from warehouse.publish import BuildFile, WarmDbt, build_and_publish, prepare_next_build
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration

# With builds of the session's warm dbt (10-20 s on two busy cores), two or three publish in this time.
RUN_S = 15.0
PRICE_FEN = 1999


@dataclass
class Sent:
    message_ids: set[str] = field(default_factory=set)
    order_ids: list[str] = field(default_factory=list)
    refunded_order_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Snapshot:
    event_count: int
    staged_events: int
    paid_orders: int
    payment_orders: int
    net_gmv_fen: int
    paid_fen: int
    refunded_fen: int
    funnel_orders: int
    # Sessions are built incrementally per shopper: their count and their events must equal a full rebuild's.
    sessions: int
    session_events: int
    # The funnel and the product hot list are incremental by shop date.
    viewed_shoppers: int
    product_views: int
    product_revenue_fen: int


def _event(message_id: str, name: str, person: str, properties: dict[str, object]) -> bytes:
    now = datetime.now(UTC).isoformat()
    return orjson.dumps(
        {
            "message_id": message_id,
            "type": "track",
            "event": name,
            "person_id": person,
            "anonymous_id": person,
            "user_id": f"u-{person}",
            "timestamp": now,
            "original_timestamp": now,
            "sent_at": now,
            "received_at": now,
            "scene": 1007,
            "channel": "share_single_chat",
            "source": "mini-program",
            "properties": properties,
            "traits": {},
            "context": {"wechat": {"scene": 1007}},
        }
    )


def _outbox(event_id: str, name: str, order_id: str, person: str, **fields: object) -> bytes:
    common = {"key": order_id, "order_id": order_id, "user_id": f"u-{person}"}
    return orjson.dumps(
        {
            "event_id": event_id,
            "event": name,
            "occurred_at": datetime.now(UTC).isoformat(),
            **common,
            **fields,
        }
    )


def _produce(bootstrap: str, sent: Sent, stop: threading.Event) -> None:
    """Shoppers view, add and pay; the order core places, confirms and sometimes refunds; a few retries."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    number = 0
    while not stop.is_set():
        number += 1
        person, order_id = f"lily-{number % 40}", f"o-{number}"
        product = {"product_id": "85123A", "price": PRICE_FEN / 100, "quantity": 1}
        events = [
            (f"m-{number}-view", "Product Viewed", product),
            (f"m-{number}-add", "Product Added", product),
            (
                f"m-{number}-paid",
                "Order Completed",
                {"order_id": order_id, "total": PRICE_FEN / 100, "products": [product]},
            ),
        ]
        for message_id, name, properties in events:
            value = _event(message_id, name, person, properties)
            producer.send(Topics.EVENTS.name, key=person.encode(), value=value)
            if number % 7 == 0:  # the client retried
                producer.send(Topics.EVENTS.name, key=person.encode(), value=value)
            sent.message_ids.add(message_id)
        outbox = [
            _outbox(
                f"{order_id}-placed",
                "OrderPlaced",
                order_id,
                person,
                total_fen=PRICE_FEN,
                discount_fen=0,
                coupon_id=None,
                lines=[["85123A", 1, PRICE_FEN]],
            ),
            _outbox(
                f"{order_id}-paid",
                "OrderPaid",
                order_id,
                person,
                total_fen=PRICE_FEN,
                transaction_id=order_id,
            ),
        ]
        if number % 5 == 0:
            outbox.append(
                _outbox(
                    f"{order_id}-refunded",
                    "RefundSucceeded",
                    order_id,
                    person,
                    refund_id=f"rf-{number}",
                    amount_fen=PRICE_FEN,
                )
            )
            sent.refunded_order_ids.append(order_id)
        for value in outbox:
            producer.send(Topics.ORDERS.name, key=order_id.encode(), value=value)
        if number % 9 == 0:  # the outbox relay re-sent its batch after a crash
            for value in outbox:
                producer.send(Topics.ORDERS.name, key=order_id.encode(), value=value)
        sent.order_ids.append(order_id)
        producer.flush()
        time.sleep(0.05)
    producer.close()


def _snapshot(warehouse_path: Path) -> Snapshot:
    """Everything from one attach of the published file, as one dashboard query sees it."""
    with read_only(warehouse_path) as connection:
        row = connection.execute(
            """
            select
                (select event_count from meta_build_info),
                (select count(*) from staging.stg_lake__events),
                (select count(*) filter (where is_paid) from fct_orders),
                (select count(distinct order_id) from fct_payments),
                (select coalesce(sum(net_paid_fen), 0) from fct_orders),
                (select coalesce(sum(amount_fen), 0) from fct_payments),
                (select coalesce(sum(amount_fen), 0) from fct_refunds),
                (select coalesce(sum(orders), 0) from fct_funnel_daily),
                (select count(*) from fct_sessions),
                (select coalesce(sum(events), 0) from fct_sessions),
                (select coalesce(sum(viewed_shoppers), 0) from fct_funnel_daily),
                (select coalesce(sum(views), 0) from fct_product_daily),
                (select coalesce(sum(revenue_fen), 0) from fct_product_daily)
            """
        ).fetchone()
    assert row is not None
    return Snapshot(*(int(value) for value in row))


def _read_continuously(
    warehouse_path: Path, stop: threading.Event, seen: list[Snapshot], errors: list[str]
) -> None:
    while not stop.is_set():
        if warehouse_path.exists():
            try:
                seen.append(_snapshot(warehouse_path))
            except Exception as error:  # any failure of a read is what this test looks for
                errors.append(f"read: {type(error).__name__}: {error}")
        time.sleep(0.05)


def _build_continuously(
    settings: WarehouseSettings, warm_dbt: WarmDbt, stop: threading.Event, codes: list[int]
) -> None:
    # As `run_periodically` builds: one build file, the next build's copy prepared right after each publish.
    with BuildFile(settings.build_dir) as build_file:
        while not stop.is_set():
            codes.append(build_and_publish(settings, warm_dbt=warm_dbt, build_file=build_file))
            prepare_next_build(settings, build_file)


def _lake_distinct(glob: str, column: str) -> int:
    try:
        with duckdb.connect() as connection:
            row = connection.execute(
                f"select count(distinct {column}) from read_parquet(?)", [glob]
            ).fetchone()
    except duckdb.IOException:
        return 0
    return int(row[0]) if row else 0


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    with embedded_broker() as address:
        ensure_topics(KafkaSettings(bootstrap_servers=address, default_partitions=2))
        yield address


def test_the_sink_rebuilds_and_dashboard_reads_run_together_without_errors_or_inconsistent_numbers(
    bootstrap: str, tmp_path: Path, warm_dbt: WarmDbt
) -> None:
    settings = WarehouseSettings(data_dir=tmp_path)
    sink = start_process(
        shoploop_command("sink"), log=tmp_path / "sink.log", env=sink_environment(bootstrap, tmp_path)
    )
    sent = Sent()
    snapshots: list[Snapshot] = []
    errors: list[str] = []
    build_codes: list[int] = []
    stop = threading.Event()
    # Merge every second, four files a tier; the grace is below the settings' minimum (a minute) so that deletions
    # happen within the test, and still above the longest read of a build here.
    compacting = settings.model_copy(
        update={"compaction_min_files": 4, "compaction_grace_s": 15.0, "compaction_closed_after_s": 3600.0}
    )
    workers = [
        threading.Thread(target=_produce, args=(bootstrap, sent, stop)),
        threading.Thread(target=run_periodically, args=(compacting,), kwargs={"every_s": 1.0, "stop": stop}),
        threading.Thread(target=_build_continuously, args=(settings, warm_dbt, stop, build_codes)),
        threading.Thread(target=_read_continuously, args=(settings.warehouse_path, stop, snapshots, errors)),
    ]
    try:
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + RUN_S
        # At least two publishes while everything runs.
        while time.monotonic() < deadline or len(build_codes) < 2:
            assert sink.poll() is None, "the sink died"
            assert time.monotonic() < deadline + 120, "fewer than two builds finished"
            time.sleep(0.5)
        stop.set()
        for worker in workers:
            worker.join(timeout=300)

        # Everything sent reaches the lake once, with the sink still running.
        expected_events, expected_outbox = (
            len(sent.message_ids),
            2 * len(sent.order_ids) + len(sent.refunded_order_ids),
        )
        arrived = time.monotonic() + 60
        while (
            _lake_distinct(events_glob(settings.events_dir), "message_id") < expected_events
            or _lake_distinct(order_book_glob(settings.order_book_dir), "event_id") < expected_outbox
        ):
            assert time.monotonic() < arrived, "the lake did not catch up with what was sent"
            time.sleep(0.5)
    finally:
        stop.set()
        stop_process(sink, grace_s=30)

    assert errors == []
    assert build_codes and all(code == 0 for code in build_codes)
    assert list(settings.events_dir.glob("*=*/compact-t*.parquet")), "the compactor merged no events"
    assert list(settings.order_book_dir.glob("*=*/compact-t*.parquet")), (
        "the compactor merged no order events"
    )
    assert len(snapshots) > 10
    for snapshot in snapshots:
        assert snapshot.event_count == snapshot.staged_events
        assert snapshot.paid_orders == snapshot.payment_orders
        assert snapshot.net_gmv_fen == snapshot.paid_fen - snapshot.refunded_fen
        assert snapshot.funnel_orders <= snapshot.event_count
        assert snapshot.session_events == snapshot.staged_events
    for earlier, later in pairwise(snapshots):
        assert later.event_count >= earlier.event_count
        assert later.paid_orders >= earlier.paid_orders

    # A last incremental build over the settled lake holds everything sent exactly once, as a full rebuild does.
    assert build_and_publish(settings, warm_dbt=warm_dbt) == 0
    incremental = _snapshot(settings.warehouse_path)
    paid = len(sent.order_ids)
    assert incremental.event_count == expected_events
    assert incremental.paid_orders == paid
    assert incremental.net_gmv_fen == PRICE_FEN * (paid - len(sent.refunded_order_ids))
    assert build_and_publish(settings, full_refresh=True, warm_dbt=warm_dbt) == 0
    assert _snapshot(settings.warehouse_path) == incremental
