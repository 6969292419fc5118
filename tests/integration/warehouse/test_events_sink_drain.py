"""The real sink drains a backlog of collector-style records (many events each) into the lake once, and commits
what it wrote: a restarted sink reads only what came after, none of the backlog again."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pytest
from confluent_kafka import Producer

from ingestion.contract.event import bundle_event_values
from shoploop.broker import embedded_broker
from shoploop.kafka import KafkaSettings, Topics, ensure_topics
from tests.support.stack import shoploop_command, sink_environment, start_process, stop_process
from warehouse.lake import events_glob
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration

PARTITIONS = 4
EVENTS_A_RECORD = 25


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    with embedded_broker() as address:
        ensure_topics(KafkaSettings(bootstrap_servers=address, default_partitions=PARTITIONS))
        yield address


def _viewed(message_id: str, person: str) -> bytes:
    now = datetime.now(UTC).isoformat()
    return orjson.dumps(
        {
            "message_id": message_id,
            "type": "track",
            "event": "Product Viewed",
            "person_id": person,
            "anonymous_id": person,
            "timestamp": now,
            "original_timestamp": now,
            "received_at": now,
            "channel": "search",
            "source": "mini-program",
            "properties": {"sku": "85123A", "name": "WHITE HANGING HEART T-LIGHT HOLDER"},
        }
    )


def _send_records(bootstrap: str, prefix: str, records: int) -> set[str]:
    """`records` JSON-lines records of 25 events each, as the collector bundles a request's events; their ids."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    ids: set[str] = set()
    for number in range(records):
        message_ids = [f"{prefix}-{number}-{index}" for index in range(EVENTS_A_RECORD)]
        ids.update(message_ids)
        value = bundle_event_values([_viewed(message_id, f"p-{number % 50}") for message_id in message_ids])
        producer.produce(Topics.EVENTS.name, value, None, partition=number % PARTITIONS)
        producer.poll(0)
    assert producer.flush(60) == 0
    return ids


def _lake_ids(events_dir: Path) -> list[str]:
    if not list(events_dir.glob("*/*.parquet")):
        return []
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select message_id from read_parquet(?)", [events_glob(events_dir)]
        ).fetchall()
    return [str(message_id) for (message_id,) in rows]


def _events_taken(log: Path) -> int:
    """Events a sink has taken so far, written or dropped as duplicates (from its log lines)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return sum(
        int(duplicates) + int(written)
        for duplicates, written in re.findall(r"\bsink_wrote\s+duplicates=(\d+) events=(\d+)", text)
    )


def _wait_for(sink: subprocess.Popen[bytes], events_dir: Path, ids: set[str], *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not ids <= set(_lake_ids(events_dir)):
        assert sink.poll() is None, "the sink died"
        assert time.monotonic() < deadline, "the sink did not write every event"
        time.sleep(0.5)


def test_a_backlog_lands_once_and_a_restarted_sink_reads_only_what_came_after_it(
    bootstrap: str, tmp_path: Path
) -> None:
    events_dir = WarehouseSettings(data_dir=tmp_path).events_dir
    backlog = _send_records(bootstrap, "backlog", 2_000)  # 50,000 events waiting before the sink starts
    sink = start_process(
        shoploop_command("sink"), log=tmp_path / "sink.log", env=sink_environment(bootstrap, tmp_path)
    )
    try:
        _wait_for(sink, events_dir, backlog, timeout_s=180)
        time.sleep(1)  # let the last batch's commit go out before the stop
    finally:
        stop_process(sink)
    landed = _lake_ids(events_dir)
    assert len(landed) == len(backlog) == len(set(landed))

    restarted = start_process(
        shoploop_command("sink"), log=tmp_path / "restarted.log", env=sink_environment(bootstrap, tmp_path)
    )
    try:
        later = _send_records(bootstrap, "later", 4)
        _wait_for(restarted, events_dir, later, timeout_s=120)
    finally:
        stop_process(restarted)
    # Had the offsets not been committed after the writes, the restarted sink would have taken the backlog
    # again (and dropped it as duplicates) before the later events.
    assert _events_taken(tmp_path / "restarted.log") == len(later)
    assert sorted(_lake_ids(events_dir)) == sorted(backlog | later)
