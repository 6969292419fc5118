"""The real sink worker names each events file by the Kafka partitions its rows came from, and a restarted worker
that gets the same messages again, checking only the files of those partitions, writes nothing twice."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from shoploop.kafka import Topics
from tests.support.sink import events_broker_fixture, events_taken, lake_rows, viewed
from tests.support.stack import shoploop_command, sink_environment, start_process, stop_process
from warehouse.lake import KafkaOrigin
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration

PARTITIONS = 2
# Ada and Chen shop on partition 0, Lily and Sun on partition 1: each message is produced to its shopper's.
SHOPPERS = {"p-ada": 0, "p-chen": 0, "p-lily": 1, "p-sun": 1}


bootstrap = events_broker_fixture(partitions=PARTITIONS)


def _messages() -> list[tuple[str, bytes]]:
    return [(person, viewed(f"m-{person}-{number}", person)) for number in range(10) for person in SHOPPERS]


def _send(bootstrap: str, messages: list[tuple[str, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for person, value in messages:
        producer.send(Topics.EVENTS.name, key=person.encode(), value=value, partition=SHOPPERS[person])
    producer.flush()
    producer.close()


def _start_sink(bootstrap: str, data_dir: Path, log_name: str) -> subprocess.Popen[bytes]:
    return start_process(
        shoploop_command("sink"), log=data_dir / log_name, env=sink_environment(bootstrap, data_dir)
    )


def _lake(events_dir: Path) -> list[tuple[str, str, str]]:
    """(file name, message_id, person_id) of every row in the lake."""
    return [
        (str(name), str(message_id), str(person))
        for name, message_id, person in lake_rows(events_dir, "filename", "message_id", "person_id")
    ]


def test_each_file_records_its_rows_partitions_and_a_restarted_sink_writes_a_redelivery_once(
    bootstrap: str, tmp_path: Path
) -> None:
    events_dir = WarehouseSettings(data_dir=tmp_path).events_dir
    messages = _messages()
    sink = _start_sink(bootstrap, tmp_path, "sink.log")
    try:
        _send(bootstrap, messages)
        _send(bootstrap, messages[:8])  # the collector's retries: the same messages on the same partitions
        deadline = time.monotonic() + 120
        while len({message_id for _, message_id, _ in _lake(events_dir)}) < len(messages):
            assert sink.poll() is None, "the sink died"
            assert time.monotonic() < deadline, "the sink did not write every message"
            time.sleep(0.5)
    finally:
        stop_process(sink)

    lake = _lake(events_dir)
    assert len(lake) == len(messages)
    for name, _, person in lake:
        origin = KafkaOrigin.of_file(name)
        assert origin is not None and origin.count == PARTITIONS, name
        assert SHOPPERS[person] in origin.partitions, (name, person)

    # A new process knows only the lake; Lily's and Sun's partition brings the first messages once more.
    restarted = _start_sink(bootstrap, tmp_path, "restarted-sink.log")
    try:
        again = [(person, value) for person, value in messages if SHOPPERS[person] == 1]
        _send(bootstrap, again)
        deadline = time.monotonic() + 120
        while events_taken(tmp_path / "restarted-sink.log") < len(again):
            assert restarted.poll() is None, "the restarted sink died"
            assert time.monotonic() < deadline, "the restarted sink did not take the messages sent again"
            time.sleep(0.2)
    finally:
        stop_process(restarted)
    assert sorted(message_id for _, message_id, _ in _lake(events_dir)) == sorted(
        orjson.loads(value)["message_id"] for _, value in messages
    )
