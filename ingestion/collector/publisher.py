"""The port through which the collector hands events to Kafka, and its adapters: confluent-kafka (librdkafka,
the collector's default) and aiokafka.

Measured in the same run by `bench/ingest.py`: librdkafka builds, sends and acknowledges produce requests in
its own native threads, outside the GIL, so the collector's event loop spends a few microseconds per record
where aiokafka's pure-Python batching, protocol encoding and socket writes took a fifth of a worker's CPU.
"""

from __future__ import annotations

import asyncio
import collections
import functools
from collections.abc import Sequence
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2
from confluent_kafka import KafkaError as ConfluentKafkaError
from confluent_kafka import KafkaException, Producer

from ingestion.collector.errors import PublishFailed
from ingestion.contract.event import bundle_event_values
from shoploop.kafka import KafkaSettings, Topics

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


class ConfluentEventPublisher:
    """Produces with librdkafka, acks=all, and waits for every delivery report; anything less raises PublishFailed.

    librdkafka connects, reconnects and retries on its own; a record it cannot deliver within `timeout_s`
    (`message.timeout.ms`) is reported failed, so a broker outage answers 503 and the clients retry.

    Delivery reports are served on the event loop itself (`producer.poll(0)` every `poll_interval_s` while a
    publish awaits its acknowledgements), not by a thread of ours: librdkafka hands each report to Python under
    the GIL, and a thread had to win the GIL from the busy event loop once per report, each time waiting out
    the interpreter's switch interval (5 ms). Requests waited for their acknowledgements behind that.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        timeout_s: float,
        linger_ms: float = 5.0,
        poll_interval_s: float = 0.001,
    ) -> None:
        self._settings = settings
        self._timeout_s = timeout_s
        self._linger_ms = linger_ms
        self._poll_interval_s = poll_interval_s
        self._producer: Producer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._partition_counts: dict[str, int] = {}
        # Publishes waiting for their acknowledgements, and the scheduled poll that serves them.
        self._awaiting = 0
        self._next_poll: asyncio.TimerHandle | None = None
        # Delivery reports, appended by librdkafka's callbacks (during a poll on the loop, or a flush in stop()).
        self._reports: collections.deque[tuple[_Acknowledgements, ConfluentKafkaError | None]] = (
            collections.deque()
        )

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        timeout_ms = int(self._timeout_s * 1000)
        self._producer = Producer(
            {
                "bootstrap.servers": self._settings.bootstrap_servers,
                "acks": "all",
                "linger.ms": self._linger_ms,
                "message.timeout.ms": timeout_ms,
                "request.timeout.ms": timeout_ms,
                "message.max.bytes": 2 * 1024 * 1024,
                "socket.nagle.disable": True,
            }
        )
        try:
            await self._partition_count(Topics.EVENTS.name)
        except PublishFailed:
            log.warning("kafka_not_reachable_at_start", bootstrap_servers=self._settings.bootstrap_servers)

    async def stop(self) -> None:
        producer = self._producer
        if producer is None:
            return
        if self._next_poll is not None:
            self._next_poll.cancel()
            self._next_poll = None
        await asyncio.to_thread(producer.flush, self._timeout_s)
        self._settle_reports()  # the reports the flush served
        # Closed here, not left to garbage collection: a failed publish's traceback keeps a reference to the
        # producer, which would otherwise stay connected (and reconnect to a broker that is gone) for good.
        await asyncio.to_thread(producer.close)
        self._producer = None

    def _poll(self) -> None:
        """On the event loop: serve librdkafka's delivery reports, settle the publishes they complete, and
        come back while any publish still waits."""
        self._next_poll = None
        producer = self._producer
        if producer is None:
            return
        producer.poll(0)
        self._settle_reports()
        if self._awaiting:
            self._schedule_poll()

    def _schedule_poll(self) -> None:
        if self._next_poll is None and self._loop is not None:
            self._next_poll = self._loop.call_later(self._poll_interval_s, self._poll)

    def _settle_reports(self) -> None:
        reports = self._reports
        if not reports:
            return
        settled = []
        while reports:
            settled.append(reports.popleft())
        _settle_all(settled)

    async def _partition_count(self, topic: str) -> int:
        """The topic's partition count, read once from the broker's metadata (partitions are only ever added
        by an operator, who restarts the collectors)."""
        count = self._partition_counts.get(topic)
        if count is not None:
            return count
        producer = self._producer
        if producer is None:
            raise PublishFailed("the Kafka producer is not started")
        try:
            metadata = await asyncio.to_thread(producer.list_topics, topic, self._timeout_s)
        except KafkaException as error:
            raise PublishFailed(f"cannot reach Kafka at {self._settings.bootstrap_servers}") from error
        described = metadata.topics.get(topic)
        if described is None or described.error is not None or not described.partitions:
            raise PublishFailed(f"Kafka has no topic {topic!r} yet; retry later")
        count = len(described.partitions)
        self._partition_counts[topic] = count
        return count

    async def publish(
        self, topic: str, records: Sequence[tuple[bytes, bytes]], *, bundle: bool = False
    ) -> None:
        if not records:
            return
        partition_count = await self._partition_count(topic)
        producer, loop = self._producer, self._loop
        assert producer is not None and loop is not None
        to_send = records_by_partition(records, partition_count, bundle=bundle)
        del records  # bundled: the events need not stay in memory while the acknowledgements come
        acknowledgements = _Acknowledgements(loop.create_future(), sum(map(len, to_send.values())))
        report = functools.partial(_report_delivery, self._reports, acknowledgements)
        self._awaiting += 1
        try:
            for partition, partition_records in to_send.items():
                for key, value in partition_records:
                    producer.produce(topic, value, key, partition=partition, on_delivery=report)
            self._schedule_poll()
            # A timer on the future itself rather than asyncio.wait_for, which costs a request a few more objects
            # and callbacks; librdkafka fails the records at `timeout_s` already, this is the backstop.
            expiry = loop.call_later(self._timeout_s + 1, _expire, acknowledgements.future)
            try:
                await acknowledgements.future
            finally:
                expiry.cancel()
        except (BufferError, KafkaException, TimeoutError) as error:
            log.warning("kafka_publish_failed", topic=topic, error=repr(error))
            raise PublishFailed("the events could not be handed to Kafka; retry later") from error
        finally:
            self._awaiting -= 1


class _Acknowledgements:
    """What one publish waits for: `future` is settled once every record is acknowledged, or at the first failure."""

    __slots__ = ("future", "outstanding")

    def __init__(self, future: asyncio.Future[None], outstanding: int) -> None:
        self.future = future
        self.outstanding = outstanding


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError("Kafka did not acknowledge in time"))


def _report_delivery(
    reports: collections.deque[tuple[_Acknowledgements, ConfluentKafkaError | None]],
    acknowledgements: _Acknowledgements,
    error: ConfluentKafkaError | None,
    _: Any,
) -> None:
    """librdkafka's delivery report (during a poll on the event loop, or a flush): queued for `_settle_all`."""
    reports.append((acknowledgements, error))


def _settle_all(settled: list[tuple[_Acknowledgements, ConfluentKafkaError | None]]) -> None:
    """On the event loop: count each publish's acknowledgements, and settle the publishes they complete."""
    for acknowledgements, error in settled:
        future = acknowledgements.future
        if future.done():  # failed already, or the request gave up waiting (timeout) and answered 503
            continue
        if error is not None:
            future.set_exception(KafkaException(error))
            continue
        acknowledgements.outstanding -= 1
        if acknowledgements.outstanding == 0:
            future.set_result(None)


def records_by_partition(
    records: Sequence[tuple[bytes, bytes]], partition_count: int, *, bundle: bool
) -> dict[int, list[tuple[bytes | None, bytes]]]:
    """The records each partition receives: as given, or bundled into JSON-lines records per partition."""
    by_partition: dict[int, list[tuple[bytes, bytes]]] = collections.defaultdict(list)
    for record in records:
        by_partition[partition_for(record[0], partition_count)].append(record)
    return {
        partition: _bundled(partition_records) if bundle else list(partition_records)
        for partition, partition_records in by_partition.items()
    }


def _bundled(records: list[tuple[bytes, bytes]]) -> list[tuple[bytes | None, bytes]]:
    """The records of one partition as few JSON-lines records as the size cap allows; a record keeps its
    person's key when it carries one person's events only."""
    values = [value for _, value in records]
    # The usual case, a request's events well under the cap, in one bundle without a turn of Python per event.
    if sum(map(len, values)) + len(values) <= MAX_BUNDLE_BYTES:
        keys = {key for key, _ in records}
        return [(keys.pop() if len(keys) == 1 else None, bundle_event_values(values))]
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
