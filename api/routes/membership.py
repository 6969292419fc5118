"""Membership: the shopper's points, level and member day; rewards; back-office member day and rewards."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import ContainerDep, CurrentShopper, Marketer
from api.domain.membership import MemberDay
from api.schemas import (
    MemberDayPublic,
    MemberDayUpdate,
    MembershipPublic,
    PointRewardCreate,
    PointRewardPublic,
    RedemptionPublic,
)
from api.service_layer import membership

router = APIRouter(prefix="/v1", tags=["membership"])
admin_router = APIRouter(prefix="/admin/v1", tags=["back office"])


@router.get("/membership")
def my_membership(shopper: CurrentShopper, container: ContainerDep) -> MembershipPublic:
    """Points balance, the points ledger (newest first), level by spend and the member day."""
    return MembershipPublic.model_validate(
        membership.membership(container.uow(), user_id=shopper.user_id, now=container.now())
    )


@router.get("/point-rewards")
def point_rewards(_: CurrentShopper, container: ContainerDep) -> list[PointRewardPublic]:
    return [PointRewardPublic.model_validate(r) for r in membership.list_rewards(container.uow())]


@router.post("/point-rewards/{reward_id}/redeem", status_code=status.HTTP_201_CREATED)
def redeem(reward_id: str, shopper: CurrentShopper, container: ContainerDep) -> RedemptionPublic:
    return RedemptionPublic.model_validate(
        membership.redeem(container.uow(), user_id=shopper.user_id, reward_id=reward_id, now=container.now())
    )


@admin_router.put("/member-day")
def configure_member_day(body: MemberDayUpdate, staff: Marketer, container: ContainerDep) -> MemberDayPublic:
    day = membership.configure_member_day(
        container.uow(), MemberDay(**body.model_dump()), staff_id=staff.staff_id, now=container.now()
    )
    return MemberDayPublic(**vars(day), is_today=day.is_today(container.now()))


@admin_router.post("/point-rewards", status_code=status.HTTP_201_CREATED)
def create_point_reward(body: PointRewardCreate, _: Marketer, container: ContainerDep) -> PointRewardPublic:
    reward_id = membership.create_reward(container.uow(), **body.model_dump(), now=container.now())
    return PointRewardPublic(reward_id=reward_id, **body.model_dump())
