from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from streams.inputs import BadInput, activity_from_json, order_fact_from_json
from streams.pushes.messages import TemplateFieldUnknown, render_template_data


def test_a_long_product_name_is_cut_to_twenty_characters_for_a_thing_field() -> None:
    data = render_template_data(
        {"thing1": "{product_name}", "phrase2": "待支付提醒一下", "amount3": "¥88.00"},
        {"product_name": "景德镇手绘青花瓷茶壶礼盒装送长辈实用高档茶具套装"},
    )
    assert len(data["thing1"]) == 20 and data["thing1"].endswith("…")
    assert data["phrase2"] == "待支付提醒"
    assert data["amount3"] == "¥88.00"


def test_an_unknown_template_field_type_is_refused() -> None:
    with pytest.raises(TemplateFieldUnknown):
        render_template_data({"colour1": "red"}, {})


def test_an_order_paid_event_from_the_outbox_is_read_as_a_verified_payment() -> None:
    raw = orjson.dumps({"event_id": "ev-1", "event": "OrderPaid", "key": "SL-1", "occurred_at": "2026-03-02T10:00:00+08:00",
                        "order_id": "SL-1", "user_id": "u-mei", "total_fen": 8800, "transaction_id": "4200"})  # fmt: skip
    fact = order_fact_from_json(raw)
    assert fact is not None
    assert (fact.name, fact.order_id, fact.total_fen) == ("OrderPaid", "SL-1", 8800)
    assert fact.at == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_an_order_paid_event_with_yuan_instead_of_fen_is_refused_with_a_reason() -> None:
    raw = orjson.dumps({"event": "OrderPaid", "occurred_at": "2026-03-02T02:00:00+00:00", "order_id": "SL-1",
                        "user_id": "u-mei", "total_fen": 88.0})  # fmt: skip
    with pytest.raises(BadInput, match="integer fen"):
        order_fact_from_json(raw)


def test_an_event_without_a_person_is_refused() -> None:
    with pytest.raises(BadInput):
        activity_from_json(orjson.dumps({"message_id": "m1", "timestamp": "2026-03-02T02:00:00+00:00"}))


def test_a_late_event_is_dead_lettered_and_not_applied(shop, morning) -> None:
    shop.rule()
    shop.run_until(morning + timedelta(hours=1))
    shop.consent("mei", morning)

    [letter] = shop.of("dead_letters")
    assert letter["reason_code"] == "late_event"
    assert "mei" not in shop.engine.persons


_FULL_EVENT = {
    "message_id": "m-teapot",
    "type": "track",
    "event": "Product Added",
    "person_id": "p-lin",
    "anonymous_id": "a-lin",
    "user_id": "u-lin",
    "timestamp": "2026-03-02T02:00:00.005000+00:00",
    "scene": 1007,
    "properties": {"product_id": "teapot", "quantity": 2, "price": 88.5},
    "traits": {},
    "context": {
        "wechat": {"openid": "o-lin", "unionid": "un-lin"},
        "device": {"id": "d-lin"},
        "ip": "1.2.3.4",
    },
}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"timestamp": "2026-03-02T10:00:00+08:00"},
        {"timestamp": "2026-03-02T02:00:00"},
        {"timestamp": "2026-03-02 02:00:00Z"},
        {"timestamp": "yesterday"},
        {"timestamp": None},
        {"timestamp": 1772416800},
        {"type": None},
        {"type": 7},
        {"event": None},
        {"event": 42},
        {"user_id": ""},
        {"user_id": 12345},
        {"scene": "1007"},
        {"scene": 1007.0},
        {"scene": True},
        {"scene": None},
        {"scene": 2**64 - 1},
        {"properties": {"quantity": 2**64 - 1}},
        {"message_id": ""},
        {"message_id": 99},
        {"person_id": None},
        {"properties": None},
        {"properties": []},
        {"traits": {"birthday": "1990-05-01", "province": "浙江"}},
        {"context": None},
        {"context": {}},
        {"context": []},
        {"context": {"wechat": "o-lin", "device": ["d-lin"]}},
        {"context": {"wechat": {"openid": ""}, "device": {"id": 7}}},
        {"context": {"wechat": None}},
    ],
)
def test_the_fast_event_parser_reads_every_shape_as_the_general_parser_does(changes: dict) -> None:
    from streams.inputs import _activity_from_any_json

    raw = orjson.dumps({**_FULL_EVENT, **changes})
    try:
        expected: object = _activity_from_any_json(raw)
    except BadInput as error:
        expected = ("refused", str(error))
    try:
        found: object = activity_from_json(raw)
    except BadInput as error:
        found = ("refused", str(error))
    assert found == expected


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"text"', b'{"message_id": "m1"', b"\xff"])
def test_a_value_that_is_not_an_event_object_is_refused_with_the_same_reason_by_both_parsers(
    raw: bytes,
) -> None:
    from streams.inputs import _activity_from_any_json

    with pytest.raises(BadInput) as general:
        _activity_from_any_json(raw)
    with pytest.raises(BadInput) as fast:
        activity_from_json(raw)
    assert str(fast.value) == str(general.value)
