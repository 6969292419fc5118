"""`shoploop.events` records → one Arrow table in the lake's schema, with no Python object per event.

A record carries one or more enriched events as JSON lines (`ingestion.contract.event.event_values`). The sink
receives thousands per batch, so parsing and checking run vectorised in an in-memory DuckDB (`from_json`, whose
`JSON`-typed fields keep `properties`, `traits` and `context` as compact JSON text, the lake's format), and only
the lines that fail are looked at one by one, to dead-letter them with their reason. The rules are those of
`TrackedEvent.from_json` (the ids, type, channel, source and the three times must be there, times ISO 8601),
and the three documents must be JSON objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.contract.event import EVENT_SEPARATOR, TrackedEvent
from warehouse.dedup import LakeIds
from warehouse.lake import EVENTS_SCHEMA, write_partition

# The enriched event's fields and how from_json reads them; times are read as text and cast after, so that a
# malformed time is named instead of failing the whole batch.
_FIELDS: dict[str, str] = {
    "message_id": "VARCHAR",
    "type": "VARCHAR",
    "event": "VARCHAR",
    "person_id": "VARCHAR",
    "anonymous_id": "VARCHAR",
    "user_id": "VARCHAR",
    "timestamp": "VARCHAR",
    "original_timestamp": "VARCHAR",
    "sent_at": "VARCHAR",
    "received_at": "VARCHAR",
    "scene": "INTEGER",
    "channel": "VARCHAR",
    "source": "VARCHAR",
    "properties": "JSON",
    "traits": "JSON",
    "context": "JSON",
}
_REQUIRED = ("message_id", "type", "person_id", "channel", "source")
_REQUIRED_TIMES = ("timestamp", "original_timestamp", "received_at")
_DOCUMENTS = ("properties", "traits", "context")


def _decode_sql(*, tolerate_malformed_json: bool) -> str:
    """One parse per line; a row is good when every rule holds. Why a row is not good is worked out afterwards,
    in Python, for those few lines only. A line that is not JSON at all fails plain `from_json` for the whole
    batch, so such a batch is decoded again with `try(from_json(…))` (null for that line; a quarter slower)."""
    struct = orjson.dumps(_FIELDS).decode()
    parse = f"from_json(line, '{struct}')"
    if tolerate_malformed_json:
        parse = f"try({parse})"
    rules = [f"e.{name} is not null" for name in _REQUIRED]
    rules += [f"{name} is not null" for name in _REQUIRED_TIMES]
    rules.append("(nullif(e.sent_at, '') is null or sent_at is not null)")
    rules += [f"(e.{name} is null or starts_with(e.{name}, '{{'))" for name in _DOCUMENTS]
    return f"""
        select
            e.message_id, e.type, e.event, e.person_id, e.anonymous_id, e.user_id,
            try_cast(e.timestamp as timestamptz) as timestamp,
            try_cast(e.original_timestamp as timestamptz) as original_timestamp,
            try_cast(nullif(e.sent_at, '') as timestamptz) as sent_at,
            try_cast(e.received_at as timestamptz) as received_at,
            e.scene, e.channel, e.source,
            coalesce(e.properties, '{{}}') as properties,
            coalesce(e.traits, '{{}}') as traits,
            coalesce(e.context, '{{}}') as context,
            e is not null and {" and ".join(rules)} as is_good
        from (select {parse} as e from batch)
    """


def broken_reason(line: bytes) -> str:
    """Why one line is not an event, in the words of `TrackedEvent.from_json` (the one-event rules)."""
    try:
        event = TrackedEvent.from_json(line)
    except (ValueError, KeyError, TypeError) as error:
        return f"{type(error).__name__}: {error}"
    for name in _DOCUMENTS:
        if not isinstance(getattr(event, name), dict):
            return f"TypeError: {name} must be a JSON object"
    return "ValueError: not an enriched event"


@dataclass(frozen=True, slots=True)
class DecodedEvents:
    """One batch: the good events in the lake's schema, in arrival order, and each broken line with its reason."""

    table: pa.Table
    broken: list[tuple[bytes, str]]


class EventDecoder:
    """Decodes batches of `shoploop.events` record values; holds one in-memory DuckDB for its whole life."""

    def __init__(self, *, threads: int = 1, memory_limit: str = "512MB") -> None:
        self._connection = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit})
        self._sql = _decode_sql(tolerate_malformed_json=False)
        self._tolerant_sql = _decode_sql(tolerate_malformed_json=True)

    def close(self) -> None:
        self._connection.close()

    def decode(self, record_values: Sequence[bytes]) -> DecodedEvents:
        # event_values of each record, for the whole batch at once: the records joined, split once.
        lines = [line for line in EVENT_SEPARATOR.join(record_values).split(EVENT_SEPARATOR) if line.strip()]
        if not lines:
            return DecodedEvents(EVENTS_SCHEMA.empty_table(), [])
        texts, broken = _as_text(lines)
        if len(texts) == 0:
            return DecodedEvents(EVENTS_SCHEMA.empty_table(), broken)
        batch = pa.table({"line": texts})
        cursor = self._connection.cursor()
        try:
            cursor.register("batch", batch)
            try:
                result = cursor.sql(self._sql).to_arrow_table()
            except duckdb.InvalidInputException:
                result = cursor.sql(self._tolerant_sql).to_arrow_table()
        finally:
            cursor.close()
        is_good = result["is_good"].fill_null(False)
        if not pc.all(is_good).as_py():
            failed = batch["line"].filter(pc.invert(is_good)).to_pylist()
            broken += [(text.encode(), broken_reason(text.encode())) for text in failed]
            result = result.filter(is_good)
        table = result.select(EVENTS_SCHEMA.names).cast(EVENTS_SCHEMA)
        return DecodedEvents(table, broken)


def _as_text(lines: list[bytes]) -> tuple[pa.Array, list[tuple[bytes, str]]]:
    """The lines as one UTF-8 string array; a line that is not UTF-8 is set aside (one pass, then only on error)."""
    binary = pa.array(lines, type=pa.binary())
    try:
        return binary.cast(pa.string()), []
    except pa.ArrowInvalid:
        good: list[bytes] = []
        broken: list[tuple[bytes, str]] = []
        for line in lines:
            try:
                line.decode()
            except UnicodeDecodeError as error:
                broken.append((line, f"UnicodeDecodeError: {error}"))
            else:
                good.append(line)
        return pa.array(good, type=pa.binary()).cast(pa.string()), broken


_DAY_US = 86_400_000_000


def write_new_events(events_dir: Path, seen: LakeIds, table: pa.Table) -> tuple[int, list[Path]]:
    """Write the events the lake does not hold yet (by message_id), one new file per received date (the UTC
    date of received_at); returns how many were new and the files written."""
    if table.num_rows == 0:
        return 0, []
    day_numbers = table["received_at"].cast(pa.int64()).to_numpy() // _DAY_US
    epoch = date(1970, 1, 1)
    day_names = {int(n): (epoch + timedelta(days=int(n))).isoformat() for n in np.unique(day_numbers)}
    ids = table["message_id"].to_pylist()
    fresh = np.array(seen.fresh_mask(ids, [day_names[n] for n in day_numbers.tolist()]), dtype=bool)
    files: list[Path] = []
    ids_by_day: dict[str, set[str]] = {}
    for number, day in sorted(day_names.items()):
        selected = fresh & (day_numbers == number)
        if not selected.any():
            continue
        files.append(write_partition(events_dir, day, table.filter(pa.array(selected))))
        ids_by_day[day] = {ids[position] for position in np.flatnonzero(selected).tolist()}
    seen.remember(files, ids_by_day)
    return int(fresh.sum()), files
