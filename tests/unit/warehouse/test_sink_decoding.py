"""The events sink decodes whole Kafka batches into the lake's columns exactly as one event at a time would,
sets broken lines aside with their reason, and writes each messageId once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import orjson
import pytest

from ingestion.contract.event import TrackedEvent, bundle_event_values, event_values
from streams.sink.events import EventDecoder, write_new_events
from warehouse.dedup import LakeIds
from warehouse.lake import PARTITION_KEY, events_glob, events_table
from warehouse.publish import FIXTURE_EVENTS, load_fixture_events


@pytest.fixture
def decoder() -> Iterator[EventDecoder]:
    decoder = EventDecoder()
    yield decoder
    decoder.close()


def _fixture_lines() -> list[bytes]:
    return [line for line in FIXTURE_EVENTS.read_bytes().splitlines() if line.strip()]


def _lake_ids(events_dir: Path) -> list[str]:
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select message_id from read_parquet(?) order by message_id", [events_glob(events_dir)]
        ).fetchall()
    return [row[0] for row in rows]


def test_a_batch_decodes_to_the_same_columns_as_each_event_parsed_on_its_own(decoder: EventDecoder) -> None:
    lines = _fixture_lines()
    # Records as the collector sends them: several events per record, and single-event records.
    records = [bundle_event_values(lines[:3]), *lines[3:10], bundle_event_values(lines[10:])]

    decoded = decoder.decode(records)

    assert decoded.broken == []
    assert decoded.table.to_pylist() == events_table(load_fixture_events()).to_pylist()


def test_broken_lines_are_set_aside_with_their_reason_and_the_rest_of_the_record_is_kept(
    decoder: EventDecoder,
) -> None:
    good = _fixture_lines()[0]
    no_person = orjson.loads(good)
    del no_person["person_id"]
    bad_time = {**orjson.loads(good), "message_id": "fx-bad-time", "received_at": "yesterday"}
    record = bundle_event_values(
        [b"not json", good, orjson.dumps(no_person), b"[1, 2]", orjson.dumps(bad_time), b"\xff\xfe"]
    )

    decoded = decoder.decode([record])

    assert decoded.table["message_id"].to_pylist() == [orjson.loads(good)["message_id"]]
    reasons = [reason for _, reason in decoded.broken]
    assert reasons[0].startswith("UnicodeDecodeError")
    assert [reason.split(":")[0] for reason in reasons[1:]] == [
        "JSONDecodeError",
        "KeyError",
        "TypeError",
        "ValueError",
    ]
    assert "person_id" in reasons[2] and "yesterday" in reasons[4]
    assert decoded.broken[1][0] == b"not json"


def test_a_batch_delivered_again_after_a_crash_adds_nothing_and_a_retry_inside_a_batch_is_written_once(
    tmp_path: Path, decoder: EventDecoder
) -> None:
    lines = _fixture_lines()
    first = decoder.decode(lines[:20])
    written, _ = write_new_events(tmp_path, _seen(tmp_path), first.table)
    unique_in_first = len(set(first.table["message_id"].to_pylist()))
    assert written == unique_in_first

    # A restarted sink knows only the lake; it gets the first batch again and the rest.
    again = decoder.decode(lines)
    written_again, _ = write_new_events(tmp_path, _seen(tmp_path), again.table)

    every_id = {event.message_id for event in load_fixture_events()}
    assert written_again == len(every_id) - unique_in_first
    assert _lake_ids(tmp_path) == sorted(every_id)


def test_the_first_copy_received_is_the_one_kept(tmp_path: Path, decoder: EventDecoder) -> None:
    line = orjson.loads(_fixture_lines()[0])
    retry = {**line, "received_at": "2024-11-11T01:05:09.000000+00:00"}
    decoded = decoder.decode([orjson.dumps(line), orjson.dumps(retry)])

    write_new_events(tmp_path, _seen(tmp_path), decoded.table)

    with duckdb.connect() as connection:
        rows = connection.execute(
            "select received_at from read_parquet(?)", [events_glob(tmp_path)]
        ).fetchall()
    assert [row[0].isoformat() for row in rows] == ["2024-11-11T01:05:02+00:00"]


def _seen(events_dir: Path) -> LakeIds:
    return LakeIds(events_dir, id_column="message_id", partition_key=PARTITION_KEY)


def test_blank_lines_and_a_trailing_separator_in_a_record_are_skipped_as_event_values_skips_them(
    decoder: EventDecoder,
) -> None:
    lines = _fixture_lines()
    record = b"\n" + bundle_event_values(lines[:2]) + b"\n  \n\r\n" + lines[2] + b"\n"

    decoded = decoder.decode([record, b"", lines[3]])

    assert decoded.broken == []
    expected = [orjson.loads(line)["message_id"] for line in [*event_values(record), lines[3]]]
    assert decoded.table["message_id"].to_pylist() == expected
    assert len(expected) == 4


def test_times_arrow_cannot_read_are_read_as_the_event_contract_reads_them(decoder: EventDecoder) -> None:
    line = orjson.loads(_fixture_lines()[0])
    # No zone offset (the contract takes UTC) and nanoseconds (cut to microseconds) in the same batch as a
    # plain time: the batch falls back to DuckDB's reading for those columns.
    naive = {**line, "message_id": "fx-naive", "timestamp": "2024-11-11T09:30:00"}
    nanos = {**line, "message_id": "fx-nanos", "received_at": "2024-11-11T01:05:02.123456789+00:00"}

    decoded = decoder.decode([orjson.dumps(line), orjson.dumps(naive), orjson.dumps(nanos)])

    assert decoded.broken == []
    by_id = {row["message_id"]: row for row in decoded.table.to_pylist()}
    # TrackedEvent keeps a time without an offset naive, and the lake stores it as UTC.
    assert TrackedEvent.from_json(orjson.dumps(naive)).timestamp.isoformat() == "2024-11-11T09:30:00"
    assert by_id["fx-naive"]["timestamp"].isoformat() == "2024-11-11T09:30:00+00:00"
    assert by_id["fx-nanos"]["received_at"].isoformat() == "2024-11-11T01:05:02.123456+00:00"
    assert by_id[line["message_id"]]["timestamp"] == TrackedEvent.from_json(orjson.dumps(line)).timestamp


def test_a_retry_received_after_midnight_in_the_same_batch_is_written_once_in_the_first_copys_day(
    tmp_path: Path, decoder: EventDecoder
) -> None:
    line = orjson.loads(_fixture_lines()[0])
    before_midnight = {**line, "message_id": "fx-late", "received_at": "2024-11-11T23:59:59.000000+00:00"}
    retry = {**before_midnight, "received_at": "2024-11-12T00:00:01.000000+00:00"}
    next_day = {**line, "message_id": "fx-next-day", "received_at": "2024-11-12T00:00:02.000000+00:00"}
    decoded = decoder.decode([orjson.dumps(before_midnight), orjson.dumps(retry), orjson.dumps(next_day)])

    written, files = write_new_events(tmp_path, _seen(tmp_path), decoded.table)

    assert (written, sorted(path.parent.name for path in files)) == (
        2,
        ["received_date=2024-11-11", "received_date=2024-11-12"],
    )
    assert _lake_ids(tmp_path) == ["fx-late", "fx-next-day"]
