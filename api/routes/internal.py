"""Endpoints for ShopLoop's own services, behind the internal bearer token; never for the mini-program.

The collector pseudonymises openids before Kafka (PIPL), so the streams' push sender asks the order
core — which must hold the real openid to take payments — for the one recipient it is about to message.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy.exc import NoResultFound

from api.deps import ContainerDep, Credentials
from api.domain.errors import NotFound, Unauthenticated
from api.service_layer.accounts import openid_of


def internal_service(container: ContainerDep, credentials: Credentials) -> None:
    expected = container.settings.internal_token.get_secret_value()
    if credentials is None or not hmac.compare_digest(credentials.credentials, expected):
        raise Unauthenticated("this endpoint is for ShopLoop's own services")


router = APIRouter(prefix="/internal/v1", tags=["internal"], dependencies=[Depends(internal_service)])


class Recipient(BaseModel):
    user_id: str
    openid: str


@router.get("/recipients/{user_id}")
def recipient(user_id: str, container: ContainerDep) -> Recipient:
    """The openid a subscribe message to this shopper must be addressed to: 404 for no such shopper, 410
    `account_erased` for one who closed her account (nothing may be sent to her)."""
    try:
        return Recipient(user_id=user_id, openid=openid_of(container.uow(), user_id))
    except NoResultFound as error:
        raise NotFound(f"no shopper {user_id}") from error
