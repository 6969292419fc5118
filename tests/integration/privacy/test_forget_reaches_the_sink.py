"""`shoploop privacy forget` also holds for the events that reach the lake after it: those that were already on
Kafka when it ran, and those a collector worker keyed by the old person in the moment before it read the erasure
log. The real sink drops them all, and still writes another shopper's events and the same phone's later events."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Producer

from ingestion.collector.identity import IdentityGraph, Sighting, anonymous, user
from ingestion.collector.settings import CollectorSettings
from shoploop.kafka import Topics
from shoploop.privacy import forget
from tests.support.sink import events_broker_fixture, events_erased, events_taken, lake_rows, viewed
from tests.support.stack import sink_worker, wait_for
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration

bootstrap = events_broker_fixture(partitions=2)


def _send(bootstrap: str, events: list[tuple[str, bytes]]) -> None:
    """(person, value) pairs onto `shoploop.events`, keyed by the person as the collector keys them."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for person, value in events:
        producer.produce(Topics.EVENTS.name, value, person.encode())
    assert producer.flush(30) == 0


def test_events_of_a_forgotten_shopper_that_reach_the_sink_after_the_erasure_never_land_in_the_lake(
    bootstrap: str, tmp_path: Path
) -> None:
    # A short window for the person rule, so the test can wait it out (the default is ten minutes).
    warehouse = WarehouseSettings(data_dir=tmp_path, erasure_person_window_s=3)
    collector = CollectorSettings(identity_database_url=f"sqlite:///{tmp_path / 'identity.db'}")
    graph = IdentityGraph.from_url(collector.identity_database_url)
    (lily,) = graph.resolve([Sighting(identities=(anonymous("phone-lily"), user("u-lily")), links=True)])
    (ming,) = graph.resolve([Sighting(identities=(anonymous("phone-ming"),), links=False)])
    # The sink lags: Lily's browsing and login are still on Kafka when she asks to be forgotten.
    before = datetime.now(UTC)
    _send(
        bootstrap,
        [
            (lily, viewed("lily-browsing", lily, anonymous_id="phone-lily", received_at=before)),
            (
                lily,
                viewed(
                    "lily-logged-in", lily, anonymous_id="phone-lily", user_id="u-lily", received_at=before
                ),
            ),
            (ming, viewed("ming-browsing", ming, anonymous_id="phone-ming", received_at=before)),
        ],
    )

    report = forget("u-lily", collector=collector, warehouse=warehouse)

    # In the second before a collector worker reads the erasure log, it still keys Lily's phone by her old person.
    window = report.erased_at + timedelta(milliseconds=500)
    _send(
        bootstrap, [(lily, viewed("lily-in-the-window", lily, anonymous_id="phone-lily", received_at=window))]
    )
    # Later her phone comes back: the graph makes it a new person (whose id is the phone's own, as before).
    time.sleep(max(0.0, (report.erased_at + timedelta(seconds=3) - datetime.now(UTC)).total_seconds()) + 0.5)
    (newcomer,) = graph.resolve([Sighting(identities=(anonymous("phone-lily"),), links=False)])
    _send(
        bootstrap,
        [
            (newcomer, viewed("phone-lily-as-a-new-person", newcomer, anonymous_id="phone-lily")),
            (ming, viewed("ming-later", ming, anonymous_id="phone-ming")),
        ],
    )

    with sink_worker(bootstrap, tmp_path, log=tmp_path / "sink.log") as sink:

        def taken() -> bool:
            assert sink.poll() is None, "the sink died"
            return events_taken(tmp_path / "sink.log") == 6

        wait_for(taken, timeout_s=120, what="the sink took all six events")

    assert report.person_id == lily == newcomer == "phone-lily"
    # Nothing of Lily's: not what was on Kafka, nor what came keyed by her old person in the window.
    assert {str(message_id) for (message_id,) in lake_rows(warehouse.events_dir, "message_id")} == {
        "ming-browsing",
        "ming-later",
        "phone-lily-as-a-new-person",
    }
    assert events_erased(tmp_path / "sink.log") == 3
