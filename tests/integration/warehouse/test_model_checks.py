"""Each model's data checks run as one dbt test (`rows_pass_checks`), and each kind of check still fails on the row
that breaks it, exactly where dbt's own test of that kind would.

The fixture build compiled every model's test; here the compiled query runs against a copy of the published
fixture warehouse in which one row has been broken on purpose, and must name the broken check (and, on the
unbroken copy, return nothing).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from warehouse.settings import WarehouseSettings


def _compiled_checks(settings: WarehouseSettings, model: str) -> str:
    compiled = settings.data_dir / "dbt" / "target" / "compiled"
    (path,) = compiled.rglob(f"{model}.yml/{model}_rows_pass_checks.sql")
    return path.read_text()


def _failed_checks(
    settings: WarehouseSettings, tmp_path: Path, *, model: str, breakage: str | None
) -> list[str]:
    """The checks the model's test reports as failed, on a copy of the fixture warehouse after `breakage` (SQL)."""
    sql = _compiled_checks(settings, model)
    match = re.search(r'from "([^"]+)"\."(\w+)"\.', sql)
    assert match is not None, sql
    database = match.group(1)
    copy = tmp_path / "broken.duckdb"
    shutil.copyfile(settings.warehouse_path, copy)
    with duckdb.connect() as connection:
        connection.execute(f"attach '{copy}' as \"{database}\"")
        connection.execute(f'use "{database}"')
        for statement in (breakage or "").split(";"):
            if statement.strip():
                connection.execute(statement)
        return sorted({row[0] for row in connection.execute(sql).fetchall()})


def test_every_models_checks_pass_on_the_fixture_warehouse(
    fixture_warehouse: WarehouseSettings, tmp_path: Path
) -> None:
    compiled = fixture_warehouse.data_dir / "dbt" / "target" / "compiled"
    models = sorted(
        path.parent.name.removesuffix(".yml") for path in compiled.rglob("*_rows_pass_checks.sql")
    )
    assert len(models) >= 40
    for model in ("fct_payments", "stg_lake__events", "int_funnel_journeys_sequenced", "dim_users"):
        assert model in models
        assert _failed_checks(fixture_warehouse, tmp_path, model=model, breakage=None) == []


ONE_PAYMENT = "(select min(payment_id) from fct_payments)"


@pytest.mark.parametrize(
    ("model", "breakage", "failed"),
    [
        pytest.param(
            "fct_payments",
            f"update fct_payments set transaction_id = null where payment_id = {ONE_PAYMENT}",
            ["not_null"],
            id="not_null",
        ),
        pytest.param(
            "fct_payments",
            f"insert into fct_payments select * from fct_payments where payment_id = {ONE_PAYMENT}",
            ["unique(order_id)", "unique(payment_id)", "unique(transaction_id)"],
            id="unique",
        ),
        pytest.param(
            "fct_payments",
            # a payment rebuilt in this run takes the id of one an earlier run built: still a repeat
            "update fct_payments set built_at = built_at - interval 1 hour "
            "where payment_id = (select max(payment_id) from fct_payments);"
            "update fct_payments set payment_id = (select max(payment_id) from fct_payments) "
            f"where payment_id = {ONE_PAYMENT}",
            ["unique(payment_id)"],
            id="unique_in_table",
        ),
        pytest.param(
            "fct_payments",
            f"update fct_payments set order_id = 'o-nowhere' where payment_id = {ONE_PAYMENT}",
            ["relationship(order_id)"],
            id="relationship",
        ),
        pytest.param(
            "fct_payments",
            f"update fct_payments set amount_fen = 0 where payment_id = {ONE_PAYMENT}",
            ["amount_fen > 0"],
            id="expression",
        ),
        pytest.param(
            "fct_payments",
            # a row an earlier run built and checked: `where: rows_built_this_run` leaves it alone
            f"update fct_payments set amount_fen = 0, built_at = built_at - interval 1 hour "
            f"where payment_id = {ONE_PAYMENT}",
            [],
            id="where_rows_built_this_run",
        ),
        pytest.param(
            "stg_lake__events",
            "update staging.stg_lake__events set channel = 'carrier_pigeon' "
            "where message_id = (select min(message_id) from staging.stg_lake__events)",
            ["accepted_values(channel)"],
            id="accepted_values",
        ),
        pytest.param(
            "int_funnel_journeys_sequenced",
            "insert into intermediate.int_funnel_journeys_sequenced "
            "select * from intermediate.int_funnel_journeys_sequenced limit 1",
            ["unique(person_id, event_date, channel, scene)"],
            id="unique_combination",
        ),
    ],
)
def test_a_broken_row_fails_the_check_it_breaks_and_no_other(
    fixture_warehouse: WarehouseSettings, tmp_path: Path, model: str, breakage: str, failed: list[str]
) -> None:
    assert _failed_checks(fixture_warehouse, tmp_path, model=model, breakage=breakage) == failed
