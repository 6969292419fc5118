"""The port through which the collector hands events to Kafka, and its aiokafka adapter."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Protocol

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2

from ingestion.collector.errors import PublishFailed
from ingestion.contract.event import bundle_event_values
from shoploop.kafka import KafkaSettings

log = structlog.get_logger(__name__)

# A bundle stays well under Apache Kafka's default message.max.bytes (1 MB).
MAX_BUNDLE_BYTES = 512 * 1024


@functools.lru_cache(maxsize=1 << 16)
def partition_for(key: bytes, partition_count: int) -> int:
    """Kafka's default partitioner (murmur2 of the key), cached: aiokafka's pure-Python murmur2 costs
    microseconds a call and the same people come back request after request."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partition_count


class EventPublisher(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(
        self, topic: str, records: Sequence[tuple[bytes, bytes]], *, bundle: bool = False
    ) -> None:
        """Hand (key, value) records to the broker; return only once it acknowledged all of them.

        With `bundle`, the values whose keys share a partition travel as one record of JSON lines
        (see `ingestion.contract.event.event_values`).
        """


class KafkaEventPublisher:
    """Produces with acks=all and waits for every acknowledgement; anything less raises PublishFailed."""

    def __init__(self, settings: KafkaSettings, *, timeout_s: float) -> None:
        self._settings = settings
        self._timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        try:
            await self._connected_producer()
        except PublishFailed:
            # The broker may come up after the collector; the first request retries the connection.
            log.warning("kafka_not_reachable_at_start", bootstrap_servers=self._settings.bootstrap_servers)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _connected_producer(self) -> AIOKafkaProducer:
        async with self._starting:
            if self._producer is not None:
                return self._producer
            producer = AIOKafkaProducer(
                bootstrap_servers=self._settings.bootstrap_servers,
                acks="all",
                linger_ms=2,
                request_timeout_ms=int(self._timeout_s * 1000),
                max_request_size=2 * 1024 * 1024,
            )
            try:
                await asyncio.wait_for(producer.start(), timeout=self._timeout_s)
            except (KafkaError, OSError, TimeoutError) as error:
                await producer.stop()
                raise PublishFailed(f"cannot reach Kafka at {self._settings.bootstrap_servers}") from error
            self._producer = producer
            return producer

    async def publish(
        self, topic: str, records: Sequence[tuple[bytes, bytes]], *, bundle: bool = False
    ) -> None:
        if not records:
            return
        producer = await self._connected_producer()
        try:
            partition_count = len(await producer.partitions_for(topic))
            to_send = records_by_partition(records, partition_count, bundle=bundle)
            # send(), not a batch of our own per request: the producer appends the records of every request in
            # flight to the partition's open batch, so concurrent requests share produce requests.
            futures = [
                await producer.send(topic, value, key=key, partition=partition)
                for partition, partition_records in to_send.items()
                for key, value in partition_records
            ]
            await asyncio.wait_for(asyncio.gather(*futures), timeout=self._timeout_s)
        except (KafkaError, OSError, TimeoutError) as error:
            log.warning("kafka_publish_failed", topic=topic, error=repr(error))
            raise PublishFailed("the events could not be handed to Kafka; retry later") from error


def records_by_partition(
    records: Sequence[tuple[bytes, bytes]], partition_count: int, *, bundle: bool
) -> dict[int, list[tuple[bytes | None, bytes]]]:
    """The records each partition receives: as given, or bundled into JSON-lines records per partition."""
    by_partition: dict[int, list[tuple[bytes, bytes]]] = {}
    for key, value in records:
        by_partition.setdefault(partition_for(key, partition_count), []).append((key, value))
    return {
        partition: _bundled(partition_records) if bundle else list(partition_records)
        for partition, partition_records in by_partition.items()
    }


def _bundled(records: list[tuple[bytes, bytes]]) -> list[tuple[bytes | None, bytes]]:
    """The records of one partition as few JSON-lines records as the size cap allows; a record keeps its
    person's key when it carries one person's events only."""
    bundles: list[tuple[bytes | None, bytes]] = []
    start, size = 0, 0
    for index, (_, value) in enumerate(records):
        if index > start and size + len(value) + 1 > MAX_BUNDLE_BYTES:
            bundles.append(_one_bundle(records[start:index]))
            start, size = index, 0
        size += len(value) + 1
    bundles.append(_one_bundle(records[start:]))
    return bundles


def _one_bundle(records: list[tuple[bytes, bytes]]) -> tuple[bytes | None, bytes]:
    keys = {key for key, _ in records}
    return (keys.pop() if len(keys) == 1 else None), bundle_event_values([value for _, value in records])
