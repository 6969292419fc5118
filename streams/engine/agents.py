"""The decisions task: events, order facts, rules and erasures in; triggers, attributions, rewards, flags out.

The input topics are read by a plain aiokafka consumer in batches (Faust's per-message path would cost more
than deciding); the same batch feeds the live metrics. The state lives in memory and is checkpointed once
per batch into Faust tables (changelogged, so a restarted worker recovers it) with work proportional to the
batch, committed together with the next offset of every input partition (`streams.engine.checkpoint`): the
reader starts there after a restart, so no input is applied twice and nothing already applied comes back as a
late event. The core applies inputs in event-time order, so the streams role runs as one worker; its tables
use the key partitioner and need no co-partitioning. On start
the rule book is read to the end of its compacted topic before any input; rule changes come through a
Faust agent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable
from datetime import timedelta
from typing import Any

import faust
import orjson
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shoploop.kafka import Topics
from streams.automations.rules import InvalidRule, PushPolicy, parse_rule
from streams.engine.checkpoint import Checkpoint, CheckpointTables, offer_records
from streams.engine.core import Engine, Output
from streams.metrics.live import LiveTally

log = structlog.get_logger(__name__)

OUTPUT_TOPICS: dict[str, str] = {
    "triggers": Topics.TRIGGERS.name,
    "attributions": Topics.ATTRIBUTIONS.name,
    "rewards": Topics.REWARD_COMMANDS.name,
    "flags": Topics.ACCOUNT_FLAGS.name,
    "shares": Topics.SHARES.name,
    "pushes": Topics.PUSHES.name,
    "dead_letters": Topics.STREAMS_DEAD_LETTER.name,
}


async def read_rules(bootstrap_servers: str, topic: str) -> list[bytes]:
    """Every message on the (compacted) rules topic, read to its end: the rule book before any input."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        values: list[bytes] = []
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            batches = await consumer.getmany(*partitions, timeout_ms=500)
            for records in batches.values():
                values += [record.value for record in records if record.value is not None]
        return values
    finally:
        await consumer.stop()


STATS_EVERY_S = 10.0
# How long a fetch may wait for data: bounds what reading adds to a push's lateness.
FETCH_MAX_WAIT_MS = 50
# How long a batch waits for the next fetch to top it up: short, so live traffic's small batches go on at once.
TOP_UP_WAIT_MS = 5


def register_decisions(
    app: faust.App,
    *,
    bootstrap_servers: str,
    batch_size: int,
    flush_s: float,
    policy: PushPolicy,
    allowed_lateness: timedelta,
    idle_partition_s: float,
) -> list[faust.types.AgentT[Any]]:
    rules_topic = app.topic(
        Topics.AUTOMATION_RULES.name, key_type=bytes, value_type=bytes, value_serializer="raw"
    )

    async def publish(topic: str, key: bytes, value: bytes) -> None:
        # Straight to the producer (Faust's Topic.send costs several times more per message); the batch's
        # closing flush waits for these too.
        await app.producer.send(topic, key, value, None, None, None)

    def table(name: str, **options: Any) -> faust.types.TableT[str, Any]:
        return app.Table(
            name, default=None, use_partitioner=True, partitions=app.conf.topic_partitions, **options
        )

    checkpoints = Checkpoint(
        CheckpointTables(
            persons=table("streams-person-pages", value_type=bytes),  # bytes: the raw serializer
            entries=table("streams-entry-pages", value_type=bytes),
            shares=table("streams-shares"),
            index=table("streams-index"),
            pending=table("streams-pending"),
            shop=table("streams-shop"),
        )
    )
    engine = Engine(policy=policy, allowed_lateness=allowed_lateness)
    engine.applied_ids = []
    tally = LiveTally()
    loaded = False
    # The two agents share the engine: one batch is decided and checkpointed before the other starts.
    busy = asyncio.Lock()

    async def ensure_loaded() -> None:
        nonlocal loaded
        if loaded:
            return
        checkpoints.restore(engine)
        engine.watermark.touch_all(time.monotonic())
        # Rules first: an input applied before its rule is known would never be scheduled for it.
        results: list[Output] = []
        for raw in await read_rules(bootstrap_servers, Topics.AUTOMATION_RULES.name):
            results += apply_rule(raw)
        loaded = True
        log.info("decisions_restored", persons=len(engine.persons), pending=len(engine.pending()))
        await checkpoint(results)

    def apply_rule(raw: bytes) -> list[Output]:
        try:
            return engine.publish_rule(parse_rule(raw))
        except InvalidRule as error:
            return [
                Output(
                    "dead_letters",
                    "invalid_rule",
                    {
                        "reason_code": "invalid_rule",
                        "reason": str(error),
                        "payload": raw.decode(errors="replace"),
                    },
                )
            ]

    async def checkpoint(
        results: list[Output],
        new_chunk: list[dict[str, Any]] | None = None,
        applied_ids: set[str] | None = None,
    ) -> None:
        """Outputs, then the batch's state rows, flushed, then the shop row that commits them, flushed.

        A crash before the commit restores the previous batch's state and offsets: the batch is read and
        applied again, its outputs repeated with the same ids (the ledger de-duplicates sends), never lost.
        """
        started = time.perf_counter()
        for output in results:
            await publish(OUTPUT_TOPICS[output.stream], output.key.encode(), orjson.dumps(output.value))
        checkpoints.write(engine, new_chunk=new_chunk, applied_ids=applied_ids)
        flushing = time.perf_counter()
        # The changelog holds every row of this batch before the shop row that makes them count.
        await app.producer.flush()
        checkpoints.commit(engine)
        await app.producer.flush()
        stats["publishing"] += flushing - started
        stats["flushing"] += time.perf_counter() - flushing

    # Where a batch's wall time goes (seconds), logged every `STATS_EVERY_S` as `decisions_throughput`.
    stats: dict[str, float] = dict.fromkeys(
        ("inputs", "batches", "waiting", "deciding", "publishing", "flushing"), 0.0
    )
    stats_since = time.monotonic()

    async def consume_inputs() -> None:
        """Read the input topics with a plain aiokafka consumer, from the offsets in the checkpoint.

        Faust's per-message path (~200 µs a message on a busy machine) would cap the worker far below the
        state machine's own rate; here a message costs what parsing and deciding it costs. The streams role
        is one worker, so it reads every partition itself (no consumer group) and needs no committed
        offsets: the checkpoint's offsets are where the restored state stops, so nothing is read twice.
        """
        nonlocal stats_since
        await app.tables.recovery.completed.wait()  # type: ignore[attr-defined]
        async with busy:
            await ensure_loaded()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            # Small per-partition fetches keep the partitions' event times close to each other as they are read.
            max_partition_fetch_bytes=256 * 1024,
        )
        await consumer.start()
        try:
            await consumer.topics()
            partitions = [
                TopicPartition(topic, partition)
                for topic in (Topics.EVENTS.name, Topics.ORDERS.name, Topics.PRIVACY_ERASURES.name)
                for partition in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            consumer.assign(partitions)
            for tp in partitions:
                if tp.topic == Topics.EVENTS.name:
                    engine.watermark.expect(f"{tp.topic}:{tp.partition}", seen_at=time.monotonic())
                offset = checkpoints.next_offsets.get(f"{tp.topic}:{tp.partition}")
                if offset is None:
                    await consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, offset)
            log.info("decisions_reading", partitions=len(partitions), from_offsets=checkpoints.next_offsets)
            batch_done = time.perf_counter()
            while True:
                fetched = await consumer.getmany(timeout_ms=int(flush_s * 1000), max_records=batch_size)
                records = [record for batch in fetched.values() for record in batch]
                if not records:
                    continue
                # A fetch returns at most `max_partition_fetch_bytes` a partition (~3,000 events here); while
                # more is on its way, take it into the same batch: what a batch costs beyond its inputs
                # (every changed person re-encoded, two flushes) is then paid per `batch_size` inputs.
                while len(records) < batch_size:
                    fetched = await consumer.getmany(
                        timeout_ms=TOP_UP_WAIT_MS, max_records=batch_size - len(records)
                    )
                    if not fetched:
                        break
                    records += [record for batch in fetched.values() for record in batch]
                stats["waiting"] += time.perf_counter() - batch_done
                async with busy:
                    await decide(records)
                stats["inputs"] += len(records)
                stats["batches"] += 1
                batch_done = time.perf_counter()
                if time.monotonic() - stats_since >= STATS_EVERY_S:
                    log.info("decisions_throughput", **{k: round(v, 3) for k, v in stats.items()})
                    stats.update(dict.fromkeys(stats, 0.0))
                    stats_since = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception("decisions_failed")
            await app.crash(error)
        finally:
            await consumer.stop()

    async def decide(records: list[ConsumerRecord[bytes, bytes]]) -> None:
        await ensure_loaded()
        started = time.perf_counter()
        seen_at = time.monotonic()
        results, offered, activities = offer_records(
            engine, records, checkpoints.next_offsets, seen_at=seen_at
        )
        results += engine.advance(idle_before=seen_at - idle_partition_s)
        stats["deciding"] += time.perf_counter() - started
        for delta in tally.tally_activities(activities):
            await publish(Topics.LIVE_MINUTES.name, delta.minute.isoformat().encode(), delta.to_json())
        # Only what is still waiting for the watermark needs to survive a restart.
        still = checkpoints.still_pending(engine, offered)
        applied = set(engine.applied_ids or ())
        engine.applied_ids = []
        await checkpoint(results, still, applied)

    async def rules(stream: AsyncIterable[bytes]) -> None:
        # Changes while running; the rule book as it stood at start was read by `ensure_loaded`.
        async for values in stream.take(100, within=0.2):  # type: ignore[attr-defined]
            async with busy:
                await ensure_loaded()
                results: list[Output] = []
                for value in values:
                    results += apply_rule(value)
                await checkpoint(results)

    app.task(consume_inputs)
    return [app.agent(rules_topic, name="automation-rules")(rules)]
