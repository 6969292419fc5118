from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.collector.identity import IdentityGraph, Sighting, anonymous, user


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
