from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from api.service_layer.account_erasure import erasure_request
from shoploop.privacy import ErasureReport
from shoploop.privacy_worker import BadErasureRequest, _carry_out, erasure_request_from_json

AT = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def test_an_erasure_request_written_by_the_order_core_is_read_back() -> None:
    request = erasure_request_from_json(erasure_request(user_id="u-xiaoming", actor="shopper", now=AT))
    assert (request.user_id, request.requested_by, request.requested_at) == ("u-xiaoming", "shopper", AT)


@pytest.mark.parametrize(
    "raw", [None, b"", b"not json", b"{}", b'{"user_id": " ", "requested_at": "2026-12-07"}']
)
def test_a_message_that_is_not_an_erasure_request_is_refused_with_a_reason(raw: bytes | None) -> None:
    with pytest.raises(BadErasureRequest):
        erasure_request_from_json(raw)


def test_forget_runs_again_until_it_has_completed_everywhere() -> None:
    outcomes: list[str | Exception | None] = [OSError("lake unwritable"), "Kafka unreachable", None]
    asked: list[str] = []

    def forget(user_id: str) -> ErasureReport:
        asked.append(user_id)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return ErasureReport(person_id="p-1", ids=[user_id], erased_at=AT, streams_not_told=outcome)

    raw = erasure_request(user_id="u-xiaoming", actor="shopper", now=AT)
    is_completed = asyncio.run(_carry_out(raw, forget, retry_s=0.01, stop=asyncio.Event()))

    assert is_completed
    assert asked == ["u-xiaoming"] * 3 and outcomes == []
