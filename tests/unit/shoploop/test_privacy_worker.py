from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest

from api.service_layer.account_erasure import erasure_request
from shoploop.privacy import ErasureReport
from shoploop.privacy_worker import BadErasureRequest, _carry_out, erasure_request_from_json

AT = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


async def _no_dead_letter(letter: bytes) -> None:
    raise AssertionError(f"a readable request was dead-lettered: {letter!r}")


def _never_forget(user_id: str) -> ErasureReport:
    raise AssertionError(f"forget ran for a message that is not a request: {user_id}")


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
    is_completed = asyncio.run(
        _carry_out(raw, forget, send_dead_letter=_no_dead_letter, retry_s=0.01, stop=asyncio.Event())
    )

    assert is_completed
    assert asked == ["u-xiaoming"] * 3 and outcomes == []


def test_a_message_that_is_not_a_request_goes_to_the_dead_letter_topic_with_its_reason_and_payload() -> None:
    letters: list[bytes] = []

    async def send(letter: bytes) -> None:
        letters.append(letter)

    is_done = asyncio.run(
        _carry_out(
            b'{"userId": "u-1"}', _never_forget, send_dead_letter=send, retry_s=0.01, stop=asyncio.Event()
        )
    )

    assert is_done
    (letter,) = [orjson.loads(letter) for letter in letters]
    assert letter["reason_code"] == "unreadable_erasure_request"
    assert "user_id" in letter["reason"]
    assert letter["payload"] == '{"userId": "u-1"}'


def test_a_dead_letter_the_broker_did_not_take_is_sent_again_and_the_message_stays_uncommitted_meanwhile() -> (
    None
):
    attempts: list[bytes] = []

    async def send(letter: bytes) -> None:
        attempts.append(letter)
        if len(attempts) < 3:
            raise ConnectionError("broker unreachable")

    assert asyncio.run(
        _carry_out(b"not json", _never_forget, send_dead_letter=send, retry_s=0.01, stop=asyncio.Event())
    )
    assert len(attempts) == 3

    async def broker_down(letter: bytes) -> None:
        raise ConnectionError("broker unreachable")

    async def stopped_while_down() -> bool:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, stop.set)
        return await _carry_out(
            b"not json", _never_forget, send_dead_letter=broker_down, retry_s=0.01, stop=stop
        )

    assert asyncio.run(stopped_while_down()) is False  # not committed: the next worker dead-letters it
