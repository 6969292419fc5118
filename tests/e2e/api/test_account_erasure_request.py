"""A shopper's own 注销 also requests the analytics erasure: an outbox row for the privacy worker, written in the
transaction that erases the account (both happen, or neither)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from api.adapters import tables as t
from api.service_layer.account_erasure import erase_account, is_erased_openid
from api.service_layer.unit_of_work import UnitOfWork
from shoploop.kafka import Topics
from shoploop.privacy_worker import erasure_request_from_json
from tests.e2e.api.conftest import MiniProgram, Stack

REQUESTS = Topics.PRIVACY_ERASURE_REQUESTS.name


def _erasure_requests(stack: Stack) -> list[dict[str, Any]]:
    with stack.app.state.container.uow() as uow:
        rows = uow.session.execute(
            select(t.outbox.c.key, t.outbox.c.payload, t.outbox.c.event_name).where(
                t.outbox.c.topic == REQUESTS
            )
        )
        return [dict(row._mapping) for row in rows]


def test_a_shopper_who_closes_her_account_leaves_an_erasure_request_keyed_by_her_user_id(
    stack: Stack, shopper: MiniProgram
) -> None:
    assert _erasure_requests(stack) == []

    assert shopper.api.delete("/v1/account").status_code == 200

    (request,) = _erasure_requests(stack)
    assert (request["key"], request["event_name"]) == (shopper.user_id, "AccountErasureRequested")
    read = erasure_request_from_json(request["payload"].encode())
    assert (read.user_id, read.requested_by) == (shopper.user_id, "shopper")
    assert (
        shopper.openid not in request["payload"]
    )  # the request names the account, never her WeChat identity


def test_an_admin_erasing_an_account_requests_the_analytics_erasure_too(
    stack: Stack, shopper: MiniProgram, back_office: Any
) -> None:
    answer = back_office.api.post(f"/admin/v1/accounts/{shopper.user_id}/erasure")
    assert answer.status_code == 200, answer.text
    assert [(r["key"], orjson.loads(r["payload"])["requested_by"]) for r in _erasure_requests(stack)] == [
        (shopper.user_id, "boss")
    ]


class SessionWhoseCommitFails(Session):
    def commit(self) -> None:
        raise OperationalError("COMMIT", {}, Exception("the database went away"))


def test_an_erasure_whose_commit_fails_leaves_neither_the_erased_account_nor_a_request(
    stack: Stack, shopper: MiniProgram
) -> None:
    engine = stack.app.state.container.session_factory.kw["bind"]
    failing = UnitOfWork(sessionmaker(bind=engine, class_=SessionWhoseCommitFails))

    with pytest.raises(OperationalError):
        erase_account(
            failing,
            user_id=shopper.user_id,
            actor="shopper",
            now=datetime.now(UTC),
            request_erasure_everywhere=True,
        )

    assert _erasure_requests(stack) == []
    with stack.app.state.container.uow() as uow:
        openid = uow.session.execute(
            select(t.users.c.openid).where(t.users.c.user_id == shopper.user_id)
        ).scalar_one()
    assert not is_erased_openid(openid)
