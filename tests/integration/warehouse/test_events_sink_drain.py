"""The real sink drains a backlog of collector-style records (many events each) into the lake once, and commits
what it wrote: a restarted sink reads only what came after, none of the backlog again."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from ingestion.contract.event import bundle_event_values
from shoploop.kafka import Topics
from tests.support.sink import events_broker_fixture, events_taken, lake_rows, viewed
from tests.support.stack import shoploop_command, sink_environment, start_process, stop_process
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration

PARTITIONS = 4
EVENTS_A_RECORD = 25


bootstrap = events_broker_fixture(partitions=PARTITIONS)
PROPERTIES = {"sku": "85123A", "name": "WHITE HANGING HEART T-LIGHT HOLDER"}


def _send_records(bootstrap: str, prefix: str, records: int) -> set[str]:
    """`records` JSON-lines records of 25 events each, as the collector bundles a request's events; their ids."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    ids: set[str] = set()
    for number in range(records):
        message_ids = [f"{prefix}-{number}-{index}" for index in range(EVENTS_A_RECORD)]
        ids.update(message_ids)
        value = bundle_event_values(
            [viewed(message_id, f"p-{number % 50}", properties=PROPERTIES) for message_id in message_ids]
        )
        producer.produce(Topics.EVENTS.name, value, None, partition=number % PARTITIONS)
        producer.poll(0)
    assert producer.flush(60) == 0
    return ids


def _lake_ids(events_dir: Path) -> list[str]:
    return [str(message_id) for (message_id,) in lake_rows(events_dir, "message_id")]


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
    assert events_taken(tmp_path / "restarted.log") == len(later)
    assert sorted(_lake_ids(events_dir)) == sorted(backlog | later)
