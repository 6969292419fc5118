"""The sink agents: take events, order-book events and live minutes off Kafka in batches into the lake.

Events and order-book events go in exactly once: each batch drops what the lake already holds (by messageId /
event_id, see warehouse/dedup.py) before it is written as one new file, so a re-delivery after a crash or a
client's retry adds nothing. An events batch is checked only against the lake files from its own Kafka
partitions (`batch_origin`), so sink workers holding different partitions do not read each other's files.
Events are decoded a batch at a time into Arrow (streams/sink/events.py). The streams' push decisions, sends
and opens become push records (streams/sink/pushes.py). Every sink leaves out what `privacy forget`'s tombstones
erase (warehouse/erasure.py); the order book every event of an erased shopper (`without_erased_shoppers`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import faust
import orjson
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from shoploop.kafka import Topics
from streams.metrics.live import MinuteDelta
from streams.sink.events import EventDecoder, write_new_events
from streams.sink.pushes import push_records, write_push_records
from warehouse.dedup import LakeIds
from warehouse.erasure import LakeErasures, order_payload_without_erased_others
from warehouse.lake import (
    ORDER_BOOK_PARTITION_KEY,
    PARTITION_KEY,
    KafkaOrigin,
    OrderBookEvent,
    live_minutes_table,
    write_order_events,
    write_partition,
)

log = structlog.get_logger(__name__)


def decode_order_events(
    values: list[bytes], *, received_at: datetime
) -> tuple[list[OrderBookEvent], list[tuple[bytes, str]]]:
    """Split raw outbox messages into order-book events and undecodable values with the reason each failed."""
    events: list[OrderBookEvent] = []
    broken: list[tuple[bytes, str]] = []
    for value in values:
        try:
            events.append(OrderBookEvent.from_json(value, received_at=received_at))
        except (ValueError, KeyError, TypeError) as error:
            broken.append((value, f"{type(error).__name__}: {error}"))
    return events, broken


def without_erased_shoppers(events: list[OrderBookEvent], erased_ids: frozenset[str]) -> list[OrderBookEvent]:
    """The order-book events whose user is not an erased shopper, whatever their time: `privacy forget` removed
    all of her order-book rows from the lake, and an order placed before the erasure goes on after it (paid,
    shipped, refunded) — kept, those would be payments and refunds of an order the lake no longer holds. Events of
    others that name her too (a group buy, a friend's bargain) are kept without her."""
    if not erased_ids:
        return events
    kept = []
    for event in events:
        if event.user_id in erased_ids:
            continue
        # A group buy she completed with others, a cut she made in a friend's bargain: theirs, without her (as
        # `privacy forget`'s rewrite).
        payload = order_payload_without_erased_others(event.event, event.payload, erased_ids)
        event = event if payload is None else replace(event, payload=payload)
        kept.append(event)
    return kept


def write_new_order_events(
    order_book_dir: Path,
    seen: LakeIds,
    events: list[OrderBookEvent],
    *,
    erasures: LakeErasures | None = None,
) -> tuple[int, list[Path]]:
    """Write the order-book events the lake does not hold yet (by event_id); with `erasures` (the lake's
    tombstones), none of an erased shopper's (`without_erased_shoppers`)."""
    if erasures is None:
        return _write_new_order_events(order_book_dir, seen, events)
    # Held from reading the tombstones until the file is in place, as the events sink does (warehouse/erasure.py).
    with erasures.writing():
        kept = without_erased_shoppers(events, erasures.keys().every_id)
        erasures.dropped_last = len(events) - len(kept)
        erasures.dropped_total += erasures.dropped_last
        return _write_new_order_events(order_book_dir, seen, kept)


def _write_new_order_events(
    order_book_dir: Path, seen: LakeIds, events: list[OrderBookEvent]
) -> tuple[int, list[Path]]:
    fresh = seen.new_rows(events, id_of=lambda e: e.event_id, day_of=lambda e: e.occurred_date)
    if not fresh:
        return 0, []
    files = write_order_events(order_book_dir, fresh)
    ids_by_day: dict[str, set[str]] = {}
    for event in fresh:
        ids_by_day.setdefault(event.occurred_date, set()).add(event.event_id)
    seen.remember(files, ids_by_day)
    return len(fresh), files


def batch_origin(partitions: set[int], partition_count: int | None) -> KafkaOrigin | None:
    """The Kafka origin of a batch: its records' partitions out of the topic's count, or None (check and be read
    against every file) when the consumer does not know the count or it is stale (a partition past it)."""
    if not partition_count or not partitions or max(partitions) >= partition_count:
        return None
    return KafkaOrigin(frozenset(partitions), partition_count)


@dataclass(frozen=True, slots=True)
class SinkFetch:
    """How the events sink's consumer fetches (`StreamsSettings.sink_fetch_*`)."""

    max_wait_ms: int = 100
    max_partition_fetch_bytes: int = 8 * 1024 * 1024
    max_bytes: int = 32 * 1024 * 1024
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000


def _lines(value: bytes | None) -> int:
    """Events in a `shoploop.events` record (JSON lines; no event holds a newline)."""
    return value.count(b"\n") + 1 if value else 0


class StartedWithTheApp(faust.Service):
    """Runs a coroutine from the moment the app starts, alongside Faust's own start and group join.

    An `app.task` starts only once Faust's consumer has its partitions and tables are recovered; the events
    consumer, in its own group, need not wait for that, and the embedded broker (Tansu) holds every group's
    first assignment for 5 s, so joining both groups at once saves those seconds at each start. Added as the
    app's first dependency, it starts before the app's producer and consumer, and stops after them.
    """

    def __init__(self, run: Callable[[], Awaitable[None]]) -> None:
        self._run = run
        super().__init__()

    async def on_start(self) -> None:
        self.add_future(self._run())


def register_sink(
    app: faust.App,
    *,
    bootstrap_servers: str,
    events_dir: Path,
    live_minutes_dir: Path,
    batch_size: int,
    flush_s: float,
    order_book_dir: Path | None = None,
    fetch: SinkFetch | None = None,
) -> list[faust.types.AgentT[bytes]]:
    """The sink's agents (order book, live minutes, pushes) and its events consumer (`drain_events`, started with
    the app)."""
    fetch = fetch or SinkFetch()
    events_group = f"{app.conf.id}-events"
    # The order book sits beside the events in the lake unless told otherwise.
    order_book = order_book_dir if order_book_dir is not None else events_dir.parent / "order_book"
    seen_events = LakeIds(events_dir, id_column="message_id", partition_key=PARTITION_KEY)
    decoder = EventDecoder()
    erasures = LakeErasures(events_dir.parent)  # `privacy forget`'s tombstones: erased people are not written
    seen_order_events = LakeIds(order_book, id_column="event_id", partition_key=ORDER_BOOK_PARTITION_KEY)
    order_erasures = LakeErasures(events_dir.parent)  # its own: each sink writes from its own thread
    dead_letters = app.topic(Topics.EVENTS_DEAD_LETTER.name, value_type=bytes, value_serializer="raw")

    async def write_events(records: list[ConsumerRecord[bytes, bytes]], partition_count: int | None) -> None:
        values = [record.value for record in records if record.value is not None]
        origin = batch_origin({record.partition for record in records}, partition_count)
        decoded = await asyncio.to_thread(decoder.decode, values)
        for value, reason in decoded.broken:
            letter = {
                "reason_code": "undecodable_event",
                "reason": reason,
                "payload": value.decode(errors="replace"),
                "source": "sink",
                "received_at": datetime.now(UTC).isoformat(),
            }
            await dead_letters.send(value=orjson.dumps(letter))
        if decoded.table.num_rows:
            written, files = await asyncio.to_thread(
                write_new_events, events_dir, seen_events, decoded.table, origin=origin, erasures=erasures
            )
            log.info(
                "sink_wrote",
                events=written,
                duplicates=decoded.table.num_rows - erasures.dropped_last - written,
                files=[f.name for f in files],
            )

    async def write_and_commit(
        consumer: AIOKafkaConsumer, records: list[ConsumerRecord[bytes, bytes]], partition_count: int | None
    ) -> None:
        await write_events(records, partition_count)
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            offsets[TopicPartition(record.topic, record.partition)] = record.offset + 1
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as error:
            # The group rebalanced under the batch: its file is written, and whoever holds these partitions
            # now reads them again from the last commit and drops what the lake holds.
            log.warning("sink_commit_failed", error=repr(error))

    crashing: list[asyncio.Future[None]] = []

    def crash_on_failure(written: asyncio.Future[None]) -> None:
        """A batch that failed to be written stops the worker (its offsets are not committed), also when no
        further batch comes to notice it."""
        if written.cancelled() or written.exception() is None:
            return
        error = written.exception()
        log.error("sink_failed", error=repr(error))
        crashing.append(asyncio.ensure_future(app.crash(error)))  # type: ignore[arg-type]

    async def drain_events() -> None:
        """Read `shoploop.events` with a plain aiokafka consumer in its own group, a batch into one file, and
        commit the batch's offsets once its file is in the lake.

        Not a Faust stream: Faust's per-record path (an Event, tasks and futures per record, acks, offset
        tracking) cost ~300 µs a record on this machine and capped the drain near 16,000 events/s, a tenth of
        what decoding and writing take. A crash between the write and the commit re-delivers the batch, which
        the lake's ids drop (exactly once, as before); a rebalance hands a partition over with its committed
        offset, and the new owner checks that partition's files before writing.
        """
        consumer = AIOKafkaConsumer(
            Topics.EVENTS.name,
            bootstrap_servers=bootstrap_servers,
            group_id=events_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=fetch.max_wait_ms,
            max_partition_fetch_bytes=fetch.max_partition_fetch_bytes,
            fetch_max_bytes=fetch.max_bytes,
            session_timeout_ms=fetch.session_timeout_ms,
            heartbeat_interval_ms=fetch.heartbeat_interval_ms,
        )
        # The decoder's first call imports what pyarrow.compute loads lazily (pandas: seconds on a cold start);
        # done while the consumer joins its group rather than in front of the first batch.
        warmed_up = asyncio.ensure_future(asyncio.to_thread(decoder.decode, [b"{}"]))
        await consumer.start()
        loop = asyncio.get_running_loop()
        writing: asyncio.Future[None] | None = None
        try:
            await warmed_up
            while True:
                fetched = await consumer.getmany(timeout_ms=int(flush_s * 1000), max_records=batch_size)
                records = [record for batch in fetched.values() for record in batch]
                if not records:
                    continue
                # A batch is what arrives within `flush_s` of its first record, up to `batch_size` events (a
                # collector's record carries a request's events for its partition, so records are counted by
                # their lines): at calm rates one file per flush interval, in a backlog files of `batch_size`.
                events = sum(_lines(record.value) for record in records)
                deadline = loop.time() + flush_s
                while events < batch_size and (remaining_s := deadline - loop.time()) > 0:
                    per_record = max(1, events // len(records))
                    fetched = await consumer.getmany(
                        timeout_ms=max(1, int(remaining_s * 1000)),
                        max_records=max(1, (batch_size - events) // per_record),
                    )
                    more = [record for batch in fetched.values() for record in batch]
                    records += more
                    events += sum(_lines(record.value) for record in more)
                partition_count = len(consumer.partitions_for_topic(Topics.EVENTS.name) or ()) or None
                # One batch is decoded and written (in a thread) while the next is fetched and unpacked (on the
                # loop); batches are still written and committed in order.
                if writing is not None:
                    await asyncio.wait([writing])
                    if writing.exception() is not None:
                        return  # the worker is crashing (`crash_on_failure`)
                writing = asyncio.ensure_future(write_and_commit(consumer, records, partition_count))
                writing.add_done_callback(crash_on_failure)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception("sink_failed")
            await app.crash(error)
        finally:
            if writing is not None and not writing.done():
                # A file may still land without its commit: it is read again and dropped by its ids.
                writing.cancel()
            await consumer.stop()

    minutes_topic = app.topic(
        Topics.LIVE_MINUTES.name, key_type=bytes, value_type=bytes, value_serializer="raw"
    )

    async def live_minutes_sink(stream: AsyncIterable[bytes]) -> None:
        async for values in stream.take(batch_size, within=flush_s):  # type: ignore[attr-defined]
            deltas = [MinuteDelta.from_json(value) for value in values]
            if deltas:
                today = datetime.now(UTC).date().isoformat()
                await asyncio.to_thread(write_partition, live_minutes_dir, today, live_minutes_table(deltas))

    pushes_dir = events_dir.parent / "pushes"
    push_erasures = LakeErasures(events_dir.parent)  # its own: the events' is used from another thread
    push_topics = app.topic(
        Topics.TRIGGERS.name, Topics.PUSHES.name, key_type=bytes, value_type=bytes, value_serializer="raw"
    )

    async def pushes_sink(stream: AsyncIterable[bytes]) -> None:
        async for values in stream.take(batch_size, within=flush_s):  # type: ignore[attr-defined]
            table, broken = push_records(list(values), received_at=datetime.now(UTC))
            for value, reason in broken:
                log.error("pushes_sink_undecodable", reason=reason, payload=value.decode(errors="replace"))
            if table.num_rows:
                today = datetime.now(UTC).date().isoformat()
                await asyncio.to_thread(write_push_records, pushes_dir, today, table, erasures=push_erasures)

    orders_topic = app.topic(Topics.ORDERS.name, key_type=bytes, value_type=bytes, value_serializer="raw")

    async def order_book_sink(stream: AsyncIterable[bytes]) -> None:
        async for values in stream.take(batch_size, within=flush_s):  # type: ignore[attr-defined]
            events, broken = decode_order_events(list(values), received_at=datetime.now(UTC))
            for value, reason in broken:
                # The order core's own topic has no dead-letter topic; a broken event is loud in the log.
                log.error(
                    "order_book_sink_undecodable", reason=reason, payload=value.decode(errors="replace")
                )
            if events:
                written, files = await asyncio.to_thread(
                    write_new_order_events, order_book, seen_order_events, events, erasures=order_erasures
                )
                if order_erasures.dropped_last:
                    log.info(
                        "order_book_sink_dropped_erased",
                        events=order_erasures.dropped_last,
                        total=order_erasures.dropped_total,
                    )
                log.info(
                    "order_book_sink_wrote",
                    events=written,
                    duplicates=len(events) - order_erasures.dropped_last - written,
                    files=[f.name for f in files],
                )

    app.add_dependency(StartedWithTheApp(drain_events))
    return [
        app.agent(orders_topic, name="order-book-sink")(order_book_sink),
        app.agent(minutes_topic, name="live-minutes-sink")(live_minutes_sink),
        app.agent(push_topics, name="pushes-sink")(pushes_sink),
    ]
