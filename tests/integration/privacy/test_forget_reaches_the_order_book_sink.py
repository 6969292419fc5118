"""`privacy forget` also holds for the order book: order-core events of the forgotten shopper that are still on
`shoploop.orders` when she is forgotten — her order paid before, refunded after — never land in the lake through
the real `shoploop sink`, while another shopper's order does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pytest
from confluent_kafka import Producer

from ingestion.collector.identity import IdentityGraph, Sighting, anonymous, user
from ingestion.collector.settings import CollectorSettings
from shoploop.kafka import Topics
from shoploop.privacy import forget
from tests.support.sink import events_broker_fixture
from tests.support.stack import sink_worker, wait_for
from warehouse.lake import order_book_glob
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration

bootstrap = events_broker_fixture(partitions=1)


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


def _order_book_event_ids(order_book_dir: Path) -> list[str]:
    if not list(order_book_dir.glob("*/*.parquet")):
        return []
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select event_id from read_parquet(?) order by event_id", [order_book_glob(order_book_dir)]
        ).fetchall()
    return [str(row[0]) for row in rows]


def test_order_events_of_a_forgotten_shopper_that_reach_the_sink_after_the_erasure_never_land_in_the_lake(
    bootstrap: str, tmp_path: Path
) -> None:
    warehouse = WarehouseSettings(data_dir=tmp_path)
    collector = CollectorSettings(identity_database_url=f"sqlite:///{tmp_path / 'identity.db'}")
    graph = IdentityGraph.from_url(collector.identity_database_url)
    graph.resolve([Sighting(identities=(anonymous("phone-lily"), user("u-lily")), links=True)])
    placed_at = datetime.now(UTC) - timedelta(minutes=5)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    # Her lipstick order was placed and paid before she asked to be forgotten; the sink has not taken it yet.
    for value in (
        _order_event("lily-placed", "OrderPlaced", order_id="o-lily", user_id="u-lily", at=placed_at),
        _order_event("lily-paid", "OrderPaid", order_id="o-lily", user_id="u-lily", at=placed_at),
    ):
        producer.produce(Topics.ORDERS.name, value, b"o-lily")
    assert producer.flush(30) == 0

    forget("u-lily", collector=collector, warehouse=warehouse)

    # The order core refunds her order after the erasure; Ming orders.
    now = datetime.now(UTC)
    for value in (
        _order_event("lily-refunded", "RefundSucceeded", order_id="o-lily", user_id="u-lily", at=now),
        _order_event("ming-placed", "OrderPlaced", order_id="o-ming", user_id="u-ming", at=now),
    ):
        producer.produce(Topics.ORDERS.name, value, b"o-lily")  # one partition: Ming's is taken after hers
    assert producer.flush(30) == 0

    with sink_worker(bootstrap, tmp_path, log=tmp_path / "sink.log") as sink:

        def mings_order_landed() -> bool:
            assert sink.poll() is None, "the sink died"
            return bool(_order_book_event_ids(warehouse.order_book_dir))

        wait_for(mings_order_landed, timeout_s=120, what="the sink wrote Ming's order")

    assert _order_book_event_ids(warehouse.order_book_dir) == ["ming-placed"]
    assert "order_book_sink_dropped_erased" in (tmp_path / "sink.log").read_text()
