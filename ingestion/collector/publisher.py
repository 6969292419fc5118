"""The port through which the collector hands events to Kafka, and its aiokafka adapter."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from ingestion.collector.errors import PublishFailed
from shoploop.kafka import KafkaSettings

log = structlog.get_logger(__name__)


class EventPublisher(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Hand (key, value) records to the broker; return only once it acknowledged all of them."""


class KafkaEventPublisher:
    """Produces with acks=all and waits for every acknowledgement; anything less raises PublishFailed."""

    def __init__(self, settings: KafkaSettings, *, timeout_s: float) -> None:
        self._settings = settings
        self._timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()
        self._partitioner = DefaultPartitioner()

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

    async def publish(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        if not records:
            return
        producer = await self._connected_producer()
        try:
            futures = await self._send_batched(producer, topic, records)
            await asyncio.wait_for(asyncio.gather(*futures), timeout=self._timeout_s)
        except (KafkaError, OSError, TimeoutError) as error:
            log.warning("kafka_publish_failed", topic=topic, error=repr(error))
            raise PublishFailed("the events could not be handed to Kafka; retry later") from error

    async def _send_batched(
        self, producer: AIOKafkaProducer, topic: str, records: Sequence[tuple[bytes, bytes]]
    ) -> list[asyncio.Future[object]]:
        """One record batch per partition instead of one send per event: Kafka's own partitioner picks
        the partition from the key, as a plain send would, so a person's events stay together."""
        partitions = sorted(await producer.partitions_for(topic))
        by_partition: dict[int, list[tuple[bytes, bytes]]] = {}
        for key, value in records:
            by_partition.setdefault(self._partitioner(key, partitions, partitions), []).append((key, value))
        futures: list[asyncio.Future[object]] = []
        for partition, partition_records in by_partition.items():
            batch = producer.create_batch()
            for key, value in partition_records:
                if batch.append(key=key, value=value, timestamp=None) is None:
                    # The batch is full: send it and start another.
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        return futures
