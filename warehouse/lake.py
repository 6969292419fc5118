"""The lake: immutable Parquet files of events, partitioned by the UTC date the collector received them.

Files are written under a hidden temporary name and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.contract.event import TrackedEvent

if TYPE_CHECKING:
    from streams.metrics.live import MinuteDelta

_UTC_MICROS = pa.timestamp("us", tz="UTC")

EVENTS_SCHEMA = pa.schema(
    [
        ("message_id", pa.string()),
        ("type", pa.string()),
        ("event", pa.string()),
        ("person_id", pa.string()),
        ("anonymous_id", pa.string()),
        ("user_id", pa.string()),
        ("timestamp", _UTC_MICROS),
        ("original_timestamp", _UTC_MICROS),
        ("sent_at", _UTC_MICROS),
        ("received_at", _UTC_MICROS),
        ("scene", pa.int32()),
        ("channel", pa.string()),
        ("source", pa.string()),
        # JSON documents, read in dbt with json_extract.
        ("properties", pa.string()),
        ("traits", pa.string()),
        ("context", pa.string()),
    ]
)

PARTITION_KEY = "received_date"

# In the lake folder: the next warehouse build must start from scratch, not continue incrementally.
FULL_REFRESH_MARKER = ".full-refresh-requested"

# The order core's domain events from its outbox (topic shoploop.orders), one row per event, partitioned by the
# UTC date the event occurred: unlike a receive time, that stays the same when the relay re-sends an event, so a
# re-delivered event always lands in the partition where the sink looks for its event_id.
ORDER_BOOK_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event", pa.string()),
        ("key", pa.string()),
        ("occurred_at", _UTC_MICROS),
        ("order_id", pa.string()),
        ("user_id", pa.string()),
        # The whole event as JSON (lines, amounts in fen, coupon, refund …), read in dbt with json_extract.
        ("payload", pa.string()),
        ("received_at", _UTC_MICROS),
    ]
)

ORDER_BOOK_PARTITION_KEY = "occurred_date"

# Push records from the streams' automations: one row per shopper a rule chose, whether the push was sent or the
# shopper was held out (the holdout is what a rule's lift is measured against). Partitioned by received_date.
PUSHES_SCHEMA = pa.schema(
    [
        ("push_id", pa.string()),
        ("rule_id", pa.string()),
        ("rule_version", pa.int32()),
        ("person_id", pa.string()),
        ("user_id", pa.string()),
        ("is_holdout", pa.bool_()),
        ("decided_at", _UTC_MICROS),
        ("sent_at", _UTC_MICROS),
        ("opened_at", _UTC_MICROS),
        ("template_id", pa.string()),
        ("received_at", _UTC_MICROS),
    ]
)

LIVE_MINUTES_SCHEMA = pa.schema(
    [
        ("minute", _UTC_MICROS),
        ("events", pa.int64()),
        ("new_shoppers", pa.int64()),
        ("product_views", pa.int64()),
        ("cart_adds", pa.int64()),
        ("checkouts", pa.int64()),
        ("orders", pa.int64()),
        ("gmv_fen", pa.int64()),
    ]
)


@dataclass(frozen=True, slots=True)
class OrderBookEvent:
    """One order-core domain event as the outbox relay published it (`{"event_id", "event", …}`)."""

    event_id: str
    event: str
    key: str
    occurred_at: datetime
    order_id: str | None
    user_id: str | None
    payload: str
    received_at: datetime

    @property
    def occurred_date(self) -> str:
        return self.occurred_at.astimezone(UTC).date().isoformat()

    @classmethod
    def from_json(cls, value: bytes | str, *, received_at: datetime) -> OrderBookEvent:
        """Parse one relayed outbox message; raises ValueError, KeyError or TypeError when it is not one."""
        body = orjson.loads(value)
        if not isinstance(body, dict):
            raise TypeError(f"an order-book event is a JSON object, not {type(body).__name__}")
        occurred_at = datetime.fromisoformat(body["occurred_at"])
        if occurred_at.tzinfo is None:
            raise ValueError("occurred_at must carry a time zone")
        return cls(
            event_id=str(body["event_id"]),
            event=str(body["event"]),
            key=str(body.get("key") or ""),
            occurred_at=occurred_at.astimezone(UTC),
            order_id=_optional_str(body.get("order_id")),
            user_id=_optional_str(body.get("user_id")),
            payload=orjson.dumps(body).decode(),
            received_at=received_at,
        )


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def order_book_table(events: Sequence[OrderBookEvent]) -> pa.Table:
    columns = {name: [getattr(event, name) for event in events] for name in ORDER_BOOK_SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=ORDER_BOOK_SCHEMA)


def write_order_events(order_book_dir: Path, events: Iterable[OrderBookEvent]) -> list[Path]:
    """Append order-book events as one new Parquet file per occurred date; returns the files written."""
    by_date: dict[str, list[OrderBookEvent]] = defaultdict(list)
    for event in events:
        by_date[event.occurred_date].append(event)
    return [
        write_partition(
            order_book_dir, day, order_book_table(day_events), partition_key=ORDER_BOOK_PARTITION_KEY
        )
        for day, day_events in sorted(by_date.items())
    ]


def _columns(events: list[TrackedEvent]) -> dict[str, list[object]]:
    return {
        "message_id": [e.message_id for e in events],
        "type": [e.type for e in events],
        "event": [e.event for e in events],
        "person_id": [e.person_id for e in events],
        "anonymous_id": [e.anonymous_id for e in events],
        "user_id": [e.user_id for e in events],
        "timestamp": [e.timestamp for e in events],
        "original_timestamp": [e.original_timestamp for e in events],
        "sent_at": [e.sent_at for e in events],
        "received_at": [e.received_at for e in events],
        "scene": [e.scene for e in events],
        "channel": [e.channel for e in events],
        "source": [e.source for e in events],
        "properties": [orjson.dumps(e.properties).decode() for e in events],
        "traits": [orjson.dumps(e.traits).decode() for e in events],
        "context": [orjson.dumps(e.context).decode() for e in events],
    }


def events_table(events: list[TrackedEvent]) -> pa.Table:
    return pa.Table.from_pydict(_columns(events), schema=EVENTS_SCHEMA)


def live_minutes_table(deltas: Sequence[MinuteDelta]) -> pa.Table:
    columns = {name: [getattr(delta, name) for delta in deltas] for name in LIVE_MINUTES_SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=LIVE_MINUTES_SCHEMA)


def write_events(events_dir: Path, events: Iterable[TrackedEvent]) -> list[Path]:
    """Append events to the lake as one new Parquet file per received date; returns the files written."""
    by_date: dict[str, list[TrackedEvent]] = defaultdict(list)
    for event in events:
        by_date[event.received_at.astimezone(UTC).date().isoformat()].append(event)
    return [
        write_partition(events_dir, received_date, events_table(day_events))
        for received_date, day_events in sorted(by_date.items())
    ]


# Columns whose values are (nearly) all distinct within a file: ids, JSON documents, times. A dictionary there
# is built only to be thrown away once it outgrows its page (pyarrow then falls back to plain encoding).
_DISTINCT_PER_ROW = frozenset(
    {"message_id", "event_id", "push_id", "properties", "traits", "context", "payload"}
)


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns worth dictionary-encoding in a lake file: the repeating ones (names, channels, people)."""
    return [
        field.name
        for field in schema
        if field.name not in _DISTINCT_PER_ROW and not pa.types.is_timestamp(field.type)
    ]


def statistics_columns(schema: pa.Schema) -> list[str]:
    """The columns whose min/max statistics a reader can use (times, names, people): not ids or JSON documents,
    whose statistics no filter uses and cost about a tenth of the write (long distinct strings compared)."""
    return [field.name for field in schema if field.name not in _DISTINCT_PER_ROW]


@dataclass(frozen=True, slots=True)
class KafkaOrigin:
    """The Kafka partitions a lake file's rows came from, out of the topic's partition count at the time.

    A copy of a message comes back on the partition its first copy came from: a re-delivery after a crash or a
    rebalance is the same record, and a client's retry is keyed by the same person (the collector keys events by
    person, and a person's mapping never moves) — as long as the topic's partition count is the same, since the
    key's partition is its hash modulo that count. So the sink checks a batch only against the files whose rows
    may hold a copy of it (`may_hold_copies_of`), and two workers do not read each other's files. The origin is
    part of the file's name (`….kafka-5-of-4.parquet`: partitions 0 and 2 of 4); a file without one (backfills,
    compaction of files of different counts, files written before this) may hold anything.
    """

    partitions: frozenset[int]
    count: int

    def file_tag(self) -> str | None:
        """`kafka-<mask>-of-<count>`: bit p of the hexadecimal mask is set for partition p (`kafka-5-of-4` is
        partitions 0 and 2 of 4). None past 512 partitions, to keep names short (such a file is read by all)."""
        if self.count > _MAX_TAGGED_PARTITIONS:
            return None
        return f"kafka-{sum(1 << p for p in self.partitions):x}-of-{self.count}"

    def may_hold_copies_of(self, batch: KafkaOrigin) -> bool:
        """Whether a file from this origin may hold a copy of a message of `batch`: a partition in common, or
        another partition count (which sends a key to another partition)."""
        return self.count != batch.count or not self.partitions.isdisjoint(batch.partitions)

    @classmethod
    def of_file(cls, name: str) -> KafkaOrigin | None:
        """The origin a lake file's name records, or None when it records none (it may hold anything)."""
        found = _ORIGIN_IN_NAME.search(name)
        if found is None:
            return None
        mask = int(found["mask"], 16)
        return cls(frozenset(p for p in range(mask.bit_length()) if mask >> p & 1), int(found["count"]))


_MAX_TAGGED_PARTITIONS = 512
_ORIGIN_IN_NAME = re.compile(r"\.kafka-(?P<mask>[0-9a-f]+)-of-(?P<count>\d+)\.parquet$")


def lake_file_name(prefix: str, stamp: str, *, origin: KafkaOrigin | None = None) -> str:
    """A new lake file's name: unique, ordered by its time stamp, with the Kafka origin of its rows if known."""
    tag = origin.file_tag() if origin is not None else None
    suffix = f".{tag}.parquet" if tag else ".parquet"
    return f"{prefix}-{stamp}-{uuid.uuid4().hex[:12]}{suffix}"


def write_partition(
    table_dir: Path,
    received_date: str,
    table: pa.Table,
    *,
    partition_key: str = PARTITION_KEY,
    origin: KafkaOrigin | None = None,
) -> Path:
    """Write one immutable Parquet file into a date partition: hidden while written, renamed into place. With
    `origin`, the file's name records the Kafka partitions its rows came from (see `KafkaOrigin`)."""
    partition = table_dir / f"{partition_key}={received_date}"
    partition.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    name = lake_file_name("part", stamp, origin=origin)
    temporary = partition / f".{name}.tmp"
    pq.write_table(
        table,
        temporary,
        compression="zstd",
        use_dictionary=dictionary_columns(table.schema),
        write_statistics=statistics_columns(table.schema),
    )
    final = partition / name
    os.replace(temporary, final)
    return final


def events_glob(events_dir: Path, *, partition_key: str = PARTITION_KEY) -> str:
    """The glob DuckDB reads a lake table with (hidden temporary files are not matched)."""
    return str(events_dir / f"{partition_key}=*" / "*.parquet")


def order_book_glob(order_book_dir: Path) -> str:
    return events_glob(order_book_dir, partition_key=ORDER_BOOK_PARTITION_KEY)


def live_minutes_glob(live_minutes_dir: Path) -> str:
    return events_glob(live_minutes_dir)


def request_full_refresh(lake_dir: Path) -> None:
    """Make the next warehouse build start from an empty file: rows were removed from the lake (an erasure) or
    written with received dates older than the incremental lookback (a backfill such as Online Retail)."""
    lake_dir.mkdir(parents=True, exist_ok=True)
    (lake_dir / FULL_REFRESH_MARKER).write_text(datetime.now(UTC).isoformat())
