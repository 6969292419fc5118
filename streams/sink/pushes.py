"""Push records for the lake: what the streams' automations decided, sent and saw opened, one row per message.

Three kinds of message say something about one push (keyed by its trigger id, the push id):
- a trigger on `shoploop.streams.triggers` with outcome `send` or `holdout`: the decision (rule, version, shopper,
  when, held out or not); other outcomes (defer, suppress) are no push;
- a result on `shoploop.streams.pushes` with status `sent` (or `failed`): the send;
- an `opened` record on `shoploop.streams.pushes`: the shopper came in from the message.
Each becomes one row of `PUSHES_SCHEMA`; `stg_lake__pushes` folds a push's rows into one. The rows are facts
that do not contradict each other, so a message delivered twice changes nothing there.

`privacy forget` holds here too (`write_push_records`): the rows of an erased shopper are dropped by the lake's
tombstones, under the same rules as events, but judged by the push's own time (`push_times`) — a push row's
`received_at` is this sink's clock, which can be any time after the decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import structlog

from warehouse.erasure import LakeErasures
from warehouse.lake import PUSHES_SCHEMA, write_partition

log = structlog.get_logger(__name__)

PUSH_OUTCOMES = ("send", "holdout")


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def push_row(message: dict[str, Any], *, received_at: datetime) -> dict[str, Any] | None:
    """The lake row one trigger, send result or open says, or None when it says nothing about a push."""
    push_id = message.get("trigger_id")
    if not isinstance(push_id, str) or not push_id:
        return None
    status, outcome = message.get("status"), message.get("outcome")
    row: dict[str, Any] = {
        "push_id": push_id,
        "rule_id": message.get("rule_id"),
        "rule_version": message.get("rule_version"),
        "person_id": message.get("person_id"),
        "user_id": message.get("user_id"),
        "is_holdout": None,
        "decided_at": _time(message.get("fired_at")),
        "sent_at": None,
        "opened_at": None,
        "template_id": message.get("template_id"),
        "received_at": received_at,
    }
    if outcome in PUSH_OUTCOMES:
        row["is_holdout"] = outcome == "holdout"
    elif status == "sent":
        # The push agent records the result right after WeChat accepted the message.
        row["sent_at"] = received_at
    elif status == "opened":
        row["opened_at"] = _time(message.get("at")) or received_at
    else:
        return None
    return row


def push_records(
    values: Sequence[bytes], *, received_at: datetime
) -> tuple[pa.Table, list[tuple[bytes, str]]]:
    """Kafka values from the triggers and pushes topics → push rows, and the values that are not JSON objects."""
    rows: list[dict[str, Any]] = []
    broken: list[tuple[bytes, str]] = []
    for value in values:
        try:
            message = orjson.loads(value)
        except orjson.JSONDecodeError as error:
            broken.append((value, f"JSONDecodeError: {error}"))
            continue
        if not isinstance(message, dict):
            broken.append(
                (value, f"TypeError: a push message is a JSON object, not {type(message).__name__}")
            )
            continue
        row = push_row(message, received_at=received_at)
        if row is not None:
            rows.append(row)
    return pa.Table.from_pylist(rows, schema=PUSHES_SCHEMA), broken


def push_times(table: pa.Table) -> pa.ChunkedArray:
    """The time by which an erasure judges each push row: when the streams decided the push (`decided_at`, the
    trigger's `fired_at`, carried by the decision and by its send result), else when the shopper opened it (the
    open's event time), else when this sink received the row. Not `received_at` first: a decision made before
    the erasure may reach this sink long after it, while the streams lag or the sink is down."""
    return pc.coalesce(table["decided_at"], table["opened_at"], table["received_at"])


def write_push_records(
    pushes_dir: Path, day: str, table: pa.Table, *, erasures: LakeErasures | None = None
) -> Path | None:
    """Write push rows as one file of the day's partition, without the rows of shoppers `privacy forget` erased
    (with `erasures`, the lake's tombstones; under the lake's erasure lock, as the events sink does). Returns the
    file, or None when no row was left to write."""
    if erasures is None:
        return write_partition(pushes_dir, day, table) if table.num_rows else None
    with erasures.writing():
        kept = erasures.drop_erased(table, times=push_times(table))
        if erasures.dropped_last:
            log.info(
                "pushes_sink_dropped_erased", records=erasures.dropped_last, total=erasures.dropped_total
            )
        return write_partition(pushes_dir, day, kept) if kept.num_rows else None
