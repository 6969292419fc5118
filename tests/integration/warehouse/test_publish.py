"""Publishing: readers never see a torn or locked file, and a failed build keeps the last good warehouse."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import duckdb

from warehouse.lake import PARTITION_KEY, write_events
from warehouse.publish import build_and_publish, load_fixture_events
from warehouse.settings import WarehouseSettings


def _open_published(path: Path) -> duckdb.DuckDBPyConnection:
    """A reader the way the dashboards open one: a fresh instance attaching the file read-only.

    (`duckdb.connect(path)` would hand back the instance this process already has open for that path,
    i.e. the old file.)
    """
    connection = duckdb.connect()
    connection.execute("attach ? as warehouse (read_only)", [str(path)])
    connection.execute("use warehouse")
    return connection


def _viewed_shoppers(connection: duckdb.DuckDBPyConnection) -> int:
    row = connection.execute("select coalesce(sum(viewed_shoppers), 0) from fct_funnel_daily").fetchone()
    assert row is not None
    return int(row[0])


def test_an_empty_lake_builds_empty_marts(tmp_path: Path) -> None:
    settings = WarehouseSettings(data_dir=tmp_path)

    assert build_and_publish(settings) == 0

    with _open_published(settings.warehouse_path) as connection:
        assert _viewed_shoppers(connection) == 0
        assert connection.execute("select count(*) from fct_funnel_daily").fetchone() == (0,)
        assert connection.execute("select event_count from meta_build_info").fetchone() == (0,)


def test_a_reader_keeps_its_warehouse_while_a_new_one_is_published_and_a_failed_build_publishes_nothing(
    tmp_path: Path, fixture_warehouse: WarehouseSettings
) -> None:
    settings = WarehouseSettings(data_dir=tmp_path)
    settings.warehouse_path.parent.mkdir(parents=True)
    shutil.copyfile(fixture_warehouse.warehouse_path, settings.warehouse_path)
    fixture_events = load_fixture_events()
    first_view = next(e for e in fixture_events if e.event == "Product Viewed")
    newcomer = replace(
        first_view,
        message_id="publish-test-newcomer",
        person_id="anon-newcomer",
        anonymous_id="anon-newcomer",
        # arrives after everything already built, as a new event does
        received_at=max(event.received_at for event in fixture_events) + timedelta(minutes=1),
    )
    write_events(settings.events_dir, [*fixture_events, newcomer])

    early_reader = _open_published(settings.warehouse_path)
    try:
        before = _viewed_shoppers(early_reader)

        assert build_and_publish(settings) == 0

        assert _viewed_shoppers(early_reader) == before
        with _open_published(settings.warehouse_path) as late_reader:
            assert _viewed_shoppers(late_reader) == before + 1
    finally:
        early_reader.close()

    good_inode = settings.warehouse_path.stat().st_ino
    broken = settings.events_dir / f"{PARTITION_KEY}=2024-11-13" / "part-broken.parquet"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"this is not parquet")

    assert build_and_publish(settings) != 0

    assert settings.warehouse_path.stat().st_ino == good_inode
    with _open_published(settings.warehouse_path) as reader:
        assert _viewed_shoppers(reader) == before + 1
    assert list(settings.build_dir.iterdir()) == []
