from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.contract.tracking_plan import TRACKING_PLAN, check_against_plan, render_markdown

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
