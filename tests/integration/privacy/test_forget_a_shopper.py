"""`shoploop privacy forget` leaves no trace of the shopper in the lake, the warehouse or the identity graph."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from ingestion.collector.identity import IdentityGraph, Sighting, anonymous, user
from ingestion.collector.settings import CollectorSettings
from ingestion.contract.event import TrackedEvent
from shoploop.privacy import forget
from shoploop.tombstone import Tombstone
from warehouse.erasure import erase_people, write_tombstone
from warehouse.lake import events_glob, write_events
from warehouse.publish import WarmDbt, build_and_publish, publish
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)


def _viewed(message_id: str, *, person: str, device: str, user_id: str | None) -> TrackedEvent:
    return TrackedEvent(
        message_id=message_id,
        type="track",
        event="Product Viewed",
        person_id=person,
        anonymous_id=device,
        user_id=user_id,
        timestamp=AT,
        original_timestamp=AT,
        sent_at=None,
        received_at=AT,
        scene=1007,
        channel="share_single_chat",
        source="miniprogram",
        properties={"product_id": "85123A", "price": 26.85},
    )


def _people_in(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as connection:
        rows = connection.execute("select distinct person_id from staging.stg_lake__events").fetchall()
    return {row[0] for row in rows}


def _lily_and_ming(tmp_path: Path) -> tuple[WarehouseSettings, CollectorSettings, IdentityGraph]:
    """Lily browsed on her phone, then logged in as u-lily; Ming browsed. Their events are in the lake."""
    warehouse = WarehouseSettings(data_dir=tmp_path / "var")
    collector = CollectorSettings(identity_database_url=f"sqlite:///{tmp_path / 'identity.db'}")
    graph = IdentityGraph.from_url(collector.identity_database_url)
    graph.resolve([Sighting(identities=(anonymous("phone-lily"), user("u-lily")), links=True)])
    write_events(
        warehouse.events_dir,
        [
            _viewed("m-1", person="phone-lily", device="phone-lily", user_id=None),
            _viewed("m-2", person="phone-lily", device="phone-lily", user_id="u-lily"),
            _viewed("m-3", person="phone-ming", device="phone-ming", user_id="u-ming"),
        ],
    )
    return warehouse, collector, graph


def test_a_forgotten_shopper_is_gone_from_lake_warehouse_and_identity_graph(
    tmp_path: Path, warm_dbt: WarmDbt
) -> None:
    warehouse, collector, _ = _lily_and_ming(tmp_path)
    assert build_and_publish(warehouse, warm_dbt=warm_dbt) == 0
    assert _people_in(warehouse.warehouse_path) == {"phone-lily", "phone-ming"}

    report = forget("u-lily", collector=collector, warehouse=warehouse)

    assert report.person_id == "phone-lily"
    assert report.rows_removed["events"] == 2
    assert report.is_warehouse_rebuilt
    with duckdb.connect() as connection:
        left = connection.execute(
            "select message_id from read_parquet(?) order by message_id", [events_glob(warehouse.events_dir)]
        ).fetchall()
    assert left == [("m-3",)]
    assert _people_in(warehouse.warehouse_path) == {"phone-ming"}
    fresh = IdentityGraph.from_url(collector.identity_database_url)
    assert fresh.person_of("u-lily") is None
    assert fresh.person_of("phone-lily") is None
    assert fresh.person_of("u-ming") is None  # never linked in this test: nothing to remember


def test_an_erasure_re_run_after_the_graph_forgot_the_shopper_still_finds_every_id_in_the_lakes_tombstone(
    tmp_path: Path,
) -> None:
    warehouse, collector, graph = _lily_and_ming(tmp_path)
    # A first run stopped after the graph forgot Lily, before the lake was rewritten: only the tombstone remains.
    write_tombstone(
        warehouse.lake_dir,
        Tombstone(
            erased_at=AT,
            people_until=AT,
            person_ids=frozenset({"phone-lily"}),
            ids=frozenset({"phone-lily", "u-lily"}),
        ),
    )
    graph.forget("phone-lily")

    report = forget("u-lily", collector=collector, warehouse=warehouse, rebuild=False)

    assert report.ids == ["phone-lily", "u-lily"]
    assert report.rows_removed["events"] == 2


def test_a_build_that_was_running_during_the_erasure_cannot_keep_the_shopper_in_the_warehouse(
    tmp_path: Path, warm_dbt: WarmDbt
) -> None:
    warehouse, collector, _ = _lily_and_ming(tmp_path)
    assert build_and_publish(warehouse, warm_dbt=warm_dbt) == 0
    # The periodic builder started an incremental build before the erasure: from the published warehouse, over
    # the lake as it was, so its result holds Lily; it finishes and publishes after `forget`'s own rebuild.
    running_build = tmp_path / "build-started-before-the-erasure.duckdb"
    shutil.copyfile(warehouse.warehouse_path, running_build)

    report = forget("u-lily", collector=collector, warehouse=warehouse)
    assert report.is_warehouse_rebuilt
    publish(running_build, warehouse.warehouse_path)
    assert _people_in(warehouse.warehouse_path) == {"phone-lily", "phone-ming"}

    # The builder's next build must not continue from the file it just published.
    assert build_and_publish(warehouse, warm_dbt=warm_dbt) == 0

    assert _people_in(warehouse.warehouse_path) == {"phone-ming"}


class _ErasureDuringTheBuild(WarmDbt):
    """dbt, warm, whose first build is followed by an erasure of `ids` before the builder gets to publish it."""

    def __init__(self, warehouse: WarehouseSettings, ids: set[str]) -> None:
        super().__init__()
        self._warehouse = warehouse
        self._ids = ids
        self.builds = 0

    def invoke(self, arguments: list[str]) -> tuple[int, str]:
        outcome = super().invoke(arguments)
        if "build" in arguments:
            self.builds += 1
            if self.builds == 1:
                erase_people(self._warehouse.events_dir, self._ids)
        return outcome


def test_a_build_that_read_the_lake_before_an_erasure_is_redone_instead_of_published(tmp_path: Path) -> None:
    warehouse, _, _ = _lily_and_ming(tmp_path)
    dbt = _ErasureDuringTheBuild(warehouse, {"phone-lily", "u-lily"})

    assert build_and_publish(warehouse, warm_dbt=dbt) == 0

    assert dbt.builds == 2
    assert _people_in(warehouse.warehouse_path) == {"phone-ming"}
