"""The collector's plain reader of Segment messages reads exactly what the pydantic model reads, or steps aside."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ingestion.collector.intake import decode_body
from ingestion.contract.event import enrich, enrich_fields
from ingestion.contract.segment import SegmentMessage, read_plain_message

RECEIVED = datetime(2026, 11, 22, 4, 0, 0, 123456, tzinfo=UTC)
BATCH_SENT = datetime(2026, 11, 22, 4, 0, 0, tzinfo=UTC)


def _lily_viewed(**overrides: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": "device-lily",
        "messageId": "m-1",
        "timestamp": "2026-11-22T11:59:58.500+08:00",
        "properties": {"product_id": "85123A", "price": 22.95},
        "context": {"wechat": {"scene": 1007}, "library": {"name": "shoploop-miniprogram"}},
    }
    message.update(overrides)
    return message


def _both_readings(item: dict[str, Any]) -> tuple[Any, Any]:
    """(the plain reader's event or None, pydantic's event or the ValidationError)."""
    if not item.get("messageId"):
        item = {**item, "messageId": "m-given"}  # as the collector does before either reads it
    plain = read_plain_message(item)
    plain_event = (
        enrich_fields(
            plain, received_at=RECEIVED, batch_sent_at=None, batch_context={"ip": "1.2.3.4"}, source="mp"
        )
        if plain is not None
        else None
    )
    try:
        message = SegmentMessage.model_validate(item)
    except ValidationError as error:
        return plain_event, error
    return plain_event, enrich(
        message, received_at=RECEIVED, batch_sent_at=None, batch_context={"ip": "1.2.3.4"}, source="mp"
    )


def test_a_plain_sdk_message_is_read_without_pydantic_into_the_same_event() -> None:
    plain_event, pydantic_event = _both_readings(_lily_viewed())
    assert plain_event is not None
    assert plain_event == pydantic_event
    assert plain_event.to_json() == pydantic_event.to_json()


@pytest.mark.parametrize(
    "overrides",
    [
        {"userId": 42},  # a number, which pydantic turns into "42"
        {"messageId": "m" * 101},  # too long
        {"timestamp": "2026-11-22 11:59:58"},  # no offset: naive, read as UTC by pydantic's rules
        {"timestamp": "2026-11-22T11:59:58+05:99"},  # fromisoformat would take it, pydantic does not
        {"timestamp": "2026-11-31T11:59:58Z"},  # no such day
        {"timestamp": 1_795_000_000},  # unix seconds
        {"timestamp": "2026-11-22T11:59:58.1234567Z"},  # seven digits
        {"anonymous_id": "device-lucy"},  # a Python name, which pydantic also takes
        {"properties": ["not", "an", "object"]},
        {"context": "wechat"},
        {"integrations": 3},
        {"type": "purchase"},
        {"type": ["track"]},
        {"event": None},
        {"anonymousId": ""},
    ],
)
def test_anything_unusual_is_left_to_pydantic(overrides: dict[str, Any]) -> None:
    assert read_plain_message(_lily_viewed(**overrides)) is None


def test_an_alias_without_previous_id_is_left_to_pydantic_which_refuses_it() -> None:
    plain_event, pydantic_event = _both_readings({"type": "alias", "userId": "u-lily"})
    assert plain_event is None
    assert isinstance(pydantic_event, ValidationError)


# Years clients send: at the very ends of datetime's range the clock-skew arithmetic overflows on either path.
_MOMENTS = {"min_value": datetime(1971, 1, 1), "max_value": datetime(2999, 12, 31)}
# The integers a request body can hold once the collector has read it: orjson.loads reads anything wider than
# 64 bits as a float, so a Python int outside this range never reaches the readers (nor TrackedEvent.to_json).
_JSON_INTEGERS = st.integers(min_value=-(2**63), max_value=2**64 - 1)
_TIMES = st.one_of(
    st.none(),
    st.datetimes(**_MOMENTS, timezones=st.just(UTC)).map(lambda moment: moment.isoformat()),
    st.datetimes(**_MOMENTS).map(lambda moment: moment.isoformat(timespec="milliseconds") + "Z"),
    st.from_regex(r"\A20\d\d-[01]\d-[0-3]\dT[0-2]\d:[0-6]\d:[0-6]\d(\.\d{1,7})?(Z|[+-][0-2]\d:[0-9]\d)?\Z"),
    _JSON_INTEGERS,
    st.text(max_size=8),
)
_TEXT = st.one_of(st.none(), st.text(max_size=12), _JSON_INTEGERS, st.floats(allow_nan=False), st.booleans())
_DOCUMENT = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(["scene", "product_id", "openid", "path"]), _TEXT, max_size=3),
    st.lists(_JSON_INTEGERS, max_size=2),
    st.text(max_size=4),
)
_MESSAGES = st.fixed_dictionaries(
    {"type": st.sampled_from(["track", "identify", "page", "screen", "group", "alias", "buy", 7])},
    optional={
        "messageId": st.one_of(_TEXT, st.text(min_size=95, max_size=105)),
        "anonymousId": _TEXT,
        "userId": _TEXT,
        "user_id": _TEXT,
        "event": _TEXT,
        "name": _TEXT,
        "category": _TEXT,
        "groupId": _TEXT,
        "previousId": _TEXT,
        "timestamp": _TIMES,
        "sentAt": _TIMES,
        "properties": _DOCUMENT,
        "traits": _DOCUMENT,
        "context": _DOCUMENT,
        "integrations": _DOCUMENT,
        "extra": _TEXT,
    },
)


@settings(max_examples=3000, deadline=None)
@given(_MESSAGES)
def test_whatever_the_plain_reader_accepts_pydantic_accepts_as_the_same_event(item: dict[str, Any]) -> None:
    plain_event, pydantic_event = _both_readings(item)
    if plain_event is not None:
        assert not isinstance(pydantic_event, ValidationError), pydantic_event
        assert plain_event == pydantic_event
        assert plain_event.to_json() == pydantic_event.to_json()


def test_a_number_wider_than_64_bits_in_a_body_still_makes_an_event_that_serialises() -> None:
    body = decode_body(
        b'{"batch": [{"type": "track", "event": "Product Viewed", "anonymousId": "device-lily",'
        b' "messageId": "m-big", "properties": {"price": 123456789012345678901234567890}}]}',
        None,
    )
    plain_event, pydantic_event = _both_readings(body["batch"][0])
    assert plain_event is not None
    assert orjson.loads(plain_event.to_json())["properties"]["price"] == pytest.approx(1.2345678901234568e29)
    assert plain_event.to_json() == pydantic_event.to_json()
