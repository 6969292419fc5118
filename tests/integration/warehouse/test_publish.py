"""Publishing: readers never see a torn or locked file, and a failed build keeps the last good warehouse."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import duckdb
import orjson

from warehouse.lake import PARTITION_KEY, write_events
from warehouse.publish import WarmDbt, build_and_publish, load_fixture_events
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


def test_an_empty_lake_builds_empty_marts(tmp_path: Path, warm_dbt: WarmDbt) -> None:
    settings = WarehouseSettings(data_dir=tmp_path)

    assert build_and_publish(settings, warm_dbt=warm_dbt) == 0

    with _open_published(settings.warehouse_path) as connection:
        assert _viewed_shoppers(connection) == 0
        assert connection.execute("select count(*) from fct_funnel_daily").fetchone() == (0,)
        assert connection.execute("select event_count from meta_build_info").fetchone() == (0,)


def test_a_reader_keeps_its_warehouse_while_a_new_one_is_published_and_a_failed_build_publishes_nothing(
    tmp_path: Path, fixture_warehouse: WarehouseSettings, warm_dbt: WarmDbt
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

        assert build_and_publish(settings, warm_dbt=warm_dbt) == 0

        assert _viewed_shoppers(early_reader) == before
        with _open_published(settings.warehouse_path) as late_reader:
            assert _viewed_shoppers(late_reader) == before + 1
    finally:
        early_reader.close()

    good_inode = settings.warehouse_path.stat().st_ino
    broken = settings.events_dir / f"{PARTITION_KEY}=2024-11-13" / "part-broken.parquet"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"this is not parquet")

    assert build_and_publish(settings, warm_dbt=warm_dbt) != 0

    assert settings.warehouse_path.stat().st_ino == good_inode
    with _open_published(settings.warehouse_path) as reader:
        assert _viewed_shoppers(reader) == before + 1
    assert list(settings.build_dir.iterdir()) == []


def test_a_builder_that_keeps_dbt_loaded_publishes_what_a_fresh_dbt_would_and_lets_go_of_the_file(
    tmp_path: Path, fixture_warehouse: WarehouseSettings
) -> None:
    settings = WarehouseSettings(data_dir=tmp_path / "warm")
    fixture_events = load_fixture_events()
    write_events(settings.events_dir, fixture_events)
    warm_dbt = WarmDbt()

    assert build_and_publish(settings, full_refresh=True, warm_dbt=warm_dbt) == 0
    # The next event arrives; the same loaded dbt builds again, incrementally, on its parsed project.
    newcomer = replace(
        next(e for e in fixture_events if e.event == "Product Viewed"),
        message_id="warm-newcomer",
        person_id="anon-warm",
        anonymous_id="anon-warm",
        received_at=max(event.received_at for event in fixture_events) + timedelta(minutes=1),
    )
    write_events(settings.events_dir, [newcomer])
    run_results = settings.data_dir / "dbt" / "target" / "run_results.json"
    run_results.unlink()
    assert build_and_publish(settings, warm_dbt=warm_dbt) == 0
    # A warm build skips manifest.json but still says what each node did and how long it took.
    results = orjson.loads(run_results.read_bytes())["results"]
    assert {r["unique_id"] for r in results} >= {
        "model.shoploop.fct_funnel_daily",
        "model.shoploop.fct_sessions",
    }
    assert all(r["status"] in ("success", "pass") for r in results)

    # The published file is not held open by dbt's cached handle: another process may open it to write.
    opened = subprocess.run(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; duckdb.connect(sys.argv[1]).close()",
            str(settings.warehouse_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert opened.returncode == 0, opened.stderr
    cold = WarehouseSettings(data_dir=tmp_path / "cold")
    write_events(cold.events_dir, [*fixture_events, newcomer])
    assert build_and_publish(cold, full_refresh=True) == 0
    with _open_published(settings.warehouse_path) as warm, _open_published(cold.warehouse_path) as fresh:
        query = "select count(*), sum(viewed_shoppers), sum(added_shoppers) from fct_funnel_daily"
        assert warm.execute(query).fetchone() == fresh.execute(query).fetchone()
        sessions = "select count(*), sum(events) from fct_sessions"
        assert warm.execute(sessions).fetchone() == fresh.execute(sessions).fetchone()
