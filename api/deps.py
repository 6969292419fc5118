"""FastAPI dependencies: the container, the current shopper, the current staff member and their role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.container import Container
from api.domain.errors import Unauthenticated
from api.service_layer.accounts import (
    Role,
    Shopper,
    StaffMember,
    require_role,
    shopper_for_token,
    staff_for_token,
)

bearer = HTTPBearer(auto_error=False)


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def current_shopper(container: ContainerDep, credentials: Credentials) -> Shopper:
    if credentials is None:
        raise Unauthenticated("log in first")
    return shopper_for_token(container.uow(), credentials.credentials, now=container.now())


def recently_verified_shopper(container: Container, credentials: Credentials) -> Shopper:
    """The shopper, trusting a token verified in the last few seconds (read-only routes on every page)."""
    if credentials is None:
        raise Unauthenticated("log in first")
    return container.verified_shoppers.shopper_for_token(
        container.read_only_uow(), credentials.credentials, now=container.now()
    )


def current_staff(container: ContainerDep, credentials: Credentials) -> StaffMember:
    if credentials is None:
        raise Unauthenticated("log in to the back office first")
    return staff_for_token(container.uow(), credentials.credentials, now=container.now())


CurrentShopper = Annotated[Shopper, Depends(current_shopper)]
CurrentStaff = Annotated[StaffMember, Depends(current_staff)]


def staff_with(*roles: Role) -> Callable[[StaffMember], StaffMember]:
    allowed = frozenset({Role.ADMIN, *roles})

    def dependency(member: CurrentStaff) -> StaffMember:
        require_role(member, allowed)
        return member

    return dependency


Admin = Annotated[StaffMember, Depends(staff_with())]
Operator = Annotated[StaffMember, Depends(staff_with(Role.OPERATOR))]
Marketer = Annotated[StaffMember, Depends(staff_with(Role.MARKETER))]
Viewer = Annotated[StaffMember, Depends(staff_with(Role.OPERATOR, Role.MARKETER, Role.ANALYST))]
Analyst = Annotated[StaffMember, Depends(staff_with(Role.ANALYST))]
