"""An erasure read from `shoploop.privacy.erasures` leaves no trace of the shopper in the decisions task's
checkpoint: after it is committed, a restarted worker restores nothing of hers (not from a page that also held
other shoppers, nor from a row the next batch had not deleted yet), her reminder never fires, and her late
events stay out; a crash before the commit reads the erasure again and applies it to the state from before."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import orjson
import pytest

from shoploop.kafka import Topics
from shoploop.tombstone import Tombstone
from streams.automations.rules import PushPolicy, Rule
from streams.engine.batch import as_messages
from streams.engine.checkpoint import Checkpoint, CheckpointTables, offer_records
from streams.engine.core import Engine, Output
from streams.erasure import erasure_message
from streams.inputs import Activity, Input, OrderFact

MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
CART_RULE = Rule(rule_id="cart-1h", version=1, kind="abandoned_cart", delay_s=3600, cooldown_s=0,
                 holdout_share=0.0, quiet_start=time(0, 0), quiet_end=time(0, 0), template_id="TPL_CART",
                 template_data={"thing1": "{product_name}"})  # fmt: skip
ADDED = {"product_id": "p-teapot", "sku": "sku-teapot", "name": "白瓷茶壶", "quantity": 1}
LILY = Tombstone(
    person_ids=frozenset({"lily"}),
    ids=frozenset({"lily", "u-lily", "u-lily-old"}),
    erased_at=MORNING + 28 * MINUTE,
    people_until=MORNING + 40 * MINUTE,
)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes


def _did(
    n: int, person: str, minutes: float, event: str, *, scene: int | None = None, **properties: Any
) -> Activity:
    return Activity(f"m{n:04d}", person, MORNING + minutes * MINUTE, "track", event, user_id=f"u-{person}",
                    scene=scene, properties=properties)  # fmt: skip


def _batches() -> list[list[Record]]:
    offsets: dict[str, int] = {}

    def records(inputs: Iterable[Input], *, erasure: Tombstone | None = None) -> list[Record]:
        messages = as_messages(list(inputs))
        if erasure is not None:
            messages.insert(0, (Topics.PRIVACY_ERASURES.name, "lily", erasure_message(erasure)))
        batch = []
        for topic, _, value in messages:
            offset = offsets[topic] = offsets.get(topic, -1) + 1
            batch.append(Record(topic, 0, offset, value))
        return batch

    first = [
        _did(1, "lily", 0, "Subscribe Message Consent", results={"TPL_CART": "accept"}),
        _did(2, "lily", 1, "Product Added", **ADDED),
        _did(3, "lily", 2, "Product Shared", share_id="sh-1", share_depth=1, product_id="p-teapot"),
        _did(4, "ming", 1, "Subscribe Message Consent", results={"TPL_CART": "accept"}),
        _did(5, "ming", 3, "Mini Program Launched", scene=1007, share_id="sh-1"),
        _did(6, "ming", 4, "Product Added", **ADDED),
        _did(7, "lily", 5, "Order Completed", order_id="SL-1"),
        OrderFact("placed:SL-1", "OrderPlaced", MORNING + 5 * MINUTE, user_id="u-lily", order_id="SL-1"),
        # A payment of an account of hers that no tracked event named yet: parked.
        OrderFact("paid:SL-0", "OrderPaid", MORNING + 6 * MINUTE, user_id="u-lily-old", order_id="SL-0"),
        _did(8, "lily", 27, "Product Viewed", product_id="p-teapot"),  # still buffered at the erasure
        _did(9, "ming", 30, "Product Viewed", product_id="p-teapot"),
    ]
    second = [
        _did(10, "lily", 26, "Product Added", **ADDED),  # on Kafka before the erasure, read after it
        _did(11, "ming", 41, "Product Viewed", product_id="p-teapot"),
    ]
    third = [_did(12, "ming", 180, "Product Viewed", product_id="p-teapot")]  # every reminder falls due
    return [records(first), records(second, erasure=LILY), records(third)]


class Worker:
    """What the decisions task does with a fetched batch, on tables that survive it."""

    def __init__(self, tables: CheckpointTables) -> None:
        self.tables = tables
        self.engine = Engine(policy=PushPolicy(daily_cap=10), allowed_lateness=timedelta(minutes=5))
        self.engine.applied_ids = []
        self.checkpoints = Checkpoint(tables)
        self.checkpoints.restore(self.engine)
        self.engine.publish_rule(CART_RULE)
        self.outputs: list[Output] = []

    def decide(self, records: list[Record], *, commit: bool = True) -> None:
        engine = self.engine
        results, offered, _ = offer_records(engine, records, self.checkpoints.next_offsets, seen_at=0.0)
        results += engine.advance()
        still = self.checkpoints.still_pending(engine, offered)
        applied = set(engine.applied_ids or ())
        engine.applied_ids = []
        self.outputs += results
        self.checkpoints.write(engine, new_chunk=still, applied_ids=applied)
        if commit:
            self.checkpoints.commit(engine)

    def triggered(self) -> list[str]:
        return sorted(o.value["person_id"] for o in self.outputs if o.stream == "triggers")


class RecordingTable(dict[str, Any]):
    """A table that remembers its writes in order, as the changelog gets them."""

    def __init__(self, name: str, log: list[tuple[str, str, Any]]) -> None:
        super().__init__()
        self.name, self.log = name, log

    def __setitem__(self, key: str, value: Any) -> None:
        self.log.append((self.name, key, value))
        super().__setitem__(key, value)

    def pop(self, key: str, default: Any = None) -> Any:
        self.log.append((self.name, key, None))
        return super().pop(key, default)


NAMES = ("persons", "entries", "shares", "index", "pending", "shop")


def _tables(log: list[tuple[str, str, Any]]) -> CheckpointTables:
    return CheckpointTables(**{name: RecordingTable(name, log) for name in NAMES})


def _recovered(writes: list[tuple[str, str, Any]]) -> CheckpointTables:
    """Fresh tables holding what `writes` put on the changelog (what Faust recovers after a restart)."""
    recovered = _tables([])
    for name, key, value in writes:
        table = getattr(recovered, name)
        if value is None:
            dict.pop(table, key, None)
        else:
            dict.__setitem__(table, key, value)
    return recovered


def _rows_naming_lily(tables: CheckpointTables) -> list[str]:
    """Every table row (key or value) that names Lily, her accounts or her phone's events."""
    found = []
    for name in NAMES:
        for key, value in getattr(tables, name).items():
            raw = value if isinstance(value, bytes) else orjson.dumps(value)
            if name != "shop" and (b"lily" in raw or "lily" in key):
                found.append(f"{name}:{key}")
    return found


def _state_naming_lily(engine: Engine) -> bool:
    return "lily" in repr(
        (engine.persons, engine.person_by_user, engine.person_by_order, engine.parked_payments,
         engine.orders_by_user, engine.accounts_by_device, engine.shares, engine.pending(), engine._due)
    )  # fmt: skip


def test_lily_is_in_the_checkpoint_before_her_erasure() -> None:
    first, _, _ = _batches()
    worker = Worker(_tables([]))
    worker.decide(first)
    assert {"persons", "index", "pending", "shares"} <= {
        row.split(":")[0] for row in _rows_naming_lily(worker.tables)
    }


def test_a_worker_restarted_right_after_the_erasure_was_committed_restores_nothing_of_hers() -> None:
    first, second, third = _batches()
    log: list[tuple[str, str, Any]] = []
    worker = Worker(_tables(log))
    worker.decide(first)
    worker.decide(second)  # the erasure; what it superseded would be deleted by the next batch

    restarted = Worker(_recovered(log))

    assert not _state_naming_lily(restarted.engine)
    assert _rows_naming_lily(restarted.tables) == []
    assert restarted.engine.erasure_guards == [LILY]
    # Ming came in through Lily's share: the node stays, naming no one.
    assert restarted.engine.shares["sh-1"].sharer_user_id is None
    restarted.decide(third)
    assert restarted.triggered() == ["ming"]
    assert "ming" in restarted.engine.persons and restarted.engine.persons["ming"].touches


@pytest.mark.parametrize("reached", ["every row but the commit", "the person pages only", "no row"])
def test_an_erasure_cut_short_by_a_crash_is_read_again_and_applied_to_the_state_from_before_it(
    reached: str,
) -> None:
    first, second, third = _batches()
    log: list[tuple[str, str, Any]] = []
    crashed = Worker(_tables(log))
    crashed.decide(first)
    committed = len(log)
    crashed.decide(second, commit=False)
    batch_rows = {"every row but the commit": log[committed:], "no row": []}.get(
        reached, [write for write in log[committed:] if write[0] == "persons"]
    )

    restarted = Worker(_recovered(log[:committed] + batch_rows))
    for batch in (first, second, third):  # the reader starts from the committed offsets
        restarted.decide(batch)

    assert not _state_naming_lily(restarted.engine)
    assert _rows_naming_lily(restarted.tables) == []
    assert restarted.triggered() == ["ming"]


def test_without_a_restart_her_reminder_never_fires_and_the_next_batch_deletes_every_row_of_hers() -> None:
    first, second, third = _batches()
    worker = Worker(_tables([]))
    for batch in (first, second, third):
        worker.decide(batch)

    assert worker.triggered() == ["ming"]
    assert _rows_naming_lily(worker.tables) == []
    assert not worker.engine.erasure_guards  # event time passed the person window
