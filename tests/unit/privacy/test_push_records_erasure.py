"""The push-records sink keeps `privacy forget`'s tombstones too: a push the streams decided for an erased shopper
before the erasure never lands in the lake, however late the sink receives it, while other shoppers' pushes and
the same phone's pushes as a new person after the window are kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson

from shoploop.tombstone import Tombstone
from streams.sink.pushes import push_records, write_push_records
from warehouse.erasure import LakeErasures, write_tombstone
from warehouse.lake import events_glob

ERASED_AT = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
# Lily was person "phone-lily" (her phone's anonymousId) and logged in as u-lily.
LILY = Tombstone(
    erased_at=ERASED_AT,
    people_until=ERASED_AT + timedelta(minutes=10),
    person_ids=frozenset({"phone-lily"}),
    ids=frozenset({"phone-lily", "u-lily"}),
)
# The sink was down for an hour: everything below reaches it long after the erasure.
SINK_RECEIVED_AT = ERASED_AT + timedelta(hours=1)


def _decided(push_id: str, *, person: str, user_id: str | None, fired_at: datetime) -> bytes:
    """A trigger on `shoploop.streams.triggers` as the automations engine sends it (outcome `send`)."""
    return orjson.dumps(
        {
            "trigger_id": push_id,
            "rule_id": "abandoned-cart",
            "rule_version": 3,
            "person_id": person,
            "user_id": user_id,
            "fired_at": fired_at.isoformat(),
            "outcome": "send",
            "template_id": "tpl-cart",
        }
    )


def _sent(push_id: str, *, person: str, fired_at: datetime) -> bytes:
    """The push agent's result on `shoploop.streams.pushes` (it carries the trigger's fired_at)."""
    return orjson.dumps(
        {
            "trigger_id": push_id,
            "rule_id": "abandoned-cart",
            "rule_version": 3,
            "person_id": person,
            "template_id": "tpl-cart",
            "fired_at": fired_at.isoformat(),
            "status": "sent",
        }
    )


def _opened(push_id: str, *, person: str, at: datetime) -> bytes:
    return orjson.dumps(
        {"trigger_id": push_id, "status": "opened", "person_id": person, "at": at.isoformat()}
    )


def _lake_push_rows(pushes_dir: Path) -> list[tuple[str, str]]:
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select push_id, person_id from read_parquet(?) order by push_id, person_id",
            [events_glob(pushes_dir)],
        ).fetchall()
    return [(str(push_id), str(person)) for push_id, person in rows]


def test_pushes_decided_for_a_forgotten_shopper_before_her_erasure_never_land_however_late_they_arrive(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    write_tombstone(lake, LILY)
    erasures = LakeErasures(lake)
    before = ERASED_AT - timedelta(minutes=5)
    table, broken = push_records(
        [
            # Her cart reminder: decided, sent and opened before she asked to be forgotten.
            _decided("push-lily-cart", person="phone-lily", user_id="u-lily", fired_at=before),
            _sent("push-lily-cart", person="phone-lily", fired_at=before),
            _opened("push-lily-cart", person="phone-lily", at=before + timedelta(minutes=1)),
            # Decided under another person her account had been merged into, before the erasure.
            _decided("push-lily-tablet", person="p-tablet", user_id="u-lily", fired_at=before),
            # Decided from what the streams still held of her, just after the erasure (within the window).
            _decided(
                "push-lily-stale",
                person="phone-lily",
                user_id=None,
                fired_at=ERASED_AT + timedelta(minutes=2),
            ),
            # Her phone came back as a new person (the same person id) after the window: its pushes are kept.
            _decided(
                "push-phone-later", person="phone-lily", user_id=None, fired_at=ERASED_AT + timedelta(hours=2)
            ),
            _decided("push-ming-cart", person="phone-ming", user_id="u-ming", fired_at=before),
        ],
        received_at=SINK_RECEIVED_AT,
    )
    assert not broken

    written = write_push_records(lake / "pushes", "2026-12-07", table, erasures=erasures)

    assert written is not None
    assert _lake_push_rows(lake / "pushes") == [
        ("push-ming-cart", "phone-ming"),
        ("push-phone-later", "phone-lily"),
    ]
    assert (erasures.dropped_last, erasures.dropped_total) == (5, 5)


def test_a_batch_of_only_a_forgotten_shoppers_pushes_writes_no_file(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_tombstone(lake, LILY)
    table, _ = push_records(
        [_decided("push-lily-cart", person="phone-lily", user_id="u-lily", fired_at=ERASED_AT)],
        received_at=SINK_RECEIVED_AT,
    )

    written = write_push_records(lake / "pushes", "2026-12-07", table, erasures=LakeErasures(lake))

    assert written is None
    assert not list((lake / "pushes").glob("*/*.parquet"))
