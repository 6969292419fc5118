"""A crash in the middle of a checkpoint's flush: some of the batch's rows reached the changelog, the shop
row with the input offsets did not. The restarted worker reads the batch again from the committed offsets;
it must apply it to the state from before it — an accepted consent counted once, triggers and order times as
if nothing had happened."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import orjson
import pytest

from streams.automations.rules import PushPolicy, Rule
from streams.engine.batch import as_messages
from streams.engine.checkpoint import Checkpoint, CheckpointTables, offer_records
from streams.engine.core import Engine, Output
from streams.inputs import Activity, Input, OrderFact

MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
CART_RULE = Rule(
    rule_id="cart-1h",
    version=1,
    kind="abandoned_cart",
    delay_s=3600,
    cooldown_s=0,
    holdout_share=0.0,
    quiet_start=time(0, 0),
    quiet_end=time(0, 0),
    template_id="TPL_CART",
    template_data={"thing1": "{product_name}"},
    page="pages/cart/index",
)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes


def _activity(n: int, person: str, at: datetime, event: str, **properties: Any) -> Activity:
    return Activity(f"m{n:04d}", person, at, "track", event, user_id=f"u-{person}", properties=properties)


def _records(inputs: Iterable[Input], offsets: dict[str, int]) -> list[Record]:
    records = []
    for topic, _, value in as_messages(list(inputs)):
        offset = offsets[topic] = offsets.get(topic, -1) + 1
        records.append(Record(topic, 0, offset, value))
    return records


def _batches() -> list[list[Record]]:
    offsets: dict[str, int] = {}
    added = {"product_id": "p-teapot", "sku": "sku-teapot", "name": "白瓷茶壶", "quantity": 1}
    first = [
        _activity(1, "lily", MORNING, "Subscribe Message Consent", results={"TPL_CART": "accept"}),
        _activity(2, "lily", MORNING + MINUTE, "Product Added", **added),
        _activity(3, "ming", MORNING + MINUTE, "Product Added", **added),
    ]
    second = [  # the batch the crash interrupts: a consent, a payment, an order, a new cart
        _activity(
            4, "lily", MORNING + 2 * MINUTE, "Subscribe Message Consent", results={"TPL_CART": "accept"}
        ),
        _activity(
            5, "ming", MORNING + 3 * MINUTE, "Subscribe Message Consent", results={"TPL_CART": "accept"}
        ),
        OrderFact("placed:SL-1", "OrderPlaced", MORNING + 3 * MINUTE, user_id="u-wei", order_id="SL-1"),
        OrderFact(
            "paid:SL-1", "OrderPaid", MORNING + 4 * MINUTE, user_id="u-wei", order_id="SL-1", total_fen=8800
        ),
        _activity(6, "wei", MORNING + 5 * MINUTE, "Product Added", **added),
    ]
    third = [  # event time moves on: every reminder falls due
        _activity(7, "lily", MORNING + 3 * timedelta(hours=1), "Product Viewed", product_id="p-teapot"),
    ]
    return [_records(batch, offsets) for batch in (first, second, third)]


class Worker:
    """What the decisions task does with a fetched batch, on tables that survive it."""

    def __init__(self, tables: CheckpointTables) -> None:
        self.engine = Engine(policy=PushPolicy(daily_cap=10), allowed_lateness=timedelta(0))
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

    def triggers(self) -> set[bytes]:
        return {orjson.dumps(o.value) for o in self.outputs if o.stream == "triggers"}


class RecordingTable(dict[str, Any]):
    """A table that remembers the order of its writes, as the changelog would get them."""

    def __init__(self, name: str, log: list[tuple[str, str, Any]]) -> None:
        super().__init__()
        self.name, self.log = name, log

    def __setitem__(self, key: str, value: Any) -> None:
        self.log.append((self.name, key, value))
        super().__setitem__(key, value)

    def pop(self, key: str, default: Any = None) -> Any:
        self.log.append((self.name, key, None))
        return super().pop(key, default)


def _tables(log: list[tuple[str, str, Any]]) -> CheckpointTables:
    return CheckpointTables(**{name: RecordingTable(name, log) for name in ("persons", "entries", "shares", "index", "pending", "shop")})  # fmt: skip


def _replayed(tables: CheckpointTables, writes: list[tuple[str, str, Any]]) -> CheckpointTables:
    """Fresh tables holding what `writes` put on the changelog (what Faust recovers after a restart)."""
    recovered = _tables([])
    for name, key, value in writes:
        table = getattr(recovered, name)
        if value is None:
            dict.pop(table, key, None)
        else:
            dict.__setitem__(table, key, value)
    return recovered


@pytest.mark.parametrize("reached", ["every row but the commit", "the person pages only", "every other row"])
def test_a_batch_replayed_after_a_crash_mid_flush_is_applied_once(reached: str) -> None:
    first, second, third = _batches()
    steady = Worker(_tables([]))
    for batch in (first, second, third):
        steady.decide(batch)

    log: list[tuple[str, str, Any]] = []
    tables = _tables(log)
    crashed = Worker(tables)
    crashed.decide(first)
    committed = len(log)
    crashed.decide(second, commit=False)  # the flush is cut short: no shop row for this batch
    batch_rows = log[committed:]
    if reached == "the person pages only":
        batch_rows = [write for write in batch_rows if write[0] == "persons"]
    elif reached == "every other row":
        batch_rows = batch_rows[::2]

    restarted = Worker(_replayed(tables, log[:committed] + batch_rows))
    restarted.outputs = list(crashed.outputs)
    for batch in (first, second, third):  # the reader starts from the committed offsets
        restarted.decide(batch)

    assert {p: s.quota for p, s in restarted.engine.persons.items()} == {
        p: s.quota for p, s in steady.engine.persons.items()
    }
    assert steady.engine.persons["lily"].quota == {"TPL_CART": 1}  # two accepts, one send
    assert restarted.engine.orders_by_user == steady.engine.orders_by_user
    assert restarted.engine.paid_order_ids == steady.engine.paid_order_ids
    assert restarted.triggers() == steady.triggers()
    assert {orjson.loads(t)["person_id"] for t in steady.triggers()} == {"lily", "ming"}  # wei never accepted


def test_a_restart_after_a_committed_batch_reads_nothing_again_and_loses_nothing() -> None:
    first, second, third = _batches()
    steady = Worker(_tables([]))
    for batch in (first, second, third):
        steady.decide(batch)
    log: list[tuple[str, str, Any]] = []
    worker = Worker(_tables(log))
    worker.decide(first)
    worker.decide(second)

    restarted = Worker(_replayed(_tables([]), log))
    restarted.outputs = list(worker.outputs)
    for batch in (first, second, third):
        restarted.decide(batch)

    assert restarted.checkpoints.next_offsets == steady.checkpoints.next_offsets
    assert {p: s.quota for p, s in restarted.engine.persons.items()} == {
        p: s.quota for p, s in steady.engine.persons.items()
    }
    assert restarted.triggers() == steady.triggers()
