"""Back office: the review queue of accounts the streams flagged as abnormal (防刷单), freeze and unfreeze."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import ContainerDep, Operator, Viewer
from api.schemas import (
    AccountFlagPublic,
    AccountStatusPublic,
    AuditEntryPublic,
    FlagReviewCreate,
    FlagReviewPublic,
    FreezeCreate,
)
from api.service_layer import account_review

router = APIRouter(prefix="/admin/v1", tags=["back office"])


@router.get("/account-flags")
def list_flags(
    _: Viewer,
    container: ContainerDep,
    status_filter: Annotated[
        Literal["open", "confirmed", "dismissed"] | None, Query(alias="status")
    ] = "open",
) -> list[AccountFlagPublic]:
    return [
        AccountFlagPublic.model_validate(f)
        for f in account_review.list_flags(container.uow(), status=status_filter)
    ]


@router.post("/account-flags/{flag_id}/review")
def review_flag(
    flag_id: str, body: FlagReviewCreate, staff: Operator, container: ContainerDep
) -> FlagReviewPublic:
    """Confirm keeps the account frozen; dismiss unfreezes it once no other flag holds it."""
    result = account_review.review_flag(
        container.uow(),
        flag_id=flag_id,
        decision=body.decision,
        actor=staff.username,
        note=body.note,
        now=container.now(),
    )
    return FlagReviewPublic.model_validate(result)


@router.post("/accounts/{user_id}/freeze")
def freeze(user_id: str, body: FreezeCreate, staff: Operator, container: ContainerDep) -> AccountStatusPublic:
    account_review.freeze(
        container.uow(), user_id=user_id, actor=staff.username, reason=body.reason, now=container.now()
    )
    return AccountStatusPublic(user_id=user_id, is_frozen=True)


@router.post("/accounts/{user_id}/unfreeze")
def unfreeze(
    user_id: str, body: FreezeCreate, staff: Operator, container: ContainerDep
) -> AccountStatusPublic:
    account_review.unfreeze(
        container.uow(), user_id=user_id, actor=staff.username, reason=body.reason, now=container.now()
    )
    return AccountStatusPublic(user_id=user_id, is_frozen=False)


@router.get("/accounts/{user_id}/audit-log")
def audit_log(user_id: str, _: Viewer, container: ContainerDep) -> list[AuditEntryPublic]:
    return [
        AuditEntryPublic.model_validate(e) for e in account_review.audit_log(container.uow(), user_id=user_id)
    ]
