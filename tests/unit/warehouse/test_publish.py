"""The pieces of publishing that need no dbt run: the swap itself, the empty lake stand-in, the command."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import orjson
import pytest

from warehouse.lake import EVENTS_SCHEMA, events_glob
from warehouse.publish import (
    BuildFile,
    dbt_build_command,
    empty_lake_glob,
    forget_parse_of_another_project,
    lake_has_events,
    publish,
)
from warehouse.settings import WarehouseSettings


def _write_database(path: Path, shoppers: int) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute("create table fct_funnel_daily as select ? as viewed_shoppers", [shoppers])


def _attach(path: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("attach ? as warehouse (read_only)", [str(path)])
    connection.execute("use warehouse")
    return connection


def test_publishing_swaps_the_file_under_new_readers_while_an_open_reader_keeps_the_old_one(
    tmp_path: Path,
) -> None:
    published = tmp_path / "warehouse" / "shoploop.duckdb"
    old, new = tmp_path / "old.duckdb", tmp_path / "new.duckdb"
    _write_database(old, 3)
    _write_database(new, 5)
    publish(old, published)
    reader = _attach(published)

    publish(new, published)

    assert reader.execute("select viewed_shoppers from fct_funnel_daily").fetchone() == (3,)
    with _attach(published) as fresh_reader:
        assert fresh_reader.execute("select viewed_shoppers from fct_funnel_daily").fetchone() == (5,)
    reader.close()
    assert not new.exists()


def test_a_lake_with_only_half_written_files_counts_as_empty(tmp_path: Path) -> None:
    partition = tmp_path / "events" / "received_date=2024-11-11"
    partition.mkdir(parents=True)
    (partition / ".part-1.parquet.tmp").write_bytes(b"half")
    assert not lake_has_events(tmp_path / "events")
    (partition / "part-1.parquet").write_bytes(b"whole")
    assert lake_has_events(tmp_path / "events")


def test_the_empty_lake_stand_in_has_the_lake_schema_and_no_rows(tmp_path: Path) -> None:
    glob = empty_lake_glob(tmp_path)
    assert glob == empty_lake_glob(tmp_path)
    with duckdb.connect() as connection:
        scan = connection.execute("select * from read_parquet(?, hive_partitioning = true)", [glob])
        assert [column[0] for column in scan.description] == [*EVENTS_SCHEMA.names, "received_date"]
        assert scan.fetchall() == []


def test_dbt_runs_from_this_virtualenv_with_the_lake_database_and_time_zone_as_vars(tmp_path: Path) -> None:
    command = dbt_build_command(
        database_path=tmp_path / "build.duckdb",
        lake_glob=events_glob(tmp_path / "events"),
        shop_timezone="Asia/Urumqi",
        work_dir=tmp_path / "dbt",
    )
    assert Path(command[0]).parent == Path(sys.executable).parent
    assert "build" in command
    assert command[command.index("--target-path") + 1] == str(tmp_path / "dbt" / "target")
    assert orjson.loads(command[command.index("--vars") + 1]) == {
        "database_path": str(tmp_path / "build.duckdb"),
        "events_glob": events_glob(tmp_path / "events"),
        "shop_timezone": "Asia/Urumqi",
        "rfm_recent_days": 30,
        "rfm_lapsing_days": 90,
        "rfm_frequent_orders": 5,
        "rfm_repeat_orders": 2,
    }


def test_a_build_runs_two_dbt_nodes_at_once_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One node's Python and commit overlap another's query: faster on 2 cores, idle or loaded (docs/benchmarks.md).
    monkeypatch.delenv("SHOPLOOP_WAREHOUSE_BUILD_THREADS", raising=False)
    command = dbt_build_command(
        database_path=tmp_path / "build.duckdb",
        lake_glob=events_glob(tmp_path / "events"),
        shop_timezone="Asia/Shanghai",
        work_dir=tmp_path / "dbt",
        threads=WarehouseSettings(data_dir=tmp_path).build_threads,
    )
    assert command[command.index("--threads") + 1] == "2"


def test_live_rebuilds_skip_dbt_unit_tests_which_the_fixture_build_runs(tmp_path: Path) -> None:
    common = {
        "database_path": tmp_path / "build.duckdb",
        "lake_glob": events_glob(tmp_path / "events"),
        "shop_timezone": "Asia/Shanghai",
        "work_dir": tmp_path / "dbt",
    }
    assert "unit_test" not in dbt_build_command(**common, run_unit_tests=True)
    live = dbt_build_command(**common, run_unit_tests=False)
    assert live[live.index("--exclude-resource-type") + 1] == "unit_test"


def test_a_builder_writes_the_same_build_file_every_time_and_a_second_builder_at_once_writes_its_own(
    tmp_path: Path,
) -> None:
    build_dir = tmp_path / "warehouse" / "build"
    with BuildFile(build_dir) as first, BuildFile(build_dir) as meanwhile:
        assert first.holds_the_lock and not meanwhile.holds_the_lock
        assert meanwhile.path != first.path
    # dbt's vars name the file: the same name next time lets dbt reuse its parse of the project
    with BuildFile(build_dir) as later:
        assert later.path == first.path


def test_a_build_starts_from_the_prepared_copy_only_while_the_published_file_is_the_one_copied(
    tmp_path: Path,
) -> None:
    published = tmp_path / "warehouse" / "shoploop.duckdb"
    first, second = tmp_path / "first.duckdb", tmp_path / "second.duckdb"
    _write_database(first, 3)
    _write_database(second, 5)
    publish(first, published)
    with BuildFile(published.parent / "build") as build_file:
        assert build_file.prepare(published)
        build_file.start_from(published)  # nothing published since: the copy is used as it is
        with _attach(build_file.path) as starting_point:
            assert starting_point.execute("select viewed_shoppers from fct_funnel_daily").fetchone() == (3,)

        assert build_file.prepare(published)
        publish(second, published)  # another builder published after the copy was made
        build_file.start_from(published)

        with _attach(build_file.path) as starting_point:
            assert starting_point.execute("select viewed_shoppers from fct_funnel_daily").fetchone() == (5,)
        build_file.start_from(None)
        assert not build_file.path.exists()


def test_dbts_saved_parse_is_dropped_when_it_was_made_from_a_project_at_another_path(tmp_path: Path) -> None:
    target = tmp_path / "dbt" / "target"
    target.mkdir(parents=True)
    saved_parse = target / "partial_parse.msgpack"
    old_checkout, new_checkout = tmp_path / "old-checkout" / "dbt", tmp_path / "new-checkout" / "dbt"
    old_checkout.mkdir(parents=True)
    new_checkout.mkdir(parents=True)

    saved_parse.write_bytes(b"parse of the old checkout")
    forget_parse_of_another_project(target, old_checkout)
    saved_parse.write_bytes(b"parse of the old checkout")
    forget_parse_of_another_project(target, old_checkout)
    assert saved_parse.exists()  # the same project keeps its parse

    forget_parse_of_another_project(target, new_checkout)
    assert not saved_parse.exists()
    assert (target / "project-dir").read_text() == str(new_checkout.resolve())
