"""`shoploop privacy forget` while a request for the same shopper is in flight leaves no mapping of the erased
person in the identity-graph database, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy import event as sqlalchemy_event

from ingestion.collector.identity import IdentityGraph, Sighting, anonymous, user
from tests.support import databases

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with databases.database_url(request.param, tmp_path, name="identity") as url:
        yield url


def _seen(device: str) -> Sighting:
    return Sighting(identities=(anonymous(device),), links=False)


def _logs_in(device: str, user_id: str) -> Sighting:
    return Sighting(identities=(anonymous(device), user(user_id)), links=True)


def test_a_login_whose_lookup_read_the_shopper_before_the_erasure_stores_no_mapping_after_it(
    database_url: str,
) -> None:
    privacy_cli = IdentityGraph.from_url(database_url)
    privacy_cli.resolve([_seen("phone-lily")])
    # The collector reads Lily's device from the database; the erasure runs right after that read.
    engine = create_engine(database_url)
    erased = threading.Event()

    def erase_after_the_lookup(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM identities" in statement and not erased.is_set():
            erased.set()
            privacy_cli.forget("phone-lily")

    sqlalchemy_event.listen(engine, "after_cursor_execute", erase_after_the_lookup)
    collector = IdentityGraph(engine)

    collector.resolve([_logs_in("phone-lily", "u-lily")])

    assert erased.is_set()
    assert privacy_cli.identities_of("phone-lily") == []
    assert privacy_cli.person_of("u-lily") is None


def test_a_login_decided_from_a_cache_that_has_not_yet_applied_the_erasure_stores_no_mapping(
    database_url: str,
) -> None:
    collector, privacy_cli = IdentityGraph.from_url(database_url), IdentityGraph.from_url(database_url)
    collector.resolve([_seen("phone-lily")])  # cached by the collector
    privacy_cli.forget("phone-lily")

    # Within the second before the collector reads the erasure log, Lily logs in on her device.
    collector.resolve([_logs_in("phone-lily", "u-lily")])

    assert privacy_cli.identities_of("phone-lily") == []
    assert privacy_cli.merged_with("phone-lily") == []


def test_a_second_phone_linked_just_after_the_erasure_records_no_merge_with_the_erased_person(
    database_url: str,
) -> None:
    collector, privacy_cli = IdentityGraph.from_url(database_url), IdentityGraph.from_url(database_url)
    collector.resolve([_logs_in("phone-lily", "u-lily"), _seen("tablet-lily")])
    privacy_cli.forget("phone-lily")

    collector.resolve([_logs_in("tablet-lily", "u-lily")])

    assert privacy_cli.merged_with("phone-lily") == []
    assert privacy_cli.identities_of("phone-lily") == []


def test_an_erasure_waits_for_an_insert_in_flight_and_removes_what_it_stored(database_url: str) -> None:
    privacy_cli = IdentityGraph.from_url(database_url)
    privacy_cli.resolve([_seen("phone-lily")])
    # The collector's insert of Lily's login has run but not committed when the erasure starts.
    engine = create_engine(database_url)
    erasing = threading.Thread(target=privacy_cli.forget, args=("phone-lily",))

    def erase_during_the_insert(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lower().startswith("insert into identities") and not erasing.is_alive():
            erasing.start()
            erasing.join(timeout=1)  # it must wait for this transaction, not finish beside it

    sqlalchemy_event.listen(engine, "after_cursor_execute", erase_during_the_insert)
    collector = IdentityGraph(engine)

    collector.resolve([_logs_in("phone-lily", "u-lily")])
    erasing.join(timeout=30)

    assert not erasing.is_alive()
    assert privacy_cli.identities_of("phone-lily") == []


def test_a_shopper_seen_again_after_the_collector_applied_the_erasure_is_stored_as_a_new_person(
    database_url: str,
) -> None:
    collector, privacy_cli = IdentityGraph.from_url(database_url), IdentityGraph.from_url(database_url)
    collector.resolve([_logs_in("phone-lily", "u-lily")])
    privacy_cli.forget("phone-lily")
    assert collector.drop_forgotten() == 1

    assert collector.resolve([_seen("phone-lily")]) == ["phone-lily"]

    assert privacy_cli.identities_of("phone-lily") == ["a:phone-lily"]
