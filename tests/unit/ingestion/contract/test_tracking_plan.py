from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ingestion.contract.tracking_plan import (
    TRACKING_PLAN,
    PageProperties,
    check_against_plan,
    render_markdown,
)

DOCS = Path(__file__).resolve().parents[4] / "docs" / "tracking-plan.md"


def test_the_segment_ecommerce_and_mini_program_events_are_all_planned() -> None:
    expected = {
        "Products Searched",
        "Product List Viewed",
        "Product Viewed",
        "Product Added",
        "Product Removed",
        "Cart Viewed",
        "Checkout Started",
        "Order Completed",
        "Coupon Applied",
        "Product Shared",
        "Promotion Clicked",
        "Mini Program Launched",
        "Mini Program Shown",
        "Mini Program Hidden",
        "Mini Program Shared",
        "Subscribe Message Consent",
        "Recommendation Shown",
        "Recommendation Clicked",
    }
    assert expected <= set(TRACKING_PLAN)


def test_a_planned_event_with_its_properties_conforms() -> None:
    properties = {"product_id": "85123A", "price": 26.85, "quantity": 2, "colour": "white"}
    assert check_against_plan("track", "Product Added", properties) is None


def test_an_unplanned_event_is_named_as_such() -> None:
    violation = check_against_plan("track", "Product Teleported", {})
    assert violation is not None and violation.reason_code == "unplanned_event"


def test_a_missing_required_property_is_named_with_its_path() -> None:
    violation = check_against_plan("track", "Order Completed", {"total": 20.0})
    assert violation is not None
    assert (violation.reason_code, violation.reason) == (
        "missing_property",
        "Order Completed: order_id is required",
    )


@pytest.mark.parametrize(
    ("event", "properties"),
    [
        ("Product Viewed", {"product_id": 85123}),
        ("Product Added", {"product_id": "85123A", "price": "26.85"}),
        ("Mini Program Launched", {"scene": "1007"}),
        ("Subscribe Message Consent", {"results": {"tpl-cart": "maybe"}}),
    ],
)
def test_a_property_of_the_wrong_type_is_refused(event: str, properties: dict[str, object]) -> None:
    violation = check_against_plan("track", event, properties)
    assert violation is not None and violation.reason_code == "wrong_type"


def test_identify_calls_are_not_held_to_an_event_plan() -> None:
    assert check_against_plan("identify", None, None) is None


def test_the_published_tracking_plan_document_is_rendered_from_the_current_plan() -> None:
    assert DOCS.read_text() == render_markdown(), "run `shoploop tracking-plan > docs/tracking-plan.md`"


# Values of every kind a property may carry, at and around the plan's bounds.
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.integers(min_value=2**53 - 2, max_value=2**53 + 2),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.just(10**400),
    st.floats(),
    st.sampled_from([-0.0, 0.0, 1.0, -90.0, 90.0, -180.5, 180.0, 0.5]),
    st.text(max_size=6),
    st.lists(st.text(max_size=3), max_size=2),
    st.lists(st.fixed_dictionaries({"product_id": st.text(max_size=3)}), max_size=2),
    st.dictionaries(st.text(max_size=3), st.sampled_from(["accept", "reject", "maybe", 1]), max_size=2),
)
_PROPERTY_NAMES = sorted(
    {name for spec in TRACKING_PLAN.values() for name in spec.properties.model_fields}
    | set(PageProperties.model_fields)
    | {"colour"}
)


@settings(max_examples=2500, deadline=None)
@given(
    st.sampled_from([("track", name) for name in TRACKING_PLAN] + [("page", None), ("screen", None)]),
    st.dictionaries(st.sampled_from(_PROPERTY_NAMES), _VALUES, max_size=8),
)
def test_the_plan_decides_every_event_as_its_pydantic_schema_does(
    call: tuple[str, str | None], properties: dict[str, Any]
) -> None:
    message_type, event = call
    schema = PageProperties if event is None else TRACKING_PLAN[event].properties
    try:
        schema.model_validate(properties)
        conforms = True
    except ValidationError:
        conforms = False

    assert (check_against_plan(message_type, event, properties) is None) is conforms


@pytest.mark.parametrize(
    ("event", "properties"),
    [
        ("Product Viewed", {"product_id": "85123A", "price": 26.85, "quantity": 1, "cart_id": "cart-lily"}),
        ("Order Completed", {"order_id": "o-1", "total": 55, "currency": "CNY"}),
        ("Mini Program Shown", {"scene": 1007, "path": "pages/index/index", "share_depth": 2}),
        ("Location Shared", {"latitude": 31.2, "longitude": 121.5}),
    ],
)
def test_plain_properties_are_checked_without_building_a_pydantic_model(
    event: str, properties: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = TRACKING_PLAN[event].properties

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("pydantic was asked about plain properties")

    monkeypatch.setattr(schema, "model_validate", refuse)
    assert check_against_plan("track", event, properties) is None
