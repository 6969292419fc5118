"""The sink's vectorised paths against simple reference rules, over many generated shapes: records cut into the
lines `event_values` would give, batches decoded to what each event parsed on its own gives, and batches written
by two restarting workers, whose Kafka partitions move between them and whose topic gains partitions, holding each
messageId once, the first copy received."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.contract.event import TrackedEvent, bundle_event_values, event_values
from streams.sink.events import EventDecoder, _split_lines, write_new_events
from warehouse.dedup import LakeIds
from warehouse.lake import EVENTS_SCHEMA, PARTITION_KEY, KafkaOrigin, events_glob, events_table

_PIECES = st.sampled_from([b"a", b"{}", b" ", b"\t", b"\n", b"\r", b"x y", b'{"k":1}'])
_RECORD = st.lists(_PIECES, max_size=6).map(b"".join)


@settings(deadline=None)
@given(records=st.lists(_RECORD, min_size=1, max_size=12))
def test_records_are_cut_into_the_lines_event_values_gives_in_order(records: list[bytes]) -> None:
    lines = [line.removesuffix(b"\n") for line in _split_lines(records).to_pylist()]

    assert lines == [line for record in records for line in event_values(record)]


@pytest.fixture(scope="module")
def decoder() -> Iterator[EventDecoder]:
    decoder = EventDecoder()
    yield decoder
    decoder.close()


_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
_JSON_SCALAR = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _TEXT
_DOCUMENT = st.dictionaries(
    _TEXT,
    st.recursive(
        _JSON_SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3)
    ),
    max_size=4,
)
_MOMENT = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)


@st.composite
def _event(draw: st.DrawFn, number: int) -> dict[str, Any]:
    received = draw(_MOMENT)
    happened = received - timedelta(seconds=draw(st.integers(0, 86_400 * 3)))
    event: dict[str, Any] = {
        "message_id": f"m-{number}-{draw(_TEXT)}",
        "type": draw(st.sampled_from(["track", "identify", "page", "screen"])),
        "person_id": draw(_TEXT),
        "channel": draw(st.sampled_from(["search", "share", "qr_code", ""])),
        "source": draw(st.sampled_from(["mini-program", "server", "simulator"])),
        "timestamp": happened.isoformat(),
        "original_timestamp": happened.isoformat(),
        "received_at": received.isoformat(),
    }
    for name, values in (
        ("event", st.none() | _TEXT),
        ("anonymous_id", st.none() | _TEXT),
        ("user_id", st.none() | _TEXT),
        ("sent_at", st.none() | st.just("") | _MOMENT.map(datetime.isoformat)),
        ("scene", st.none() | st.integers(0, 2**31 - 1)),
        ("properties", st.none() | _DOCUMENT),
        ("traits", st.none() | _DOCUMENT),
        ("context", st.none() | _DOCUMENT),
    ):
        if draw(st.booleans()):
            event[name] = draw(values)
    return event


@st.composite
def _records(draw: st.DrawFn) -> list[bytes]:
    count = draw(st.integers(1, 12))
    values = [orjson.dumps(draw(_event(number))) for number in range(count)]
    records: list[bytes] = []
    while values:
        take = draw(st.integers(1, len(values)))
        records.append(bundle_event_values(values[:take]))
        values = values[take:]
    return records


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(records=_records())
def test_any_batch_of_collector_records_decodes_as_each_event_parsed_on_its_own(
    decoder: EventDecoder, records: list[bytes]
) -> None:
    one_by_one = [TrackedEvent.from_json(line) for record in records for line in event_values(record)]

    decoded = decoder.decode(records)

    assert decoded.broken == []
    assert _with_documents_parsed(decoded.table.to_pylist()) == _with_documents_parsed(
        events_table(one_by_one).to_pylist()
    )


def _with_documents_parsed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The JSON documents as values: the lake holds them as JSON text, whose escapes may be written either way
    (`\\u001F` or `\\u001f`); dbt reads them with `from_json`."""
    return [{**row, **{name: orjson.loads(row[name]) for name in _DOCUMENTS}} for row in rows]


_DOCUMENTS = ("properties", "traits", "context")


_DAY_ONE = datetime(2024, 11, 11, tzinfo=UTC)


# (worker, restarted before it, the topic's partition count or None when the batch's origin is not known,
# [(message_id, seconds after day one)])
_Delivery = tuple[int, bool, int | None, list[tuple[str, int]]]


def _partition_of(message_id: str, partition_count: int) -> int:
    """Where every copy of a message is produced while the topic has this many partitions: Kafka hashes the key
    (the person) modulo the count, so adding partitions moves some keys (m-2 is on 0 of 2 but 2 of 4)."""
    return int(message_id.removeprefix("m-")) % partition_count


@st.composite
def _deliveries(draw: st.DrawFn) -> list[_Delivery]:
    """Batches as two sink workers get them, drawn from a few ids so that re-deliveries, retries inside a batch and
    across midnight are common. Which worker takes a batch is drawn each time, so partitions move between the
    workers (a rebalance) at any batch; the topic has 2 partitions, then 4 from a drawn batch on; now and then a
    batch's origin is unknown (its file records none)."""
    batches: list[_Delivery] = []
    grown_at = draw(st.integers(0, 8))
    for number in range(draw(st.integers(1, 8))):
        worker = draw(st.integers(0, 1))
        restarted = draw(st.booleans())
        partition_count = None if draw(st.integers(0, 5)) == 0 else 2 if number < grown_at else 4
        copies = draw(
            st.lists(
                st.tuples(st.sampled_from([f"m-{n}" for n in range(8)]), st.integers(0, 4 * 86_400 - 1)),
                min_size=1,
                max_size=5,  # small batches: a batch from one or two partitions is common
            )
        )
        batches.append((worker, restarted, partition_count, copies))
    return batches


def _expected_lake(deliveries: list[_Delivery]) -> list[tuple[str, str, str]]:
    """The rule, one copy at a time: a copy is written unless its id came earlier in the same batch or a written
    copy of it lies in the copy's received date or the day before (the sink looks no further back)."""
    written: list[tuple[str, str, str]] = []
    serial = 0
    for _worker, _restarted, _partition_count, copies in deliveries:
        taken: set[str] = set()
        for message_id, seconds in copies:
            day = (_DAY_ONE + timedelta(seconds=seconds)).date()
            near = {day.isoformat(), (day - timedelta(days=1)).isoformat()}
            if message_id not in taken and not any(m == message_id and d in near for m, d, _ in written):
                written.append((message_id, day.isoformat(), f"copy-{serial}"))
            taken.add(message_id)
            serial += 1
    return sorted(written)


@settings(max_examples=300, deadline=None)
@given(deliveries=_deliveries())
def test_two_workers_restarting_rebalancing_and_redelivering_write_each_message_once_and_keep_the_first_copy(
    deliveries: list[_Delivery],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        events_dir = Path(folder)
        workers = [_seen(events_dir), _seen(events_dir)]
        serial = 0
        for worker, restarted, partition_count, copies in deliveries:
            if restarted:  # a crashed worker comes back knowing only the lake
                workers[worker] = _seen(events_dir)
            rows = []
            for message_id, seconds in copies:
                rows.append(_row(message_id, _DAY_ONE + timedelta(seconds=seconds), f"copy-{serial}"))
                serial += 1
            origin = (
                None
                if partition_count is None
                else KafkaOrigin(
                    frozenset(_partition_of(message_id, partition_count) for message_id, _ in copies),
                    partition_count,
                )
            )
            table = pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA)
            write_new_events(events_dir, workers[worker], table, origin=origin)

        with duckdb.connect() as connection:
            lake = connection.execute(
                "select message_id, strftime(received_at, '%Y-%m-%d'), event from read_parquet(?)",
                [events_glob(events_dir)],
            ).fetchall()
    assert sorted(lake) == _expected_lake(deliveries), deliveries


def _seen(events_dir: Path) -> LakeIds:
    return LakeIds(events_dir, id_column="message_id", partition_key=PARTITION_KEY)


def _row(message_id: str, received_at: datetime, marker: str) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "type": "track",
        "event": marker,
        "person_id": "p-ada",
        "timestamp": received_at,
        "original_timestamp": received_at,
        "received_at": received_at,
        "channel": "search",
        "source": "mini-program",
        "properties": "{}",
        "traits": "{}",
        "context": "{}",
    }
