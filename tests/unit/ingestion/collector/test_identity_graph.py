from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy import event as sqlalchemy_event

from ingestion.collector.identity import IdentityGraph, Sighting, anonymous, identity_forgets, user
from ingestion.contract.event import TrackedEvent


@pytest.fixture
def graph(tmp_path: Path) -> IdentityGraph:
    return IdentityGraph.from_url(f"sqlite:///{tmp_path / 'identity.db'}")


def _track(device: str | None = None, user_id: str | None = None) -> Sighting:
    ids = tuple(x for x in (device and anonymous(device), user_id and user(user_id)) if x)
    return Sighting(identities=ids, links=False)


def _identify(device: str, user_id: str) -> Sighting:
    return Sighting(identities=(anonymous(device), user(user_id)), links=True)


def test_a_shoppers_events_before_and_after_login_resolve_to_one_person(graph: IdentityGraph) -> None:
    people = graph.resolve(
        [_track("phone-lily"), _identify("phone-lily", "u-lily"), _track("phone-lily", "u-lily")]
    )
    assert people == ["phone-lily", "phone-lily", "phone-lily"]


def test_server_side_events_with_only_the_user_id_join_the_shoppers_person(graph: IdentityGraph) -> None:
    graph.resolve([_track("phone-lily"), _identify("phone-lily", "u-lily")])
    assert graph.resolve([_track(user_id="u-lily")]) == ["phone-lily"]


def test_a_second_phone_keeps_its_own_key_and_the_link_is_recorded_as_a_merge(graph: IdentityGraph) -> None:
    graph.resolve([_identify("phone-lily", "u-lily"), _track("tablet-lily")])
    assert graph.resolve([_identify("tablet-lily", "u-lily")]) == ["phone-lily"]
    assert graph.resolve([_track("tablet-lily")]) == ["tablet-lily"]
    assert graph.merges() == [("tablet-lily", "phone-lily")]


def test_mappings_never_move_so_another_workers_cache_stays_right(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = IdentityGraph.from_url(url), IdentityGraph.from_url(url)
    assert first.resolve([_track(user_id="u-ming")]) == ["u-ming"]
    # The other worker has not seen u-ming, and maps the login to the person the first worker stored.
    assert second.resolve([_identify("phone-ming", "u-ming")]) == ["u-ming"]
    assert first.resolve([_track("phone-ming")]) == ["u-ming"]


def test_forgetting_a_person_removes_their_identities(graph: IdentityGraph) -> None:
    graph.resolve([_identify("phone-lily", "u-lily")])
    assert graph.forget("phone-lily") == 2
    assert graph.resolve([_track(user_id="u-lily")]) == ["u-lily"]


def _events(*sightings: tuple[str, str | None, str | None]) -> list[TrackedEvent]:
    """Events of (type, anonymousId, userId), as the collector hands them to the graph."""
    received = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
    return [
        TrackedEvent(
            message_id=f"m-{index}",
            type=message_type,
            event="Product Viewed" if message_type == "track" else None,
            person_id=device or user_id or "",
            anonymous_id=device,
            user_id=user_id,
            timestamp=received,
            original_timestamp=received,
            sent_at=None,
            received_at=received,
            scene=None,
            channel="direct",
            source="miniprogram",
        )
        for index, (message_type, device, user_id) in enumerate(sightings)
    ]


def test_ids_seen_before_are_resolved_from_the_cache_alone(graph: IdentityGraph) -> None:
    graph.assign_people(_events(("identify", "phone-lily", "u-lily")))

    cached = graph.assign_people_from_cache(
        _events(
            ("track", "phone-lily", None), ("track", None, "u-lily"), ("identify", "phone-lily", "u-lily")
        )
    )

    assert cached is not None
    assert [event.person_id for event in cached] == ["phone-lily", "phone-lily", "phone-lily"]


def test_a_new_id_is_never_decided_from_the_cache(graph: IdentityGraph) -> None:
    graph.assign_people(_events(("track", "phone-lily", None)))

    assert (
        graph.assign_people_from_cache(_events(("track", "phone-lily", None), ("track", "tablet-lily", None)))
        is None
    )
    assert graph.assign_people_from_cache(_events(("track", "phone-lily", "u-lily"))) is None


def test_a_link_between_two_known_people_goes_to_the_database_to_record_the_merge(
    graph: IdentityGraph,
) -> None:
    graph.assign_people(_events(("identify", "phone-lily", "u-lily"), ("track", "tablet-lily", None)))

    assert graph.assign_people_from_cache(_events(("identify", "tablet-lily", "u-lily"))) is None
    assert [e.person_id for e in graph.assign_people(_events(("identify", "tablet-lily", "u-lily")))] == [
        "phone-lily"
    ]
    assert graph.merges() == [("tablet-lily", "phone-lily")]


def test_a_workers_cache_serves_no_stale_person_after_another_worker_links_an_id(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = IdentityGraph.from_url(url), IdentityGraph.from_url(url)
    # The first worker knows the phone; the second sees the shopper log in on it.
    first.assign_people(_events(("track", "phone-ming", None)))
    second.assign_people(_events(("identify", "phone-ming", "u-ming")))

    # The first worker has not cached u-ming, so it asks the database rather than guess a person of its own.
    assert first.assign_people_from_cache(_events(("track", None, "u-ming"))) is None
    assert [e.person_id for e in first.assign_people(_events(("track", None, "u-ming")))] == ["phone-ming"]
    cached = first.assign_people_from_cache(_events(("track", None, "u-ming"), ("track", "phone-ming", None)))
    assert cached is not None
    assert [event.person_id for event in cached] == ["phone-ming", "phone-ming"]


def test_a_running_workers_cache_drops_a_person_forgotten_by_another_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    collector, privacy_cli = IdentityGraph.from_url(url), IdentityGraph.from_url(url)
    collector.assign_people(_events(("identify", "phone-lily", "u-lily")))
    assert collector.assign_people_from_cache(_events(("track", None, "u-lily"))) is not None

    privacy_cli.forget("phone-lily")
    assert collector.drop_forgotten() == 1

    # The login is forgotten: the cache no longer decides, and the database makes u-lily a person of her own.
    assert collector.assign_people_from_cache(_events(("track", None, "u-lily"))) is None
    assert [e.person_id for e in collector.assign_people(_events(("track", None, "u-lily")))] == ["u-lily"]
    assert collector.drop_forgotten() == 0


def test_a_worker_that_missed_pruned_erasures_holds_no_cached_mapping(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    collector, privacy_cli = IdentityGraph.from_url(url), IdentityGraph.from_url(url)
    privacy_cli.forget("someone-long-gone")
    collector.drop_forgotten()
    collector.assign_people(_events(("track", "phone-ming", None)))
    privacy_cli.forget("phone-lily")
    privacy_cli.forget("phone-hua")
    with privacy_cli._engine.begin() as connection:  # the retention pruned the first of the two
        connection.execute(identity_forgets.delete().where(identity_forgets.c.person_id == "phone-lily"))

    collector.drop_forgotten()
    assert collector.assign_people_from_cache(_events(("track", "phone-ming", None))) is None


def test_a_lookup_in_flight_during_an_erasure_does_not_cache_the_forgotten_mapping(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    privacy_cli = IdentityGraph.from_url(url)
    privacy_cli.assign_people(_events(("identify", "phone-lily", "u-lily")))
    # The collector's database holds the lookup of u-lily until the erasure has been applied to its cache.
    engine = create_engine(url)
    lookup_read, erasure_applied = threading.Event(), threading.Event()

    def hold_the_lookup(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM identities" in statement and not lookup_read.is_set():
            lookup_read.set()
            erasure_applied.wait(timeout=10)

    sqlalchemy_event.listen(engine, "after_cursor_execute", hold_the_lookup)
    collector = IdentityGraph(engine)
    in_flight = threading.Thread(target=collector.assign_people, args=(_events(("track", None, "u-lily")),))
    in_flight.start()
    assert lookup_read.wait(timeout=10)

    privacy_cli.forget("phone-lily")
    assert collector.drop_forgotten() == 1
    erasure_applied.set()
    in_flight.join(timeout=10)

    # The request that was in flight may keep what it read; the worker must not keep the forgotten login.
    assert collector.assign_people_from_cache(_events(("track", None, "u-lily"))) is None
    assert [e.person_id for e in collector.assign_people(_events(("track", None, "u-lily")))] == ["u-lily"]


def test_a_worker_tells_which_people_it_erased_since_a_request_started_its_lookup(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    collector, privacy_cli = IdentityGraph.from_url(url), IdentityGraph.from_url(url)
    before_any = collector.erasure_mark()
    assert collector.people_erased_since(before_any) == frozenset()

    privacy_cli.forget("phone-lily")
    assert collector.people_erased_since(before_any) == frozenset()  # not applied by this worker yet
    collector.drop_forgotten()
    after_lily = collector.erasure_mark()
    privacy_cli.forget("phone-hua")
    collector.drop_forgotten()

    assert collector.people_erased_since(before_any) == {"phone-lily", "phone-hua"}
    assert collector.people_erased_since(after_lily) == {"phone-hua"}
    assert collector.people_erased_since(collector.erasure_mark()) == frozenset()


def test_after_a_gap_in_the_erasure_log_a_worker_cannot_tell_whom_it_erased(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    collector, privacy_cli = IdentityGraph.from_url(url), IdentityGraph.from_url(url)
    privacy_cli.forget("someone-long-gone")
    collector.drop_forgotten()
    mark = collector.erasure_mark()
    privacy_cli.forget("phone-lily")
    privacy_cli.forget("phone-hua")
    with privacy_cli._engine.begin() as connection:  # the retention pruned the first of the two
        connection.execute(identity_forgets.delete().where(identity_forgets.c.person_id == "phone-lily"))

    collector.drop_forgotten()
    assert collector.people_erased_since(mark) is None
