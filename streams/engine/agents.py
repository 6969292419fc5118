"""The decisions task: events, order facts and rules in; triggers, attributions, rewards, flags out.

The input topics are read by a plain aiokafka consumer in batches (Faust's per-message path would cost more
than deciding); the same batch feeds the live metrics. The state lives in memory and is checkpointed once
per batch into Faust tables (changelogged, so a restarted worker recovers it) with work proportional to the
batch: the persons the batch changed, many to a row (`PersonPages`), the shares and shop-wide index entries
it changed, one row of the inputs it buffered, and one small row of shop-wide state that includes the next
offset of every input partition — the reader starts there after a restart, so no input is offered twice and
nothing already applied comes back as a late event. The core applies inputs in event-time order, so the
streams role runs as one worker; its tables use the key partitioner and need no co-partitioning. On start
the rule book is read to the end of its compacted topic before any input; rule changes come through a
Faust agent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import faust
import orjson
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from ingestion.contract.event import event_values
from shoploop.kafka import Topics
from streams.automations.rules import InvalidRule, PushPolicy, parse_rule
from streams.engine.core import Engine, Output, PersonState
from streams.ids import stable_id
from streams.inputs import Activity, BadInput, OrderFact, activity_from_json, order_fact_from_json
from streams.metrics.live import LiveTally
from streams.referrals.models import ShareNode

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


def _share_to_dict(node: ShareNode) -> dict[str, Any]:
    return {**asdict(node), "shared_at": node.shared_at.isoformat()}


def _shares_of(row: list[dict[str, Any]] | dict[str, Any]) -> list[dict[str, Any]]:
    """A `streams-shares` row: a page of shares, or one share (rows written before pages)."""
    return row if isinstance(row, list) else [row]


def _share_from_dict(data: dict[str, Any]) -> ShareNode:
    return ShareNode(**{**data, "shared_at": datetime.fromisoformat(data["shared_at"])})


class PersonPages:
    """Where each person's checkpoint lives: a batch writes the persons it changed into a few new rows
    ("pages", ≤ CHUNK_MAX_BYTES each) instead of one table row per person, so Faust's per-row cost is paid per
    256 KB. A page whose persons were all rewritten later is deleted; a page with less than a quarter of its
    persons still current has them rewritten with the batch, so the table stays within 4x the live state.
    Page keys sort in write order, so on restore the newest copy of a person wins.
    """

    def __init__(self) -> None:
        self.page_of: dict[str, str] = {}
        self.members: dict[str, set[str]] = {}
        self.size: dict[str, int] = {}
        self.next_page = 0

    def restore(self, rows: list[tuple[str, bytes]]) -> tuple[list[dict[str, Any]], list[str]]:
        """The newest copy of every person in `rows`, and the pages no person lives in any more."""
        newest: dict[str, dict[str, Any]] = {}
        for key, raw in sorted(rows):
            people = orjson.loads(raw)
            self.size[key] = len(people)
            self.members[key] = set()
            self.next_page = max(self.next_page, int(key.split("-")[0]) + 1)
            for person in people:
                old = self.page_of.get(person["person_id"])
                if old is not None:
                    self.members[old].discard(person["person_id"])
                self.page_of[person["person_id"]] = key
                self.members[key].add(person["person_id"])
                newest[person["person_id"]] = person
        stale = [key for key, members in self.members.items() if not members]
        for key in stale:
            del self.members[key], self.size[key]
        return list(newest.values()), stale

    def write(
        self, changed: set[str], persons: dict[str, PersonState]
    ) -> tuple[list[tuple[str, bytes]], list[str]]:
        """(rows to write, rows to delete) for a batch that changed `changed`."""
        moving, left = set(changed), set()
        for person_id in changed:
            old = self.page_of.get(person_id)
            if old is not None:
                self.members[old].discard(person_id)
                left.add(old)
        for key in left:
            if 4 * len(self.members[key]) < self.size[key]:
                moving |= self.members[
                    key
                ]  # compaction: few current persons left; rewrite them with the batch
                self.members[key] = set()
        deleted = [key for key in left if not self.members[key]]
        for key in deleted:
            del self.members[key], self.size[key]
        rows: list[tuple[str, bytes]] = []
        page: list[bytes] = []
        ids: list[str] = []
        size = 0

        def close() -> None:
            key = f"{self.next_page:012d}-{len(rows):05d}"
            rows.append((key, b"[" + b",".join(page) + b"]"))
            self.members[key], self.size[key] = set(ids), len(ids)
            for person_id in ids:
                self.page_of[person_id] = key

        for person_id in sorted(moving):
            raw = persons[person_id].to_json()
            if page and size + len(raw) > CHUNK_MAX_BYTES:
                close()
                page, ids, size = [], [], 0
            page.append(raw)
            ids.append(person_id)
            size += len(raw) + 1
        if page:
            close()
        self.next_page += 1
        return rows, deleted


def shop_state(engine: Engine) -> dict[str, Any]:
    """The engine's small shop-wide state (rules, clocks, sold-out SKUs …), as one JSON-able row.

    What grows with the shop (paid orders, per-user order times, accounts per device, flags, payments parked
    until their shopper's login event) is kept in index rows instead, written only when they change.
    """
    return {
        "now": engine.now.isoformat() if engine.now else None,
        "watermark": {p: at.isoformat() for p, at in engine.watermark.latest_by_partition.items()},
        "rules": engine.rules.as_dict(),
        "sold_out": sorted(engine.sold_out),
        "suppressed": engine.suppressed,
        "newest_paid_at": engine.newest_paid_at.isoformat() if engine.newest_paid_at else None,
    }


def index_row(engine: Engine, kind: str, key: str) -> dict[str, Any] | None:
    """One changed shop-wide index entry as a table row (None: the entry is gone)."""
    value: Any
    if kind == "paid":
        value = key in engine.paid_order_ids or None
    elif kind == "orders":
        times = engine.orders_by_user.get(key)
        value = [at.isoformat() for at in times] if times else None
    elif kind == "device":
        users = engine.accounts_by_device.get(key)
        value = sorted(users) if users else None
    elif kind == "parked":
        facts = engine.parked_payments.get(key)
        value = [{**asdict(f), "at": f.at.isoformat()} for f in facts] if facts else None
    elif kind == "order_person":
        value = engine.person_by_order.get(key)
    else:
        user, reason = key.split("\x1f", 1)
        value = (user, reason) in engine.flagged_reasons or None
    return None if value is None else {"kind": kind, "key": key, "value": value}


# Index entries that only ever grow (a paid order id, a device's accounts, a flag): a batch writes its new
# ones as a few rows of many facts each ("fact pages") instead of one table row per entry, so Faust's
# per-row cost is paid per 256 KB; on restore the facts are unioned. Entries that change or disappear (order
# times per user, parked payments) stay one row each, the newest value winning.
GROWING_INDEX = frozenset({"paid", "device", "flag", "order_person"})


def fact_pages(facts: list[dict[str, Any]], *, max_bytes: int) -> list[tuple[str, dict[str, Any]]]:
    """(row key, row) pages of at most about `max_bytes` each for the growing index entries `facts`."""
    ordered = sorted(facts, key=lambda fact: (fact["kind"], fact["key"]))
    return [_fact_page(page) for page in _pages(ordered, max_bytes=max_bytes)]


def _fact_page(facts: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    first, last = facts[0], facts[-1]
    key = stable_id("facts", orjson.dumps(first).decode(), orjson.dumps(last).decode(), str(len(facts)))
    return f"facts\x1f{key}", {"kind": "facts", "key": key, "value": facts}


def restore_engine(
    engine: Engine,
    *,
    shop: dict[str, Any] | None,
    persons: list[dict[str, Any]],
    shares: list[dict[str, Any]],
    index: list[dict[str, Any]],
    pending: list[dict[str, Any]],
) -> None:
    """Rebuild the engine from its table rows after a restart (the order of rows does not matter)."""
    from streams.automations.rules import Rule

    if shop:
        engine.restore_shop(
            rules=[Rule.model_validate(rule) for rule in shop.get("rules", {}).values()],
            sold_out=shop.get("sold_out", ()),
        )
        engine.now = datetime.fromisoformat(shop["now"]) if shop.get("now") else None
        for partition, at in shop.get("watermark", {}).items():
            engine.watermark.observe(partition, datetime.fromisoformat(at))
        engine.suppressed = dict(shop.get("suppressed", {}))
        engine.newest_paid_at = (
            datetime.fromisoformat(shop["newest_paid_at"]) if shop.get("newest_paid_at") else None
        )
    index = list(index)
    for row in list(index):
        if row["kind"] == "facts":
            index += row["value"]  # a page of growing entries: each is restored like a row of its own
    for row in index:
        kind, key, value = row["kind"], row["key"], row["value"]
        if kind == "paid":
            engine.paid_order_ids.add(key)
        elif kind == "orders":
            engine.orders_by_user[key] = [datetime.fromisoformat(at) for at in value]
        elif kind == "device":
            engine.accounts_by_device.setdefault(key, set()).update(value)
        elif kind == "parked":
            engine.parked_payments[key] = [
                OrderFact(**{**f, "at": datetime.fromisoformat(f["at"])}) for f in value
            ]
        elif kind == "flag":
            user, reason = key.split("\x1f", 1)
            engine.flagged_reasons.add((user, reason))
        elif kind == "order_person":
            engine.person_by_order[key] = value
    engine.index_parked()
    for share in shares:
        node = _share_from_dict(share)
        engine.shares[node.share_id] = node
    for person in sorted(persons, key=lambda p: str(p["person_id"])):  # a deterministic heap order
        engine.restore_person(PersonState.from_dict(person))
    for row in pending:
        item = _parse_input(row["topic"], row["raw"].encode())
        if item is not None:
            engine.offer(item, partition=None)
    engine.dirty.clear()
    engine.new_shares.clear()
    engine.changed_index.clear()


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


# A table row is one Kafka message: keep each pending chunk well under the 1 MB default request size.
CHUNK_MAX_BYTES = 256 * 1024
STATS_EVERY_S = 10.0
# How long a fetch may wait for data: bounds what reading adds to a push's lateness.
FETCH_MAX_WAIT_MS = 50


def _split(rows: list[dict[str, Any]], *, max_bytes: int) -> list[list[dict[str, Any]]]:
    chunks: list[list[dict[str, Any]]] = []
    size = max_bytes
    for row in rows:
        length = len(row["raw"]) + len(row["id"]) + 40
        if size + length > max_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(row)
        size += length
    return chunks


def _pages(rows: list[dict[str, Any]], *, max_bytes: int) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    size = max_bytes
    for row in rows:
        length = len(orjson.dumps(row))
        if size + length > max_bytes:
            pages.append([])
            size = 0
        pages[-1].append(row)
        size += length
    return pages


def _parse_input(topic: str, raw: bytes) -> Activity | OrderFact | None:
    if topic == Topics.ORDERS.name:
        return order_fact_from_json(raw)
    return activity_from_json(raw)


def _input_id(item: Activity | OrderFact) -> str:
    return item.message_id if isinstance(item, Activity) else item.event_id


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

    persons, shares, index, pending, shop = (
        table("streams-person-pages", value_type=bytes),  # bytes: the raw serializer
        table("streams-shares"),
        table("streams-index"),
        table("streams-pending"),
        table("streams-shop"),
    )
    engine = Engine(policy=policy, allowed_lateness=allowed_lateness)
    engine.applied_ids = []
    pages = PersonPages()
    tally = LiveTally()
    # "topic:partition" → the next offset to offer: what is below was offered before (checkpointed with the
    # state it made), so after a restart a re-delivered message is skipped instead of dead-lettered as late.
    next_offsets: dict[str, int] = {}
    # Pending inputs are checkpointed one chunk (table row) per batch; chunk key → the input ids in it.
    chunks: dict[str, set[str]] = {}
    chunk_of: dict[str, str] = {}
    loaded = False
    # The two agents share the engine: one batch is decided and checkpointed before the other starts.
    busy = asyncio.Lock()

    async def ensure_loaded() -> None:
        nonlocal loaded
        if loaded:
            return
        pending_rows = [(key, value) for key, value in pending.items() if value]
        shop_row = shop.get("shop")
        person_rows, stale_pages = pages.restore([(key, value) for key, value in persons.items() if value])
        restore_engine(
            engine,
            shop=shop_row,
            persons=person_rows,
            shares=[share for value in shares.values() if value for share in _shares_of(value)],
            index=[value for value in index.values() if value],
            pending=[row for _, value in pending_rows for row in value["inputs"]],
        )
        for key in stale_pages:
            persons.pop(key, None)
        next_offsets.update((shop_row or {}).get("next_offsets", {}))
        for key, value in pending_rows:
            chunks[key] = {str(row["id"]) for row in value["inputs"]}
            chunk_of.update((str(row["id"]), key) for row in value["inputs"])
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
        """Outputs first, then state: a crash in between repeats outputs (ids de-duplicate), never loses them.

        Every step is proportional to what the batch changed, never to the whole state.
        """
        started = time.perf_counter()
        for output in results:
            await publish(OUTPUT_TOPICS[output.stream], output.key.encode(), orjson.dumps(output.value))
        rows, deleted = pages.write(engine.dirty, engine.persons)
        for key, raw in rows:
            persons[key] = raw
        for key in deleted:
            persons.pop(key, None)
        engine.dirty.clear()
        # New shares never change: a batch writes them as pages of many shares (rows of one share each,
        # written before pages, are still read).
        new_shares = [_share_to_dict(engine.shares[share_id]) for share_id in sorted(engine.new_shares)]
        for page in _pages(new_shares, max_bytes=CHUNK_MAX_BYTES):
            shares[stable_id("shares", page[0]["share_id"], page[-1]["share_id"], str(len(page)))] = page
        engine.new_shares.clear()
        facts: list[dict[str, Any]] = []
        for kind, key in engine.changed_index:
            row = index_row(engine, kind, key)
            if kind in GROWING_INDEX and row is not None:
                facts.append(row)
                continue
            row_key = f"{kind}\x1f{key}"
            if row is None:
                index.pop(row_key, None)
            else:
                index[row_key] = row
        for row_key, row in fact_pages(facts, max_bytes=CHUNK_MAX_BYTES):
            index[row_key] = row
        engine.changed_index.clear()
        for chunk in _split(new_chunk or [], max_bytes=CHUNK_MAX_BYTES):
            chunk_key = stable_id("pending", chunk[0]["id"], chunk[-1]["id"], str(len(chunk)))
            pending[chunk_key] = {"inputs": chunk}
            chunks[chunk_key] = {row["id"] for row in chunk}
            chunk_of.update((row["id"], chunk_key) for row in chunk)
        # Only the chunks holding inputs applied by this batch can have emptied.
        for chunk_key in {chunk_of[i] for i in applied_ids or () if i in chunk_of}:
            ids = chunks[chunk_key]
            if not any(map(engine.is_pending, ids)):
                del chunks[chunk_key]
                for input_id in ids:
                    chunk_of.pop(input_id, None)
                pending.pop(chunk_key, None)
        shop["shop"] = {**shop_state(engine), "next_offsets": next_offsets}
        flushing = time.perf_counter()
        # The changelog holds this batch before its offsets can be committed.
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
                for topic in (Topics.EVENTS.name, Topics.ORDERS.name)
                for partition in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            consumer.assign(partitions)
            for tp in partitions:
                if tp.topic == Topics.EVENTS.name:
                    engine.watermark.expect(f"{tp.topic}:{tp.partition}", seen_at=time.monotonic())
                offset = next_offsets.get(f"{tp.topic}:{tp.partition}")
                if offset is None:
                    await consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, offset)
            log.info("decisions_reading", partitions=len(partitions), from_offsets=next_offsets)
            batch_done = time.perf_counter()
            while True:
                fetched = await consumer.getmany(timeout_ms=int(flush_s * 1000), max_records=batch_size)
                records = [record for batch in fetched.values() for record in batch]
                if not records:
                    continue
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
        results: list[Output] = []
        new_chunk: list[dict[str, Any]] = []
        activities: list[Activity] = []
        seen_at = time.monotonic()
        for message in records:
            source = f"{message.topic}:{message.partition}"
            if message.offset < next_offsets.get(source, 0):
                continue  # offered before a restart: its effect is in the restored state
            next_offsets[source] = message.offset + 1
            is_event = message.topic == Topics.EVENTS.name
            # An events record carries one or more events as JSON lines; an order-core record, one event.
            raws = event_values(message.value or b"") if is_event else [message.value or b""]
            for raw in raws:
                try:
                    item = _parse_input(message.topic, raw)
                except BadInput as error:
                    results.append(
                        Output(
                            "dead_letters",
                            message.topic,
                            {
                                "reason_code": "bad_input",
                                "reason": str(error),
                                "payload": raw.decode(errors="replace"),
                            },
                        )
                    )
                    continue
                if item is None:
                    continue
                results += engine.offer(item, partition=source if is_event else None, seen_at=seen_at)
                if isinstance(item, Activity):
                    activities.append(item)
                new_chunk.append({"id": _input_id(item), "topic": message.topic, "raw": raw})
        results += engine.advance(idle_before=seen_at - idle_partition_s)
        stats["deciding"] += time.perf_counter() - started
        for delta in tally.tally_activities(activities):
            await publish(Topics.LIVE_MINUTES.name, delta.minute.isoformat().encode(), delta.to_json())
        # Only what is still waiting for the watermark needs to survive a restart.
        still = [
            {**row, "raw": row["raw"].decode()}
            for row in new_chunk
            if engine.is_pending(row["id"]) and row["id"] not in chunk_of
        ]
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
