from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from ingestion.collector.publisher import MAX_BUNDLE_BYTES, _bundled, partition_for
from ingestion.contract.event import event_values


def test_the_cached_partition_is_the_one_kafkas_default_partitioner_gives() -> None:
    partitions = [0, 1, 2, 3]
    for person in (b"device-lily", b"device-lucy", b"u-42", "微信用户".encode()):
        assert partition_for(person, 4) == DefaultPartitioner()(person, partitions, partitions)


def test_one_persons_events_travel_as_one_record_keyed_by_that_person() -> None:
    records = [(b"device-lily", b'{"n":1}'), (b"device-lily", b'{"n":2}')]

    [(key, value)] = _bundled(records)

    assert key == b"device-lily"
    assert event_values(value) == [b'{"n":1}', b'{"n":2}']


def test_a_record_of_several_people_carries_no_key() -> None:
    [(key, value)] = _bundled([(b"device-lily", b'{"n":1}'), (b"device-lucy", b'{"n":2}')])

    assert key is None
    assert len(event_values(value)) == 2


def test_bundles_are_split_before_they_outgrow_the_size_cap_and_lose_no_event() -> None:
    big = b'{"pad":"' + b"x" * (MAX_BUNDLE_BYTES // 3) + b'"}'
    records = [(b"device-lily", big)] * 7

    bundles = _bundled(records)

    assert all(len(value) <= MAX_BUNDLE_BYTES for _, value in bundles)
    assert sum(len(event_values(value)) for _, value in bundles) == 7


def test_events_that_just_fill_the_size_cap_travel_as_one_record_and_one_byte_more_makes_two() -> None:
    # Two events and the newline after each fill the cap exactly (the cap counts one newline per event).
    half = MAX_BUNDLE_BYTES // 2 - 1
    filling = [(b"device-lily", b"x" * half), (b"device-lily", b"y" * (MAX_BUNDLE_BYTES - half - 2))]
    overfilling = [filling[0], (b"device-lily", filling[1][1] + b"z")]

    [(_, one_record)] = _bundled(filling)
    two_records = _bundled(overfilling)

    assert len(one_record) == MAX_BUNDLE_BYTES - 1
    assert [len(event_values(value)) for _, value in two_records] == [1, 1]
