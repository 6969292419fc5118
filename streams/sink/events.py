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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import structlog

from ingestion.contract.event import EVENT_SEPARATOR, TrackedEvent
from warehouse.dedup import LakeIds
from warehouse.erasure import LakeErasures
from warehouse.lake import EVENTS_SCHEMA, KafkaOrigin, write_partition

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
_TIMES = (*_REQUIRED_TIMES, "sent_at")
_UTC_MICROS = pa.timestamp("us", tz="UTC")
_DOCUMENTS = ("properties", "traits", "context")


def _decode_sql(*, tolerate_malformed_json: bool) -> str:
    """One parse per line, its fields as columns and nothing else: the rules, the documents' defaults and the
    times are applied after, vectorised in Arrow (`_good_rows`, `_cast_times`), which is cheaper than DuckDB's
    expressions over the parsed struct. Why a row is not good is worked out afterwards, in Python, for those few
    lines only. A line that is not JSON at all fails plain `from_json` for the whole batch, so such a batch is
    decoded again with `try(from_json(…))` (null for that line, so every field null; a quarter slower)."""
    struct = orjson.dumps(_FIELDS).decode()
    parse = f"from_json(line, '{struct}')"
    if tolerate_malformed_json:
        parse = f"try({parse})"
    return f"select {parse} as event from batch"


def _good_rows(fields: pa.Table) -> pa.ChunkedArray:
    """Which parsed lines are events: the required fields present, each document absent or a JSON object."""
    is_good = fields[_REQUIRED[0]].is_valid()
    for name in _REQUIRED[1:]:
        is_good = pc.and_(is_good, fields[name].is_valid())
    for name in _DOCUMENTS:
        column = fields[name]
        # Kleene `or`: null or anything is null with plain `or_`, which would refuse every absent document.
        is_good = pc.and_(is_good, pc.or_kleene(column.is_null(), pc.starts_with(column, "{")))
    return is_good


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
        lines = _split_lines(record_values)
        if len(lines) == 0:
            return DecodedEvents(EVENTS_SCHEMA.empty_table(), [])
        texts, broken = _as_text(lines)
        if len(texts) == 0:
            return DecodedEvents(EVENTS_SCHEMA.empty_table(), broken)
        batch = pa.table({"line": texts})
        cursor = self._connection.cursor()
        try:
            cursor.register("batch", batch)
            try:
                parsed = cursor.sql(self._sql).to_arrow_table()
            except duckdb.InvalidInputException:
                parsed = cursor.sql(self._tolerant_sql).to_arrow_table()
        finally:
            cursor.close()
        # The struct's fields as columns in Arrow (no copy; a null struct, a line `try` gave up on, nulls each
        # field) rather than DuckDB's `unnest`, which copies every column once more.
        result = pa.Table.from_arrays(parsed["event"].flatten(), names=list(_FIELDS))
        is_good = _good_rows(result)
        sent_at = result["sent_at"]
        result = result.set_column(
            result.schema.get_field_index("sent_at"),
            "sent_at",
            pc.if_else(pc.equal(sent_at, ""), pa.scalar(None, sent_at.type), sent_at),
        )
        for name in _DOCUMENTS:
            column = result[name]
            result = result.set_column(
                result.schema.get_field_index(name), name, column.fill_null(pa.scalar("{}", column.type))
            )
        times = {name: _cast_times(result[name]) for name in _TIMES}
        for name in _REQUIRED_TIMES:
            is_good = pc.and_(is_good, times[name].is_valid())
        # A sent_at that is there must be a time.
        is_good = pc.and_(is_good, pc.or_(result["sent_at"].is_null(), times["sent_at"].is_valid()))
        for name, column in times.items():
            result = result.set_column(result.schema.get_field_index(name), name, column)
        if not pc.all(is_good).as_py():
            failed = [
                text.removesuffix("\n").encode() for text in texts.filter(pc.invert(is_good)).to_pylist()
            ]
            broken += [(line, broken_reason(line)) for line in failed]
            result = result.filter(is_good)
        table = result.select(EVENTS_SCHEMA.names).cast(EVENTS_SCHEMA)
        return DecodedEvents(table, broken)


def _cast_times(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """ISO 8601 text → UTC timestamps, null where a time is missing or not a time. Arrow's vectorised parser
    reads the usual times (with an offset, up to microseconds); a column it refuses somewhere is read value by
    value as the event contract reads it (`datetime.fromisoformat`; a time without an offset is UTC)."""
    try:
        return pc.cast(text, _UTC_MICROS)
    except pa.ArrowInvalid:
        return pa.chunked_array([[_contract_time(value) for value in text.to_pylist()]], type=_UTC_MICROS)


def _contract_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_WHITESPACE = np.frombuffer(b" \t\n\r\x0b\x0c", dtype=np.uint8)


def _split_lines(record_values: Sequence[bytes]) -> pa.LargeBinaryArray:
    """`event_values` of every record at once: the records joined and cut at each separator by offsets found
    vectorised, not a `bytes` object per line. Each line keeps its separator at the end (JSON allows the trailing
    whitespace); blank lines are left out."""
    buffer = EVENT_SEPARATOR.join(record_values)
    if not buffer:
        return pa.array([], type=pa.large_binary())
    data = np.frombuffer(buffer, dtype=np.uint8)
    if buffer.count(EVENT_SEPARATOR) == len(record_values) - 1:
        # The common case: no record holds a separator, so each record is one line and the offsets follow from
        # the records' lengths (a count in C instead of a comparison array over every byte).
        ends = np.cumsum(np.fromiter(map(len, record_values), dtype=np.int64, count=len(record_values)) + 1)
        ends[-1] -= 1  # the last record has no separator after it
    else:
        ends = np.flatnonzero(data == EVENT_SEPARATOR[0]) + 1
        if buffer[-1:] != EVENT_SEPARATOR:
            ends = np.append(ends, len(buffer))
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    lines = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(buffer)]
    )
    # A line that is blank is empty or starts with whitespace: only those few are looked at.
    starts = offsets[:-1]
    is_empty = starts == offsets[1:]
    maybe_blank = np.flatnonzero(is_empty | np.isin(data[np.minimum(starts, len(data) - 1)], _WHITESPACE))
    if len(maybe_blank) == 0:
        return lines
    keep = np.ones(len(lines), dtype=bool)
    for position in maybe_blank.tolist():
        keep[position] = bool(buffer[offsets[position] : offsets[position + 1]].strip())
    return lines.filter(pa.array(keep))


def _as_text(lines: pa.LargeBinaryArray) -> tuple[pa.Array, list[tuple[bytes, str]]]:
    """The lines as one UTF-8 string array; a line that is not UTF-8 is set aside (one pass, then only on error)."""
    try:
        return lines.cast(pa.large_string()), []
    except pa.ArrowInvalid:
        good: list[bool] = []
        broken: list[tuple[bytes, str]] = []
        for line in lines.to_pylist():
            try:
                line.decode()
            except UnicodeDecodeError as error:
                broken.append((line.rstrip(EVENT_SEPARATOR), f"UnicodeDecodeError: {error}"))
                good.append(False)
            else:
                good.append(True)
        return lines.filter(pa.array(good)).cast(pa.large_string()), broken


log = structlog.get_logger(__name__)

_DAY_US = 86_400_000_000


def write_new_events(
    events_dir: Path,
    seen: LakeIds,
    table: pa.Table,
    *,
    origin: KafkaOrigin | None = None,
    erasures: LakeErasures | None = None,
) -> tuple[int, list[Path]]:
    """Write the events the lake does not hold yet (by message_id), one new file per received date (the UTC
    date of received_at); returns how many were new and the files written. With `origin` (the Kafka partitions
    the batch came from), only files that may hold copies of its messages are checked, and the new files' names
    record the origin (`warehouse.lake.KafkaOrigin`). With `erasures` (the lake's tombstones), the events of
    people erased by `privacy forget` are dropped first (counted in `erasures.dropped_last`), under the lake's
    erasure lock, so an erasure running meanwhile either sees this batch's files or this batch sees it."""
    if erasures is None:
        return _write_new_events(events_dir, seen, table, origin)
    with erasures.writing():
        kept = erasures.drop_erased(table)
        if erasures.dropped_last:
            log.info("sink_dropped_erased_events", events=erasures.dropped_last, total=erasures.dropped_total)
        return _write_new_events(events_dir, seen, kept, origin)


def _write_new_events(
    events_dir: Path, seen: LakeIds, table: pa.Table, origin: KafkaOrigin | None
) -> tuple[int, list[Path]]:
    if table.num_rows == 0:
        return 0, []
    day_numbers = table["received_at"].cast(pa.int64()).to_numpy() // _DAY_US
    epoch = date(1970, 1, 1)
    first_day, last_day = int(day_numbers.min()), int(day_numbers.max())
    # Almost every batch falls in one day: a min and a max, not a sort of the batch.
    days = [first_day] if first_day == last_day else np.unique(day_numbers).tolist()
    day_names = {n: (epoch + timedelta(days=n)).isoformat() for n in days}
    message_ids = table["message_id"]
    rows_by_day: dict[str, np.ndarray | None] = {}
    ids_by_day: dict[str, set[str]] = {}
    if len(day_names) == 1:
        (day,) = day_names.values()
        rows_by_day[day] = None  # every row
        ids_by_day[day] = set(message_ids.to_pylist())
    else:
        for number, day in day_names.items():
            rows_by_day[day] = day_numbers == number
            ids_by_day[day] = set(message_ids.filter(pa.array(rows_by_day[day])).to_pylist())
    # The common case, checked set-wise: no id repeated in the batch (within a day or across two) and none in
    # the lake already. Otherwise each row is looked at in arrival order, so the first copy received is kept.
    distinct = sum(len(ids) for ids in ids_by_day.values())
    if len(ids_by_day) > 1 and distinct == table.num_rows:
        distinct = len(set().union(*ids_by_day.values()))
    if distinct != table.num_rows or seen.holds_any(ids_by_day, batch=origin):
        return _write_fresh_rows(events_dir, seen, table, day_numbers, day_names, origin)
    files = []
    for day, rows in sorted(rows_by_day.items()):
        day_rows = table if rows is None else table.filter(pa.array(rows))
        files.append(write_partition(events_dir, day, day_rows, origin=origin))
    seen.remember(files, ids_by_day)
    return table.num_rows, files


def _write_fresh_rows(
    events_dir: Path,
    seen: LakeIds,
    table: pa.Table,
    day_numbers: np.ndarray,
    day_names: dict[int, str],
    origin: KafkaOrigin | None,
) -> tuple[int, list[Path]]:
    """A batch with a repeated or already written id: row by row, the first copy of each id is kept."""
    ids = table["message_id"].to_pylist()
    days = [day_names[n] for n in day_numbers.tolist()]
    fresh = np.array(seen.fresh_mask(ids, days, batch=origin), dtype=bool)
    files: list[Path] = []
    ids_by_day: dict[str, set[str]] = {}
    for number, day in sorted(day_names.items()):
        selected = fresh & (day_numbers == number)
        if not selected.any():
            continue
        files.append(write_partition(events_dir, day, table.filter(pa.array(selected)), origin=origin))
        ids_by_day[day] = {ids[position] for position in np.flatnonzero(selected).tolist()}
    seen.remember(files, ids_by_day)
    return int(fresh.sum()), files
