"""The confluent-kafka adapter's own promise: a publish returns only once every record is acknowledged, and
fails with PublishFailed when they are not, even if librdkafka never reports on them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from ingestion.collector.errors import PublishFailed
from ingestion.collector.publisher import ConfluentEventPublisher
from shoploop.kafka import KafkaSettings, Topics


class SilentProducer:
    """A librdkafka producer whose broker never answers: records are taken, and no delivery report ever comes."""

    def __init__(self, *, acknowledges: bool) -> None:
        self.acknowledges = acknowledges
        self.reports: list[Callable[[Any, Any], None]] = []

    def produce(
        self, topic: str, value: bytes, key: bytes | None, *, partition: int, on_delivery: Any
    ) -> None:
        self.reports.append(on_delivery)

    def poll(self, timeout: float) -> int:
        served = 0
        while self.acknowledges and self.reports:
            self.reports.pop()(None, None)
            served += 1
        return served


def _started_publisher(producer: SilentProducer, *, timeout_s: float) -> ConfluentEventPublisher:
    publisher = ConfluentEventPublisher(KafkaSettings(bootstrap_servers="127.0.0.1:9"), timeout_s=timeout_s)
    publisher._producer = producer  # type: ignore[assignment]  # the port's fake, in place of librdkafka
    publisher._loop = asyncio.get_running_loop()
    publisher._partition_counts[Topics.EVENTS.name] = 4
    return publisher


async def test_a_publish_returns_once_every_record_is_acknowledged() -> None:
    producer = SilentProducer(acknowledges=True)
    publisher = _started_publisher(producer, timeout_s=5)

    await publisher.publish(Topics.EVENTS.name, [(b"device-lily", b'{"n":1}'), (b"device-lucy", b'{"n":2}')])

    assert producer.reports == []


async def test_a_publish_that_kafka_never_acknowledges_fails_after_its_timeout() -> None:
    publisher = _started_publisher(SilentProducer(acknowledges=False), timeout_s=0.05)

    with pytest.raises(PublishFailed):
        await asyncio.wait_for(publisher.publish(Topics.EVENTS.name, [(b"device-lily", b'{"n":1}')]), 5)
