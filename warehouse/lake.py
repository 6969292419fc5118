"""The lake: immutable Parquet files of events, partitioned by the UTC date the collector received them.

Files are written under a hidden temporary name and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
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


def write_partition(table_dir: Path, received_date: str, table: pa.Table) -> Path:
    """Write one immutable Parquet file into a date partition: hidden while written, renamed into place."""
    partition = table_dir / f"{PARTITION_KEY}={received_date}"
    partition.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    name = f"part-{stamp}-{uuid.uuid4().hex[:12]}.parquet"
    temporary = partition / f".{name}.tmp"
    pq.write_table(table, temporary, compression="zstd")
    final = partition / name
    os.replace(temporary, final)
    return final


def events_glob(events_dir: Path) -> str:
    """The glob DuckDB reads a lake table with (hidden temporary files are not matched)."""
    return str(events_dir / f"{PARTITION_KEY}=*" / "*.parquet")
