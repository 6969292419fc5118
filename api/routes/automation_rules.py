"""Back office: automation rules (marketer), published to the streams on the compacted rules topic."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from api.deps import ContainerDep, Marketer, Viewer
from api.service_layer import automation_rules

router = APIRouter(prefix="/admin/v1/automation-rules", tags=["back office"])
RuleId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
RuleBody = Annotated[
    dict[str, Any],
    Body(
        description=(
            "A streams.automations.rules.Rule without rule_id and version (the API sets both). A push rule may "
            "carry an audience: RFM segments, provinces and a minimum of verified paid orders, with the "
            "warehouse's dim_users definitions; the streams push only to people in it."
        ),
        examples=[
            {
                "kind": "abandoned_cart",
                "delay_s": 86400,
                "template_id": "TPL_CART",
                "template_data": {"thing1": "{product_name}"},
                "audience": {"segments": ["loyal", "champion"], "provinces": ["广东"], "min_paid_orders": 2},
            }
        ],
    ),
]


@router.get("")
def list_rules(_: Viewer, container: ContainerDep) -> list[dict[str, Any]]:
    return automation_rules.list_rules(container.uow())


@router.put("/{rule_id}")
def save_rule(rule_id: RuleId, body: RuleBody, staff: Marketer, container: ContainerDep) -> dict[str, Any]:
    """Create or change a rule: validated with the streams' model, versioned, published."""
    return automation_rules.save_rule(
        container.uow(), rule_id=rule_id, body=body, staff_id=staff.staff_id, now=container.now()
    )


@router.delete("/{rule_id}")
def retire_rule(rule_id: RuleId, staff: Marketer, container: ContainerDep) -> dict[str, Any]:
    """Publish a last version with is_active false."""
    return automation_rules.retire_rule(
        container.uow(), rule_id=rule_id, staff_id=staff.staff_id, now=container.now()
    )
