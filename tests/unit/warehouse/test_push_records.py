"""The sink turns the streams' push decisions, sends and opens into push records, and ignores what is no push."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from streams.sink.pushes import push_records

RECEIVED = datetime(2024, 11, 11, 6, 30, 2, tzinfo=UTC)


def _trigger(trigger_id: str, outcome: str) -> bytes:
    return orjson.dumps(
        {
            "trigger_id": trigger_id,
            "rule_id": "cart-30m",
            "rule_version": 1,
            "kind": "abandoned_cart",
            "person_id": "anon-sun",
            "user_id": "u-sun",
            "due_at": "2024-11-11T06:30:00+00:00",
            "fired_at": "2024-11-11T06:30:00+00:00",
            "outcome": outcome,
            "template_id": "TPL_CART",
        }
    )


def test_a_decision_a_send_and_an_open_each_become_a_row_of_the_same_push() -> None:
    sent = orjson.dumps(
        {
            "trigger_id": "trg-1",
            "rule_id": "cart-30m",
            "rule_version": 1,
            "person_id": "anon-sun",
            "template_id": "TPL_CART",
            "fired_at": "2024-11-11T06:30:00+00:00",
            "status": "sent",
            "errcode": 0,
        }
    )
    opened = orjson.dumps(
        {
            "trigger_id": "trg-1",
            "status": "opened",
            "person_id": "anon-sun",
            "at": "2024-11-11T06:50:00+00:00",
        }
    )

    table, broken = push_records([_trigger("trg-1", "send"), sent, opened], received_at=RECEIVED)

    assert broken == []
    rows = table.to_pylist()
    assert [row["push_id"] for row in rows] == ["trg-1", "trg-1", "trg-1"]
    assert rows[0]["is_holdout"] is False and rows[0]["decided_at"] == datetime(
        2024, 11, 11, 6, 30, tzinfo=UTC
    )
    assert rows[1]["sent_at"] == RECEIVED
    assert rows[2]["opened_at"] == datetime(2024, 11, 11, 6, 50, tzinfo=UTC)


def test_a_held_out_shopper_is_a_push_record_but_a_deferred_or_failed_one_is_not() -> None:
    failed = orjson.dumps({"trigger_id": "trg-3", "status": "failed", "reason": "no_openid"})

    table, broken = push_records(
        [_trigger("trg-2", "holdout"), _trigger("trg-4", "defer"), failed, b"[1]", b"{oops"],
        received_at=RECEIVED,
    )

    assert [(row["push_id"], row["is_holdout"]) for row in table.to_pylist()] == [("trg-2", True)]
    assert [reason.split(":")[0] for _, reason in broken] == ["TypeError", "JSONDecodeError"]
