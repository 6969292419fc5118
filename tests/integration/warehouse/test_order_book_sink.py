"""The real sink worker takes the order core's outbox topic into the lake exactly once, and dbt builds on it."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import orjson
import pytest
from kafka import KafkaProducer

from shoploop.broker import embedded_broker
from shoploop.kafka import KafkaSettings, Topics, ensure_topics
from tests.support.stack import shoploop_command, sink_environment, start_process, stop_process
from warehouse.lake import order_book_glob
from warehouse.publish import WarmDbt, build_and_publish
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration


def _outbox_messages() -> list[tuple[bytes, bytes]]:
    messages = []
    for number in range(1, 21):
        order_id, at = f"o-{number}", f"2024-11-11T0{number % 10}:00:00+00:00"
        common = {"key": order_id, "order_id": order_id, "user_id": f"u-{number % 7}", "occurred_at": at}
        messages.append(
            {
                "event_id": f"{order_id}-placed",
                "event": "OrderPlaced",
                "total_fen": 100 * number,
                "discount_fen": 0,
                "coupon_id": None,
                "lines": [["85123A", number, 100]],
                **common,
            }
        )
        messages.append(
            {
                "event_id": f"{order_id}-paid",
                "event": "OrderPaid",
                "total_fen": 100 * number,
                "transaction_id": f"tx-{number}",
                **common,
            }
        )
        if number % 5 == 0:
            messages.append(
                {
                    "event_id": f"{order_id}-refunded",
                    "event": "RefundSucceeded",
                    "refund_id": f"rf-{number}",
                    "amount_fen": 100 * number,
                    **common,
                }
            )
    return [(str(m["order_id"]).encode(), orjson.dumps(m)) for m in messages]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("order-book-sink")


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    with embedded_broker() as address:
        ensure_topics(KafkaSettings(bootstrap_servers=address, default_partitions=2))
        yield address


def _start_sink(bootstrap: str, data_dir: Path, *, log_name: str = "sink.log") -> subprocess.Popen[bytes]:
    return start_process(
        shoploop_command("sink"), log=data_dir / log_name, env=sink_environment(bootstrap, data_dir)
    )


def _order_events_taken(log: Path) -> int:
    """Order-book events a sink has taken so far, written or dropped as duplicates (from its log lines)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return sum(
        int(duplicates) + int(written)
        for duplicates, written in re.findall(r"order_book_sink_wrote\s+duplicates=(\d+) events=(\d+)", text)
    )


def _lake_rows(data_dir: Path) -> tuple[int, int]:
    glob = order_book_glob(WarehouseSettings(data_dir=data_dir).order_book_dir)
    try:
        with duckdb.connect() as connection:
            row = connection.execute(
                "select count(*), count(distinct event_id) from read_parquet(?)", [glob]
            ).fetchone()
    except duckdb.IOException:
        return 0, 0
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _send(bootstrap: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for key, value in messages:
        producer.send(Topics.ORDERS.name, key=key, value=value)
    producer.flush()
    producer.close()


def test_outbox_events_relayed_twice_and_a_restarted_sink_land_in_the_lake_once(
    bootstrap: str, data_dir: Path, warm_dbt: WarmDbt
) -> None:
    messages = _outbox_messages()
    sink = _start_sink(bootstrap, data_dir)
    try:
        # The relay crashed after Kafka's ack and sent its whole batch again.
        _send(bootstrap, messages)
        _send(bootstrap, messages)
        deadline = time.monotonic() + 120
        while _lake_rows(data_dir)[1] < len(messages):
            assert sink.poll() is None, "the sink died"
            assert time.monotonic() < deadline, f"the lake has {_lake_rows(data_dir)} of {len(messages)}"
            time.sleep(0.5)
    finally:
        stop_process(sink)

    # A second sink process (new consumer group state is kept by Kafka; the lake is the record of what was
    # written) gets the first ten events once more and writes nothing new.
    restarted = _start_sink(bootstrap, data_dir, log_name="restarted-sink.log")
    try:
        _send(bootstrap, messages[:10])
        # Until the restarted sink has taken at least those ten (written or recognised as duplicates).
        deadline = time.monotonic() + 120
        while _order_events_taken(data_dir / "restarted-sink.log") < 10:
            assert restarted.poll() is None, "the restarted sink died"
            assert time.monotonic() < deadline, "the restarted sink did not take the re-sent events"
            time.sleep(0.2)
    finally:
        stop_process(restarted)
    assert _lake_rows(data_dir) == (len(messages), len(messages))

    warehouse = WarehouseSettings(data_dir=data_dir)
    assert build_and_publish(warehouse, warm_dbt=warm_dbt) == 0
    with duckdb.connect(str(warehouse.warehouse_path), read_only=True) as connection:
        orders = connection.execute(
            "select count(*) filter (where is_paid), sum(net_paid_fen) from fct_orders"
        ).fetchone()
    paid = sum(100 * n for n in range(1, 21))
    refunded = sum(100 * n for n in range(1, 21) if n % 5 == 0)
    assert orders == (20, paid - refunded)
