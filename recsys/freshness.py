"""Freshness: each shopper's latest views and add-to-carts, kept in memory from the event stream.

:class:`RecentInteractions` is a bounded, thread-safe store; :func:`interaction_from_event` is the pure
rule that turns a tracked event into an interaction; :func:`consume_interactions` feeds the store from
Kafka (``shoploop.events``). :meth:`recsys.model.Recommender.recommend_for` reads the store and
recomputes the shopper's vector from the live model's item factors, so new behaviour changes the
recommendations within seconds, without retraining.

Every serving process keeps its own store and reads every partition (no consumer group), starting from
the end of the topic: what happened before the process started is in the last trained model, except the
events between that training and the start (the scheduled retrain closes that gap).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import orjson

from ingestion.contract.event import event_values

log = logging.getLogger(__name__)

FreshKind = Literal["view", "add_to_cart"]
# Tracking-plan event names (ingestion/contract/tracking_plan.py) → interaction kinds.
EVENT_KINDS: dict[str, FreshKind] = {"Product Viewed": "view", "Product Added": "add_to_cart"}


@dataclass(frozen=True)
class RecentInteraction:
    """One view or add-to-cart seen on the stream since the model was trained."""

    product_id: str
    kind: FreshKind
    occurred_at: datetime


@dataclass(frozen=True)
class ShopperSegment:
    """Where a shopper lives and how they first came, as far as the stream has told us."""

    region: str | None = None
    channel: str | None = None


class FreshSource(Protocol):
    """What :class:`recsys.model.Recommender` asks of a freshness store."""

    def recent(self, person_id: str) -> tuple[RecentInteraction, ...]: ...

    def segment(self, person_id: str) -> ShopperSegment: ...


@dataclass(frozen=True)
class StreamedInteraction:
    """An interaction parsed from one event, with the ids it is filed under."""

    person_ids: tuple[str, ...]
    interaction: RecentInteraction | None
    segment: ShopperSegment


class RecentInteractions:
    """The last ``per_shopper`` interactions of the ``max_shoppers`` most recently active shoppers.

    Thread-safe: the consumer writes from the event loop while request threads read.

    Parameters
    ----------
    per_shopper : int
        Interactions kept per shopper (older ones fall out first).
    max_shoppers : int
        Shoppers kept; the least recently active is forgotten first.
    """

    def __init__(self, *, per_shopper: int = 50, max_shoppers: int = 100_000) -> None:
        if per_shopper < 1 or max_shoppers < 1:
            raise ValueError(
                f"per_shopper and max_shoppers must be >= 1, got {per_shopper} and {max_shoppers}"
            )
        self.per_shopper = per_shopper
        self.max_shoppers = max_shoppers
        self._lock = threading.Lock()
        self._interactions: OrderedDict[str, deque[RecentInteraction]] = OrderedDict()
        self._segments: OrderedDict[str, ShopperSegment] = OrderedDict()
        self.events_applied = 0
        self.last_applied_at: float | None = None
        # digest of an erased id → monotonic time until which its events are not filed (see `forget`)
        self._erased_until: dict[str, float] = {}

    def add(self, person_id: str, interaction: RecentInteraction) -> None:
        """File ``interaction`` under ``person_id``, forgetting the least recently active shopper if full."""
        with self._lock:
            recent = self._interactions.get(person_id)
            if recent is None:
                recent = self._interactions[person_id] = deque(maxlen=self.per_shopper)
            self._interactions.move_to_end(person_id)
            recent.append(interaction)
            while len(self._interactions) > self.max_shoppers:
                self._interactions.popitem(last=False)

    def note_segment(self, person_id: str, segment: ShopperSegment) -> None:
        """Remember the shopper's region (latest wins) and acquisition channel (first wins)."""
        if segment.region is None and segment.channel is None:
            return
        with self._lock:
            known = self._segments.get(person_id, ShopperSegment())
            self._segments[person_id] = ShopperSegment(
                region=segment.region or known.region, channel=known.channel or segment.channel
            )
            self._segments.move_to_end(person_id)
            while len(self._segments) > self.max_shoppers:
                self._segments.popitem(last=False)

    def forget(self, id_digests: Collection[str], *, refuse_for_s: float = 600.0) -> int:
        """Drop every shopper whose id's SHA-256 hex is in ``id_digests`` (erasure, PIPL), and refuse their
        events for ``refuse_for_s``: events already on Kafka when the erasure ran still arrive after it.
        Returns how many ids were dropped."""
        until = time.monotonic() + refuse_for_s
        with self._lock:
            for digest in id_digests:
                self._erased_until[digest] = until
            dropped = [
                person_id
                for person_id in {*self._interactions, *self._segments}
                if _digest(person_id) in self._erased_until
            ]
            for person_id in dropped:
                self._interactions.pop(person_id, None)
                self._segments.pop(person_id, None)
        return len(dropped)

    def _is_refused(self, person_id: str) -> bool:
        if not self._erased_until:
            return False
        with self._lock:
            now = time.monotonic()
            for digest in [d for d, until in self._erased_until.items() if until <= now]:
                del self._erased_until[digest]
            return _digest(person_id) in self._erased_until

    def apply(self, streamed: StreamedInteraction) -> None:
        """File one parsed event under each of its ids."""
        for person_id in streamed.person_ids:
            if self._is_refused(person_id):
                continue
            if streamed.interaction is not None:
                self.add(person_id, streamed.interaction)
            self.note_segment(person_id, streamed.segment)
        with self._lock:
            self.events_applied += 1
            self.last_applied_at = time.monotonic()

    def recent(self, person_id: str) -> tuple[RecentInteraction, ...]:
        """The shopper's kept interactions, oldest first (empty for a shopper the stream has not seen)."""
        with self._lock:
            return tuple(self._interactions.get(person_id, ()))

    def segment(self, person_id: str) -> ShopperSegment:
        with self._lock:
            return self._segments.get(person_id, ShopperSegment())

    def __len__(self) -> int:
        with self._lock:
            return len(self._interactions)


def _digest(person_id: str) -> str:
    # the same digest as recsys.erasure.id_digest (which imports the model; this module must not)
    return hashlib.sha256(person_id.encode()).hexdigest()


def interaction_from_event(raw: bytes | str) -> StreamedInteraction | None:
    """Parse one ``shoploop.events`` message; None when it says nothing the recommender uses.

    Product Viewed → ``view`` and Product Added → ``add_to_cart`` (with a ``product_id``), filed under the
    logged-in ``user_id`` (the id the order core serves by) and the ``person_id``. Any event may carry
    the shopper's acquisition ``channel`` and an identify call's ``traits.province`` (the region).
    """
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    ids = tuple(dict.fromkeys(str(i) for i in (data.get("user_id"), data.get("person_id")) if i))
    if not ids:
        return None
    properties = _mapping(data.get("properties"))
    traits = _mapping(data.get("traits"))
    region = traits.get("province") if isinstance(traits.get("province"), str) else None
    channel = data.get("channel") if isinstance(data.get("channel"), str) else None
    segment = ShopperSegment(region=region or None, channel=channel or None)
    kind = EVENT_KINDS.get(str(data.get("event")))
    product_id = properties.get("product_id")
    interaction = None
    if kind is not None and isinstance(product_id, str) and product_id:
        interaction = RecentInteraction(product_id, kind, _timestamp(data.get("timestamp")))
    if interaction is None and segment == ShopperSegment():
        return None
    return StreamedInteraction(person_ids=ids, interaction=interaction, segment=segment)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _timestamp(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


async def consume_interactions(
    store: RecentInteractions,
    bootstrap_servers: str,
    *,
    topic: str = "shoploop.events",
    stop: asyncio.Event,
    ready: Callable[[], None] | None = None,
    poll_timeout_ms: int = 200,
    retry_after_s: float = 2.0,
) -> None:
    """Feed ``store`` from ``topic`` until ``stop`` is set; survives broker outages by reconnecting.

    Parameters
    ----------
    store : RecentInteractions
    bootstrap_servers : str
    topic : str
    stop : asyncio.Event
    ready : callable, optional
        Called once the consumer holds every partition at the end of the topic: events published
        after that are applied.
    poll_timeout_ms : int
        Longest wait for new events; the freshness delay is at most about this plus the fetch time.
    """
    from aiokafka import AIOKafkaConsumer
    from aiokafka.errors import KafkaError

    while not stop.is_set():
        # No group: every serving process needs every shopper's events for its own in-memory store.
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=poll_timeout_ms,
        )
        try:
            await consumer.start()
            partitions = await _partitions(consumer, topic, stop)
            if partitions is None:
                return
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for partition in partitions:
                await consumer.position(partition)
            if ready is not None:
                ready()
                ready = None
            log.info("recsys freshness consumer reading %s (%d partitions)", topic, len(partitions))
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=poll_timeout_ms)
                for records in batches.values():
                    for record in records:
                        # A record carries one or more events as JSON lines (the collector bundles them).
                        for value in event_values(record.value or b""):
                            streamed = interaction_from_event(value)
                            if streamed is not None:
                                store.apply(streamed)
        except (KafkaError, OSError) as error:
            log.warning("recsys freshness consumer lost the broker (%s); retrying", error)
            await _sleep_unless_stopped(stop, retry_after_s)
        finally:
            await consumer.stop()


async def _partitions(consumer: Any, topic: str, stop: asyncio.Event) -> list[Any] | None:
    from aiokafka import TopicPartition

    while not stop.is_set():
        # topics() refreshes the metadata that partitions_for_topic() reads
        if topic in await consumer.topics():
            found = consumer.partitions_for_topic(topic)
            if found:
                return [TopicPartition(topic, number) for number in sorted(found)]
        await _sleep_unless_stopped(stop, 1.0)
    return None


async def _sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
