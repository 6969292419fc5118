"""The decisions task's checkpoint: the engine's state in Faust tables, consistent with the input offsets.

A batch's rows reach the changelog topics' partitions in no particular order, and a crash can come in the
middle of a flush. So a checkpoint is a two-step commit: every row a batch writes carries the batch's
*epoch* (a person or entry page in its key, the other rows in their value) and never overwrites or deletes
a row an earlier epoch still needs (superseded rows are deleted by the next batch); the batch's rows are
flushed, and only then is the small shop row — input offsets, clocks, the live pending chunks and the epoch —
written and flushed. A restore takes what the last shop row's epoch covers and deletes the rest, so the
state always matches the offsets it restarts from: an input re-read after a crash is applied to the state
from before it, never twice (an accepted consent is one quota, a send consumes one).

An erasure (`privacy forget`, read from its topic with the inputs) makes the next batch rewrite every row that
named the person, and its shop row lists what the batch superseded, so no restart brings her back.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, Protocol

import orjson

from ingestion.contract.event import EVENT_SEPARATOR, event_values
from shoploop.kafka import Topics
from shoploop.tombstone import Tombstone
from streams.engine.core import Engine, Erased, Output, PersonState
from streams.erasure import apply_erasure
from streams.ids import stable_id
from streams.inputs import Activity, BadInput, OrderFact, activity_from_json, order_fact_from_json
from streams.referrals.models import ShareNode

# A table row is one Kafka message: keep each pending chunk well under the 1 MB default request size.
CHUNK_MAX_BYTES = 256 * 1024


def _split(rows: list[dict[str, Any]], *, max_bytes: int) -> list[list[dict[str, Any]]]:
    chunks: list[list[dict[str, Any]]] = []
    size = max_bytes
    for row in rows:
        length = len(row["raw"]) + len(row["id"]) + 40
        if size + length > max_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(row)
        size += length
    return chunks


def _pages(rows: list[dict[str, Any]], *, max_bytes: int) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    size = max_bytes
    for row in rows:
        length = len(orjson.dumps(row))
        if size + length > max_bytes:
            pages.append([])
            size = 0
        pages[-1].append(row)
        size += length
    return pages


def _parse_input(topic: str, raw: bytes) -> Activity | OrderFact | None:
    if topic == Topics.ORDERS.name:
        return order_fact_from_json(raw)
    return activity_from_json(raw)


_SHARE_FIELDS = tuple(field.name for field in fields(ShareNode))


def _share_to_dict(node: ShareNode) -> dict[str, Any]:
    # Field by field: `asdict` deep-copies every value, several times the cost for these flat records.
    return {**{name: getattr(node, name) for name in _SHARE_FIELDS}, "shared_at": node.shared_at.isoformat()}


def _shares_of(row: list[dict[str, Any]] | dict[str, Any]) -> list[dict[str, Any]]:
    """A `streams-shares` row: a page of shares with its epoch, a bare page (before epochs), or one share
    (rows written before pages)."""
    if isinstance(row, list):
        return row
    return list(row["shares"]) if "shares" in row and "epoch" in row else [row]


def page_number(key: str) -> int:
    """The batch (epoch) a `PersonPages` row was written by: its key's first part."""
    return int(key.split("-")[0])


def _share_from_dict(data: dict[str, Any]) -> ShareNode:
    return ShareNode(**{**data, "shared_at": datetime.fromisoformat(data["shared_at"])})


class PersonPages:
    """Where each person's checkpoint lives: a batch writes the persons it changed into a few new rows
    ("pages", ≤ CHUNK_MAX_BYTES each) instead of one table row per person, so Faust's per-row cost is paid per
    256 KB. A page whose persons were all rewritten later is deleted; a page with less than a quarter of its
    persons still current has them rewritten with the batch, so the table stays within 4x the live state.
    Page keys sort in write order, so on restore the newest copy of a person wins.
    """

    def __init__(self, id_field: str = "person_id") -> None:
        self.id_field = id_field
        self.page_of: dict[str, str] = {}
        self.members: dict[str, set[str]] = {}
        self.size: dict[str, int] = {}
        self.next_page = 0

    def restore(self, rows: list[tuple[str, bytes]]) -> tuple[list[dict[str, Any]], list[str]]:
        """The newest copy of every person in `rows`, and the pages no person lives in any more."""
        newest: dict[str, dict[str, Any]] = {}
        for key, raw in sorted(rows):
            people = orjson.loads(raw)
            self.size[key] = len(people)
            self.members[key] = set()
            self.next_page = max(self.next_page, int(key.split("-")[0]) + 1)
            for person in people:
                person_id = person[self.id_field]
                old = self.page_of.get(person_id)
                if old is not None:
                    self.members[old].discard(person_id)
                self.page_of[person_id] = key
                self.members[key].add(person_id)
                newest[person_id] = person
        stale = [key for key, members in self.members.items() if not members]
        for key in stale:
            del self.members[key], self.size[key]
        return list(newest.values()), stale

    def write(
        self,
        changed: set[str],
        persons: dict[str, PersonState] | None = None,
        *,
        encode: Callable[[str], bytes] | None = None,
        number: int | None = None,
        removed: set[str] | frozenset[str] = frozenset(),
    ) -> tuple[list[tuple[str, bytes]], list[str]]:
        """(rows to write, rows to delete) for a batch that changed `changed`; each entry is `encode(id)`
        (default: the person's JSON). `number` numbers the rows (the checkpoint's epoch). The pages holding a
        `removed` id (an erased person) are rewritten whole without it, so no row keeps it."""
        if number is not None:
            self.next_page = number
        if encode is None:
            assert persons is not None
            encode = lambda person_id: persons[person_id].to_json()  # noqa: E731
        moving, left, rewrite = set(changed), set(), set()
        for person_id in removed:
            old = self.page_of.pop(person_id, None)
            if old is not None:
                self.members[old].discard(person_id)
                left.add(old)
                rewrite.add(old)
        for person_id in changed:
            old = self.page_of.get(person_id)
            if old is not None:
                self.members[old].discard(person_id)
                left.add(old)
        for key in left:
            if key in rewrite or 4 * len(self.members[key]) < self.size[key]:
                moving |= self.members[
                    key
                ]  # compaction: few current persons left; rewrite them with the batch
                self.members[key] = set()
        deleted = [key for key in left if not self.members[key]]
        for key in deleted:
            del self.members[key], self.size[key]
        rows: list[tuple[str, bytes]] = []
        page: list[bytes] = []
        ids: list[str] = []
        size = 0

        def close() -> None:
            key = f"{self.next_page:012d}-{len(rows):05d}"
            rows.append((key, b"[" + b",".join(page) + b"]"))
            self.members[key], self.size[key] = set(ids), len(ids)
            for person_id in ids:
                self.page_of[person_id] = key

        for person_id in sorted(moving):
            raw = encode(person_id)
            if page and size + len(raw) > CHUNK_MAX_BYTES:
                close()
                page, ids, size = [], [], 0
            page.append(raw)
            ids.append(person_id)
            size += len(raw) + 1
        if page:
            close()
        self.next_page += 1
        return rows, deleted


def shop_state(engine: Engine) -> dict[str, Any]:
    """The engine's small shop-wide state (rules, clocks, sold-out SKUs …), as one JSON-able row.

    What grows with the shop (paid orders, per-user order times, accounts per device, flags, payments parked
    until their shopper's login event) is kept in index rows instead, written only when they change.
    """
    return {
        "now": engine.now.isoformat() if engine.now else None,
        "watermark": {p: at.isoformat() for p, at in engine.watermark.latest_by_partition.items()},
        "rules": engine.rules.as_dict(),
        "sold_out": sorted(engine.sold_out),
        "suppressed": engine.suppressed,
        "newest_paid_at": engine.newest_paid_at.isoformat() if engine.newest_paid_at else None,
        "erasure_guards": [guard.to_dict() for guard in engine.erasure_guards],
    }


def index_row(engine: Engine, kind: str, key: str) -> dict[str, Any] | None:
    """One changed shop-wide index entry as a table row (None: the entry is gone)."""
    value: Any
    if kind == "paid":
        value = key in engine.paid_order_ids or None
    elif kind == "orders":
        times = engine.orders_by_user.get(key)
        value = [at.isoformat() for at in times] if times else None
    elif kind == "device":
        users = engine.accounts_by_device.get(key)
        value = sorted(users) if users else None
    elif kind == "parked":
        facts = engine.parked_payments.get(key)
        value = [{**asdict(f), "at": f.at.isoformat()} for f in facts] if facts else None
    elif kind == "order_person":
        value = engine.person_by_order.get(key)
    else:
        user, reason = key.split("\x1f", 1)
        value = (user, reason) in engine.flagged_reasons or None
    return None if value is None else {"kind": kind, "key": key, "value": value}


# Index entries that only ever grow (a paid order id, a device's accounts, a flag): a batch writes its new
# ones as a few rows of many facts each ("fact pages") instead of one table row per entry, so Faust's
# per-row cost is paid per 256 KB; on restore the facts are unioned. Entries that change or disappear (order
# times per user, parked payments) are written like persons, many to a row of `streams-entry-pages`, the
# newest copy winning (a gone entry is written with value None).
GROWING_INDEX = frozenset({"paid", "device", "flag", "order_person"})


def fact_pages(facts: list[dict[str, Any]], *, max_bytes: int) -> list[tuple[str, dict[str, Any]]]:
    """(row key, row) pages of at most about `max_bytes` each for the growing index entries `facts`."""
    ordered = sorted(facts, key=lambda fact: (fact["kind"], fact["key"]))
    return [_fact_page(page) for page in _pages(ordered, max_bytes=max_bytes)]


def _fact_page(facts: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    first, last = facts[0], facts[-1]
    key = stable_id("facts", orjson.dumps(first).decode(), orjson.dumps(last).decode(), str(len(facts)))
    return f"facts\x1f{key}", {"kind": "facts", "key": key, "value": facts}


def entry_row(engine: Engine, entry_id: str) -> bytes:
    """A changing index entry ("kind\x1fkey") as a record of an entry page (value None: it is gone)."""
    kind, key = entry_id.split("\x1f", 1)
    row = index_row(engine, kind, key)
    return orjson.dumps({"entry_id": entry_id, "kind": kind, "key": key, "value": row and row["value"]})


def restore_engine(
    engine: Engine,
    *,
    shop: dict[str, Any] | None,
    persons: list[dict[str, Any]],
    shares: list[dict[str, Any]],
    index: list[dict[str, Any]],
    pending: list[dict[str, Any]],
) -> None:
    """Rebuild the engine from its table rows after a restart (the order of rows does not matter)."""
    from streams.automations.rules import Rule

    if shop:
        engine.restore_shop(
            rules=[Rule.model_validate(rule) for rule in shop.get("rules", {}).values()],
            sold_out=shop.get("sold_out", ()),
        )
        engine.now = datetime.fromisoformat(shop["now"]) if shop.get("now") else None
        for partition, at in shop.get("watermark", {}).items():
            engine.watermark.observe(partition, datetime.fromisoformat(at))
        engine.suppressed = dict(shop.get("suppressed", {}))
        engine.newest_paid_at = (
            datetime.fromisoformat(shop["newest_paid_at"]) if shop.get("newest_paid_at") else None
        )
        engine.set_erasure_guards([Tombstone.from_dict(g) for g in shop.get("erasure_guards", ())])
    index = list(index)
    for row in list(index):
        if row["kind"] == "facts":
            index += row["value"]  # a page of growing entries: each is restored like a row of its own
    for row in index:
        kind, key, value = row["kind"], row["key"], row["value"]
        if kind == "paid":
            engine.paid_order_ids.add(key)
        elif kind == "orders" and value is None:  # an entry page's record that the entry is gone
            engine.orders_by_user.pop(key, None)
        elif kind == "parked" and value is None:
            engine.parked_payments.pop(key, None)
        elif kind == "orders":
            engine.orders_by_user[key] = [datetime.fromisoformat(at) for at in value]
        elif kind == "device":
            engine.accounts_by_device.setdefault(key, set()).update(value)
        elif kind == "parked":
            engine.parked_payments[key] = [
                OrderFact(**{**f, "at": datetime.fromisoformat(f["at"])}) for f in value
            ]
        elif kind == "flag":
            user, reason = key.split("\x1f", 1)
            engine.flagged_reasons.add((user, reason))
        elif kind == "order_person":
            engine.person_by_order[key] = value
    engine.index_parked()
    for share in shares:
        node = _share_from_dict(share)
        engine.shares[node.share_id] = node
    for person in sorted(persons, key=lambda p: str(p["person_id"])):  # a deterministic heap order
        engine.restore_person(PersonState.from_dict(person))
    for row in pending:
        item = _parse_input(row["topic"], row["raw"].encode())
        if item is not None:
            engine.offer(item, partition=None)
    engine.dirty.clear()
    engine.new_shares.clear()
    engine.changed_index.clear()
    engine.erased = Erased()


class Record(Protocol):
    """What `offer_records` reads of a Kafka record (aiokafka's `ConsumerRecord` is one)."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


# An input as offered: (input id, topic, raw value).
Offered = tuple[str, str, bytes]


def offer_records(
    engine: Engine, records: list[Any], next_offsets: dict[str, int], *, seen_at: float
) -> tuple[list[Output], list[Offered], list[Activity]]:
    """Offer a fetched batch to the engine from where the checkpoint stops: (dead letters and other outputs,
    the inputs offered, the activities for the live tally). `next_offsets` advances."""
    results: list[Output] = []
    offered: list[Offered] = []
    activities: list[Activity] = []
    events_topic, orders_topic, offer = Topics.EVENTS.name, Topics.ORDERS.name, engine.offer
    erasures_topic = Topics.PRIVACY_ERASURES.name
    for message in records:
        source = f"{message.topic}:{message.partition}"
        if message.offset < next_offsets.get(source, 0):
            continue  # offered before a restart: its effect is in the restored state
        next_offsets[source] = message.offset + 1
        value = message.value or b""
        if message.topic == erasures_topic:
            # At once, between the inputs around it: what was offered before is still buffered, and goes.
            results += apply_erasure(engine, value)
            continue
        is_event = message.topic == events_topic
        parse = order_fact_from_json if message.topic == orders_topic else activity_from_json
        # An events record carries one or more events as JSON lines (most carry one: no split needed); an
        # order-core record, one event.
        if not is_event:
            raws = [value]
        elif EVENT_SEPARATOR in value or not value or value.isspace():
            raws = event_values(value)
        else:
            raws = [value]
        for raw in raws:
            try:
                item = parse(raw)
            except BadInput as error:
                results.append(
                    Output(
                        "dead_letters",
                        message.topic,
                        {
                            "reason_code": "bad_input",
                            "reason": str(error),
                            "payload": raw.decode(errors="replace"),
                        },
                    )
                )
                continue
            if item is None:
                continue
            late = offer(item, partition=source if is_event else None, seen_at=seen_at)
            if late:
                results += late
            if type(item) is Activity:
                activities.append(item)
                offered.append((item.message_id, message.topic, raw))
            else:
                offered.append((item.event_id, message.topic, raw))  # type: ignore[union-attr]
    return results, offered, activities


@dataclass
class CheckpointTables:
    """The tables a checkpoint lives in (Faust tables in the worker; any mutable mapping in a test)."""

    persons: MutableMapping[str, Any]
    entries: MutableMapping[str, Any]
    shares: MutableMapping[str, Any]
    index: MutableMapping[str, Any]
    pending: MutableMapping[str, Any]
    shop: MutableMapping[str, Any]


class Checkpoint:
    """Writes the engine's changes batch by batch (`write`, then after a flush `commit`) and restores it."""

    def __init__(self, tables: CheckpointTables) -> None:
        self.tables = tables
        self.persons = PersonPages()
        self.entries = PersonPages(id_field="entry_id")
        # "topic:partition" → the next offset to offer: what is below was offered before, and its effect is
        # in the committed state.
        self.next_offsets: dict[str, int] = {}
        # Pending inputs are checkpointed one chunk (table row) per batch; chunk key → the input ids in it.
        self.chunks: dict[str, set[str]] = {}
        self.chunk_of: dict[str, str] = {}
        self.epoch = 1  # the epoch of the batch being written
        # Rows the written batch superseded, as (table name, key): deleted by the next batch, once this one is
        # committed. The shop row lists them too, so a restore after that commit ignores them (an erased
        # person's old page must not come back).
        self.superseded: list[tuple[str, str]] = []

    def restore(self, engine: Engine) -> None:
        """Rebuild `engine` from what the last committed shop row covers; delete the rest."""
        t = self.tables
        shop_row = t.shop.get("shop")
        committed: int | None = (shop_row or {}).get("epoch")  # None: rows from before epochs all count
        live_chunks = (shop_row or {}).get("pending_chunks")
        highest = committed or 0
        garbage: list[tuple[MutableMapping[str, Any], str]] = []
        # Rows the committed batch superseded (not deleted yet: the next batch would have): never restored.
        superseded = {(id(getattr(t, name)), key) for name, key in (shop_row or {}).get("superseded", ())}

        def keep(table: MutableMapping[str, Any], key: str, epoch: int) -> bool:
            nonlocal highest
            highest = max(highest, epoch)
            if (id(table), key) in superseded:
                garbage.append((table, key))
                return False
            if committed is None or epoch <= committed:
                return True
            garbage.append((table, key))
            return False

        person_rows = [(k, v) for k, v in t.persons.items() if v and keep(t.persons, k, page_number(k))]
        entry_rows = [(k, v) for k, v in t.entries.items() if v and keep(t.entries, k, page_number(k))]
        share_rows = [v for k, v in t.shares.items() if v and keep(t.shares, k, _epoch_of(v))]
        index_rows = [v for k, v in t.index.items() if v and keep(t.index, k, _epoch_of(v))]
        pending_rows = []
        for key, value in t.pending.items():
            if not value:
                continue
            if live_chunks is not None and key not in live_chunks:
                garbage.append(
                    (t.pending, key)
                )  # emptied by a committed batch, or written by an uncommitted one
                continue
            pending_rows.append((key, value))
        persons, stale_persons = self.persons.restore(person_rows)
        entries, stale_entries = self.entries.restore(entry_rows)
        restore_engine(
            engine,
            shop=shop_row,
            persons=persons,
            shares=[share for value in share_rows for share in _shares_of(value)],
            index=index_rows + entries,  # entries last: their newest copy overrides rows from before pages
            pending=[row for _, value in pending_rows for row in value["inputs"]],
        )
        garbage += [(t.persons, key) for key in stale_persons] + [(t.entries, key) for key in stale_entries]
        for table, key in garbage:
            table.pop(key, None)
        self.next_offsets.update((shop_row or {}).get("next_offsets", {}))
        for key, value in pending_rows:
            self.chunks[key] = {str(row["id"]) for row in value["inputs"]}
            self.chunk_of.update((str(row["id"]), key) for row in value["inputs"])
        # Above every epoch seen, committed or not: a new row never takes the key of a deleted one.
        self.epoch = highest + 1

    def still_pending(self, engine: Engine, offered: list[Offered]) -> list[dict[str, Any]]:
        """The offered inputs still waiting for the watermark and in no pending row yet: what the batch's
        pending row must keep for a restart (built only for these, not for every input)."""
        chunk_of = self.chunk_of
        return [
            {"id": input_id, "topic": topic, "raw": raw.decode()}
            for input_id, topic, raw in offered
            if engine.is_pending(input_id) and input_id not in chunk_of
        ]

    def write(
        self,
        engine: Engine,
        *,
        new_chunk: list[dict[str, Any]] | None = None,
        applied_ids: set[str] | None = None,
    ) -> None:
        """Write what the batch changed, as rows of this epoch; proportional to the batch, never to the state."""
        t, epoch = self.tables, self.epoch
        for name, key in self.superseded:  # the previous batch is committed: what it superseded can go
            getattr(t, name).pop(key, None)
        self.superseded = []
        erased, engine.erased = engine.erased, Erased()
        if erased:
            self._rewrite_rows_naming(engine, erased)
        rows, deleted = self.persons.write(engine.dirty, engine.persons, number=epoch, removed=erased.persons)
        for key, raw in rows:
            t.persons[key] = raw
        self.superseded += [("persons", key) for key in deleted]
        engine.dirty.clear()
        # New shares never change: a batch writes them as pages of many shares.
        new_shares = [_share_to_dict(engine.shares[share_id]) for share_id in sorted(engine.new_shares)]
        for page in _pages(new_shares, max_bytes=CHUNK_MAX_BYTES):
            key = stable_id("shares", page[0]["share_id"], page[-1]["share_id"], str(len(page)), str(epoch))
            t.shares[key] = {"epoch": epoch, "shares": page}
        engine.new_shares.clear()
        facts: list[dict[str, Any]] = []
        changed_entries: set[str] = set()
        for kind, key in engine.changed_index:
            if kind in GROWING_INDEX:
                row = index_row(engine, kind, key)
                if row is not None:
                    facts.append(row)
            else:
                changed_entries.add(f"{kind}\x1f{key}")
        for row_key, row in fact_pages(facts, max_bytes=CHUNK_MAX_BYTES):
            t.index[f"{row_key}\x1f{epoch}"] = {**row, "epoch": epoch}  # never the key of a committed row
        engine.changed_index.clear()
        rows, deleted = self.entries.write(
            changed_entries,
            encode=lambda entry_id: entry_row(engine, entry_id),
            number=epoch,
            removed=erased.entries,
        )
        for key, raw in rows:
            t.entries[key] = raw
        self.superseded += [("entries", key) for key in deleted]
        for chunk in _split(new_chunk or [], max_bytes=CHUNK_MAX_BYTES):
            chunk_key = stable_id("pending", chunk[0]["id"], chunk[-1]["id"], str(len(chunk)), str(epoch))
            t.pending[chunk_key] = {"inputs": chunk, "epoch": epoch}
            self.chunks[chunk_key] = {row["id"] for row in chunk}
            self.chunk_of.update((row["id"], chunk_key) for row in chunk)
        # Only the chunks holding inputs applied by this batch can have emptied.
        for chunk_key in {self.chunk_of[i] for i in applied_ids or () if i in self.chunk_of}:
            ids = self.chunks[chunk_key]
            if not any(map(engine.is_pending, ids)):
                del self.chunks[chunk_key]
                for input_id in ids:
                    self.chunk_of.pop(input_id, None)
                self.superseded.append(("pending", chunk_key))

    def commit(self, engine: Engine) -> None:
        """The shop row that makes the written batch the state to restore: call once its rows are flushed."""
        self.tables.shop["shop"] = {
            **shop_state(engine),
            "next_offsets": dict(self.next_offsets),
            "pending_chunks": sorted(self.chunks),
            "epoch": self.epoch,
            "superseded": [list(row) for row in self.superseded],
        }
        self.epoch += 1

    def _rewrite_rows_naming(self, engine: Engine, erased: Erased) -> None:
        """Rows that name what an erasure removed are written anew from the engine's state, as rows of this
        epoch, and superseded: share pages (with her shares anonymised), fact pages and index rows (without her
        accounts, orders and flags), pending chunks (without her inputs). Person and entry pages are rewritten
        by `PersonPages.write`. This scans the shares, index and pending tables: an erasure is rare."""
        t, epoch = self.tables, self.epoch
        for key, row in list(t.shares.items()):
            shares = _shares_of(row) if row else []
            if not any(share["share_id"] in erased.shares for share in shares):
                continue
            page = [_share_to_dict(engine.shares[share["share_id"]]) for share in shares]
            t.shares[stable_id("shares", "erasure", key, str(epoch))] = {"epoch": epoch, "shares": page}
            self.superseded.append(("shares", key))
        for key, row in list(t.index.items()):
            facts = (row["value"] if row["kind"] == "facts" else [row]) if row else []
            named = [
                (fact["kind"], fact["key"])
                for fact in facts
                if (fact["kind"], fact["key"]) in erased.facts
                or f"{fact['kind']}\x1f{fact['key']}" in erased.entries
            ]
            if not named:
                continue
            kept = [fact for fact in facts if (fact["kind"], fact["key"]) not in named]
            current = [
                index_row(engine, kind, fact_key)
                for kind, fact_key in named
                if (kind, fact_key) in erased.facts
            ]
            kept += [fact for fact in current if fact is not None]
            for row_key, fact_page in fact_pages(kept, max_bytes=CHUNK_MAX_BYTES):
                t.index[f"{row_key}\x1f{epoch}"] = {**fact_page, "epoch": epoch}
            self.superseded.append(("index", key))
        for chunk_key, ids in list(self.chunks.items()):
            if not ids & erased.inputs:
                continue
            inputs = (t.pending.get(chunk_key) or {}).get("inputs", [])
            remaining = [row for row in inputs if engine.is_pending(row["id"])]
            del self.chunks[chunk_key]
            for input_id in ids:
                self.chunk_of.pop(input_id, None)
            self.superseded.append(("pending", chunk_key))
            for chunk in _split(remaining, max_bytes=CHUNK_MAX_BYTES):
                new_key = stable_id("pending", "erasure", chunk_key, str(epoch))
                t.pending[new_key] = {"inputs": chunk, "epoch": epoch}
                self.chunks[new_key] = {row["id"] for row in chunk}
                self.chunk_of.update((row["id"], new_key) for row in chunk)


def _epoch_of(row: Any) -> int:
    """A row's epoch (rows written before epochs count as 0: committed)."""
    return int(row.get("epoch", 0)) if isinstance(row, dict) else 0
