"""The warehouse accepts every event the order core's outbox can emit, and only those."""

from __future__ import annotations

from pathlib import Path

import yaml

from api.domain import events

STAGING_YML = Path(__file__).resolve().parents[3] / "dbt/models/staging/order_book/stg_order_book__events.yml"


def _accepted_event_names() -> set[str]:
    model = yaml.safe_load(STAGING_YML.read_text())["models"][0]
    (test,) = (test["rows_pass_checks"] for test in model["data_tests"] if "rows_pass_checks" in test)
    (accepted,) = (
        check["accepted_values"]
        for check in test["arguments"]["checks"]
        if check.get("accepted_values", {}).get("column") == "event_name"
    )
    return set(accepted["values"])


def _emitted_event_names() -> set[str]:
    return {
        cls.name
        for cls in vars(events).values()
        if isinstance(cls, type) and issubclass(cls, events.Event) and cls is not events.Event
    }


def test_every_event_the_order_core_emits_is_accepted_by_the_warehouse() -> None:
    assert _emitted_event_names() - _accepted_event_names() == set()


def test_the_warehouse_accepts_no_event_the_order_core_does_not_emit() -> None:
    assert _accepted_event_names() - _emitted_event_names() == set()
