"""The streams' audience profile (province, paid orders, RFM segment) of every fixture shopper equals what dbt's
dim_users says about them: the same events and order book fed through the decision core, the same build."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb

from streams.automations.rules import Rule
from streams.engine.core import Engine
from streams.inputs import Input, activity_from_json, order_fact_from_json
from warehouse.settings import WarehouseSettings


def _inputs(events_file: Path, order_book_file: Path) -> list[Input]:
    inputs: list[Input] = [
        activity_from_json(line) for line in events_file.read_bytes().splitlines() if line.strip()
    ]
    for line in order_book_file.read_bytes().splitlines():
        fact = order_fact_from_json(line) if line.strip() else None
        if fact is not None:
            inputs.append(fact)
    return inputs


def test_the_streams_see_each_shopper_as_dim_users_does(
    fixture_warehouse: WarehouseSettings, fixture_events_file: Path, fixture_order_book_file: Path
) -> None:
    engine = Engine()
    engine.publish_rule(Rule(rule_id="win-back", version=1, kind="win_back"))
    inputs = _inputs(fixture_events_file, fixture_order_book_file)
    for item in inputs:
        engine.offer(item, partition=None)
    engine.advance_to(max(item.at for item in inputs) + timedelta(seconds=1))

    with duckdb.connect(str(fixture_warehouse.warehouse_path), read_only=True) as connection:
        rows = connection.execute(
            "select person_id, province, orders, rfm_segment from dim_users where orders > 0 or province is not null"
        ).fetchall()
    in_warehouse = {person_id: (province, orders, segment) for person_id, province, orders, segment in rows}
    in_streams = {}
    for person_id in in_warehouse:
        person = engine.persons[person_id]
        profile = person.audience_profile(newest_paid_at=engine.newest_paid_at, timezone="Asia/Shanghai")
        in_streams[person_id] = (profile.province, profile.paid_orders, profile.rfm_segment)

    # The fixture has buyers (with and without a shipping address) and shoppers placed by their traits only.
    assert sum(1 for _, orders, _ in in_warehouse.values() if orders > 0) >= 2
    assert in_streams == in_warehouse
