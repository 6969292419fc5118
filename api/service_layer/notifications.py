"""Order subscribe messages: queued in the same transaction as the order change, sent by a background loop
through the WeChat client, every attempt recorded (row + SubscribeMessageSent outbox event)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import RowMapping, and_, select, update

from api.adapters import tables as t
from api.adapters.db import insert_or_merge
from api.domain import events
from api.domain.errors import WeChatUnavailable
from api.domain.notifications import (
    MAX_ATTEMPTS,
    QUOTA_ERRCODE,
    NotificationKind,
    SendStatus,
    message_data,
    order_page,
)
from api.domain.orders import Order
from api.service_layer.unit_of_work import UnitOfWork
from api.wechat.client import WeChatApiError, WeChatClient

log = logging.getLogger(__name__)


def enqueue(uow: UnitOfWork, order: Order, kind: NotificationKind, *, amount_fen: int, now: datetime) -> None:
    """Queue one message for the order, inside the caller's transaction; a second one for the same kind is
    ignored (confirmations arrive more than once): the unique (order_id, kind) decides, in one statement."""
    uow.session.execute(
        insert_or_merge(uow.session, t.order_notifications)
        .values(
            notification_id="nt" + secrets.token_hex(10),
            order_id=order.order_id,
            user_id=order.user_id,
            kind=str(kind),
            amount_fen=amount_fen,
            status=SendStatus.PENDING,
            attempts=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["order_id", "kind"])
    )


def send_pending(
    uow: UnitOfWork, wechat: WeChatClient, *, templates: Mapping[str, str], now: datetime, limit: int = 50
) -> int:
    """Send queued messages; returns how many WeChat accepted. No database transaction spans a WeChat call."""
    c = t.order_notifications.c
    with uow:
        pending = list(
            uow.session.execute(
                select(t.order_notifications, t.users.c.openid)
                .join(t.users, t.users.c.user_id == c.user_id)
                .where(c.status == SendStatus.PENDING)
                .order_by(c.created_at)
                .limit(limit)
            ).mappings()
        )
    sent = 0
    for row in pending:
        with uow:
            # Claim the row: a second sender running at the same time skips it, so nobody gets it twice.
            claimed = uow.session.execute(
                update(t.order_notifications)
                .where(and_(c.notification_id == row["notification_id"], c.status == SendStatus.PENDING))
                .values(status=SendStatus.SENDING, attempts=c.attempts + 1)
            )
            title = uow.session.execute(
                select(t.order_lines.c.title)
                .where(t.order_lines.c.order_id == row["order_id"])
                .order_by(t.order_lines.c.line_no)
            ).scalar()
            uow.commit()
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue
        kind = NotificationKind(row["kind"])
        template_id = templates.get(kind)
        status, errcode = SendStatus.FAILED, -1
        if template_id:
            status, errcode = _send(
                wechat,
                openid=row["openid"],
                template_id=template_id,
                data=message_data(
                    kind, order_id=row["order_id"], title=title or "", amount_fen=row["amount_fen"]
                ),
                page=order_page(row["order_id"]),
                attempts=row["attempts"] + 1,
            )
        sent += status == SendStatus.SENT
        _record(uow, row, kind=kind, template_id=template_id or "", status=status, errcode=errcode, now=now)
    return sent


def _send(
    wechat: WeChatClient, *, openid: str, template_id: str, data: dict[str, str], page: str, attempts: int
) -> tuple[SendStatus, int]:
    try:
        wechat.send_subscribe_message(openid=openid, template_id=template_id, data=data, page=page)
        return SendStatus.SENT, 0
    except WeChatApiError as error:
        if error.errcode == QUOTA_ERRCODE:
            return SendStatus.NO_QUOTA, error.errcode
        log.warning("subscribe message refused: %s", error)
        return SendStatus.FAILED, error.errcode
    except WeChatUnavailable:
        # WeChat did not answer: try again on the next run, a few times.
        return (SendStatus.PENDING if attempts < MAX_ATTEMPTS else SendStatus.FAILED), -1


def _record(
    uow: UnitOfWork,
    row: RowMapping,
    *,
    kind: NotificationKind,
    template_id: str,
    status: SendStatus,
    errcode: int,
    now: datetime,
) -> None:
    with uow:
        uow.session.execute(
            update(t.order_notifications)
            .where(t.order_notifications.c.notification_id == row["notification_id"])
            .values(
                status=status,
                template_id=template_id or None,
                errcode=errcode,
                sent_at=now if status == SendStatus.SENT else None,
            )
        )
        uow.record(
            events.SubscribeMessageSent(
                key=str(row["user_id"]),
                occurred_at=now,
                notification_id=str(row["notification_id"]),
                order_id=str(row["order_id"]),
                user_id=str(row["user_id"]),
                kind=str(kind),
                template_id=template_id,
                status=str(status),
                errcode=errcode,
            )
        )
        uow.commit()
