"""The sink's vectorised decoding against the one-event-at-a-time contract, over many generated shapes: records cut
into the lines `event_values` would give, and batches decoded to what each event parsed on its own gives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.contract.event import TrackedEvent, bundle_event_values, event_values
from streams.sink.events import EventDecoder, _split_lines
from warehouse.lake import events_table

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
    st.recursive(_JSON_SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3)),
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


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
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
