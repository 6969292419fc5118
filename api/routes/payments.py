"""WeChat Pay notifications. Success is 204 with no body; failure is {"code": "FAIL", "message": ...}.

Anything forged, tampered, stale, for another merchant or with the wrong amount is refused and changes
nothing; a replayed notification is recognised by its id and changes nothing either.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.container import Container
from api.deps import ContainerDep
from api.domain.errors import DomainError
from api.service_layer import orders

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/payments/wechat", tags=["payments"])
NOTIFICATION_RESPONSES: dict[int | str, dict[str, str]] = {
    204: {"description": "Accepted"},
    400: {"description": "Does not match our order"},
    401: {"description": "Forged, tampered or stale"},
}


def _handle_payment(container: Container, headers: dict[str, str], body: bytes) -> None:
    notification = container.pay.parse_notification(
        headers, body, max_skew_s=container.settings.notification_max_skew_s
    )
    if notification.event_type != "TRANSACTION.SUCCESS":
        return
    orders.confirm_payment(
        container.uow(),
        notification.resource,
        mchid=container.pay.mchid,
        appid=container.pay.appid,
        now=container.now(),
        notification_id=notification.notification_id,
    )


def _handle_refund(container: Container, headers: dict[str, str], body: bytes) -> None:
    notification = container.pay.parse_notification(
        headers, body, max_skew_s=container.settings.notification_max_skew_s
    )
    if not notification.event_type.startswith("REFUND."):
        return
    orders.confirm_refund(
        container.uow(),
        notification.resource,
        mchid=container.pay.mchid,
        now=container.now(),
        notification_id=notification.notification_id,
    )


async def _answer(handler: object, request: Request, container: Container) -> Response:
    body = await request.body()
    headers = {key.lower(): value for key, value in request.headers.items()}
    try:
        await run_in_threadpool(handler, container, headers, body)  # type: ignore[arg-type]
    except DomainError as error:
        log.warning("WeChat Pay notification refused: %s: %s", error.code, error.message)
        return JSONResponse({"code": "FAIL", "message": error.message}, status_code=error.status_code)
    return Response(status_code=204)


@router.post("/notify", status_code=204, responses=NOTIFICATION_RESPONSES)
async def payment_notification(request: Request, container: ContainerDep) -> Response:
    """TRANSACTION.SUCCESS from WeChat Pay."""
    return await _answer(_handle_payment, request, container)


@router.post("/refund-notify", status_code=204, responses=NOTIFICATION_RESPONSES)
async def refund_notification(request: Request, container: ContainerDep) -> Response:
    """REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED from WeChat Pay."""
    return await _answer(_handle_refund, request, container)
