"""Account erasure (注销, PIPL): the shopper's own request, and the back office acting on a request received
elsewhere (customer service). Both run api.service_layer.account_erasure and, in the same transaction, request the
analytics erasure that `shoploop privacy worker` carries out (lake, warehouse, identity graph, streams, recommender)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Admin, ContainerDep, CurrentShopper
from api.schemas import AccountErasurePublic
from api.service_layer import account_erasure

router = APIRouter(prefix="/v1", tags=["account"])
admin_router = APIRouter(prefix="/admin/v1", tags=["back office"])


@router.delete("/account")
def erase_my_account(shopper: CurrentShopper, container: ContainerDep) -> AccountErasurePublic:
    """注销: erase my profile (addresses, cart, favourites, coupons, points, WeChat identity) and log me out
    everywhere; orders, payments and refunds are kept as the E-commerce Law requires. My events, analytics profile
    and recommendations are erased by the privacy worker shortly after (requested in the same transaction)."""
    erasure = account_erasure.erase_account(
        container.uow(),
        user_id=shopper.user_id,
        actor="shopper",
        now=container.now(),
        request_erasure_everywhere=True,
    )
    return AccountErasurePublic.model_validate(erasure, from_attributes=True)


@admin_router.post("/accounts/{user_id}/erasure")
def erase_account(user_id: str, staff: Admin, container: ContainerDep) -> AccountErasurePublic:
    """Erase a shopper's account on their request (admins only; idempotent, recorded in the audit log)."""
    erasure = account_erasure.erase_account(
        container.uow(),
        user_id=user_id,
        actor=staff.username,
        now=container.now(),
        request_erasure_everywhere=True,
    )
    return AccountErasurePublic.model_validate(erasure, from_attributes=True)
