"""`shoploop privacy forget` also holds for the events that reach the lake after it: those that were already on
Kafka when it ran, and those a collector worker keyed by the old person in the moment before it read the erasure
log. The real sink drops them all, and still writes another shopper's events and the same phone's later events;
its pushes sink drops a push the streams decided for her before the erasure."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from ingestion.collector.identity import IdentityGraph, Sighting, anonymous, user
from ingestion.collector.settings import CollectorSettings
from shoploop.kafka import Topics
from shoploop.privacy import forget
from tests.support.sink import (
    events_broker_fixture,
    events_erased,
    events_taken,
    lake_rows,
    pushes_erased,
    viewed,
)
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


def _decided(push_id: str, person: str, *, fired_at: datetime) -> bytes:
    """A trigger on `shoploop.streams.triggers` as the automations engine sends it (outcome `send`)."""
    return orjson.dumps(
        {
            "trigger_id": push_id,
            "rule_id": "abandoned-cart",
            "rule_version": 1,
            "person_id": person,
            "user_id": None,
            "fired_at": fired_at.isoformat(),
            "outcome": "send",
            "template_id": "tpl-cart",
        }
    )


def test_a_push_decided_for_a_forgotten_shopper_that_reaches_the_sink_after_the_erasure_never_lands_in_the_lake(
    bootstrap: str, tmp_path: Path
) -> None:
    warehouse = WarehouseSettings(data_dir=tmp_path)
    collector = CollectorSettings(identity_database_url=f"sqlite:///{tmp_path / 'identity.db'}")
    graph = IdentityGraph.from_url(collector.identity_database_url)
    (lily,) = graph.resolve([Sighting(identities=(anonymous("tablet-lily"), user("u-lily")), links=True)])
    # The streams decided a cart reminder for Lily a minute ago; the sink has not taken it when she is forgotten.
    decided_at = datetime.now(UTC) - timedelta(minutes=1)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    # One key for both, so they share a partition and Ming's is taken after Lily's.
    for value in (
        _decided("push-lily", lily, fired_at=decided_at),
        _decided("push-ming", "phone-ming", fired_at=decided_at),
    ):
        producer.produce(Topics.TRIGGERS.name, value, b"one-partition")
    assert producer.flush(30) == 0

    forget("u-lily", collector=collector, warehouse=warehouse)

    with sink_worker(bootstrap, tmp_path, log=tmp_path / "sink.log") as sink:

        def mings_push_landed() -> bool:
            assert sink.poll() is None, "the sink died"
            return bool(lake_rows(warehouse.pushes_dir, "push_id"))

        wait_for(mings_push_landed, timeout_s=120, what="the sink wrote Ming's push")

    assert [str(push_id) for (push_id,) in lake_rows(warehouse.pushes_dir, "push_id")] == ["push-ming"]
    assert pushes_erased(tmp_path / "sink.log") == 1
