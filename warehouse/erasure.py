"""Erasure in the lake: rewrite every file that holds a person's rows without them (PIPL right to erasure), and
the tombstone that keeps their rows out of the lake afterwards.

Each rewritten file replaces the old one atomically under the same name, so readers see either the old
or the new file, never half of one; files without the person's rows are not touched.

Before the rewrite, the erasure writes a tombstone into the lake (`write_tombstone`): the person ids, every
anonymousId / userId of the person and the time. Whatever writes lake files afterwards — the events sink taking
events that were already on Kafka, or that a collector keyed by the old person just after the erasure, the pushes
sink taking the streams' decisions about the person (judged by the decision's time), the order-book sink (every
order event of the person, whatever its time), and compaction merging
files that were read before the rewrite — drops those rows (`LakeErasures`, `erased_rows`). A tombstone is
pruned once no message of the person can reach a lake writer any more (`is_tombstone_prunable`): only on a cluster
that enforces the topics' retention, which bounds how late a message can still arrive (docs/warehouse.md,
"Erasure").
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import zip_longest
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import structlog

from shoploop.kafka import KafkaSettings, TopicRetention
from shoploop.tombstone import Tombstone
from warehouse.lake import request_full_refresh

log = structlog.get_logger(__name__)

PERSON_COLUMNS = ("person_id", "anonymous_id", "user_id")
_UTC_MICROS = pa.timestamp("us", tz="UTC")


def _rows_of(table: pa.Table, ids: pa.Array) -> pa.ChunkedArray | pa.Array:
    mask: pa.ChunkedArray | pa.Array | None = None
    for column in PERSON_COLUMNS:
        if column in table.column_names:
            hit = pc.fill_null(pc.is_in(table[column], value_set=ids), False)
            mask = hit if mask is None else pc.or_(mask, hit)
    return mask if mask is not None else pa.array([False] * table.num_rows)


def erase_people(table_dir: Path, ids: Iterable[str]) -> int:
    """Remove every row whose person_id, anonymous_id or user_id is one of `ids`, and take them out of the rows that
    name them beside others (`order_payload_without_erased_others`: group buys, friends' bargain cuts); returns
    rows removed."""
    erased = frozenset(ids)
    value_set = pa.array(sorted(erased), type=pa.string())
    if len(value_set) == 0 or not table_dir.is_dir():
        return 0
    removed = 0
    rewritten = 0
    for path in sorted(table_dir.glob("*=*/*.parquet")):
        try:
            table = pq.read_table(path)
        except FileNotFoundError:
            continue  # a small file compaction deleted meanwhile (its rows are in the merged file, read too)
        drop = _rows_of(table, value_set)
        count = int(pc.sum(drop).as_py() or 0)
        kept = table.filter(pc.invert(drop)) if count else table
        kept, scrubbed = _without_erased_others(kept, erased)
        if not count and not scrubbed:
            continue
        temporary = path.with_name(f".{path.name}.erasing")
        pq.write_table(kept, temporary, compression="zstd")
        os.replace(temporary, path)
        removed += count
        rewritten += scrubbed
    if rewritten:
        log.info("order_rows_rewritten_without_erased_shoppers", table=table_dir.name, rows=rewritten)
    if removed or rewritten:
        # The warehouse's incremental staging still holds the erased rows: the next build starts from scratch.
        request_full_refresh(table_dir.parent)
    return removed


def group_buy_without_erased_members(payload: str, erased_ids: Collection[str]) -> str | None:
    """A `GroupBuyCompleted` payload (JSON) without its erased members, or None when it names none. Each erased
    member's user id goes together with her order id (the order core lists `order_ids` in the order of
    `member_user_ids`), and `erased_members` counts them, so the group keeps its size."""
    body = orjson.loads(payload)
    members = body.get("member_user_ids") or []
    if not any(member in erased_ids for member in members):
        return None
    orders = body.get("order_ids") or []
    kept = [(member, order) for member, order in zip_longest(members, orders) if member not in erased_ids]
    body["member_user_ids"] = [member for member, _ in kept if member is not None]
    body["order_ids"] = [order for _, order in kept if order is not None]
    erased_now = sum(1 for member in members if member in erased_ids)
    body["erased_members"] = int(body.get("erased_members") or 0) + erased_now
    return orjson.dumps(body).decode()


def bargain_cut_without_erased_helper(payload: str, erased_ids: Collection[str]) -> str | None:
    """A `BargainCut` payload whose helper (the friend who cut) is erased, with `helper_user_id` replaced by
    ``erased:<cut_no>``, or None when the helper is not erased. The cut stays the starter's; a friend cuts a
    bargain once (the order core's unique key), so `fct_bargains` still counts its helpers right."""
    body = orjson.loads(payload)
    if body.get("helper_user_id") not in erased_ids:
        return None
    body["helper_user_id"] = f"erased:{body.get('cut_no')}"
    return orjson.dumps(body).decode()


# The order core's events that name shoppers besides their own `user_id` (api/domain/events.py), and how an
# erased one is taken out of them; the row stays, for the others. (A row whose own user is erased goes whole.)
PAYLOADS_NAMING_OTHERS: dict[str, Callable[[str, Collection[str]], str | None]] = {
    "GroupBuyCompleted": group_buy_without_erased_members,
    "BargainCut": bargain_cut_without_erased_helper,
}


def order_payload_without_erased_others(event: str, payload: str, erased_ids: Collection[str]) -> str | None:
    """The order-book row's payload without the erased shoppers it names besides its own user, or None when it
    needs no change."""
    rewrite = PAYLOADS_NAMING_OTHERS.get(event)
    return None if rewrite is None else rewrite(payload, erased_ids)


def _without_erased_others(table: pa.Table, erased_ids: frozenset[str]) -> tuple[pa.Table, int]:
    """`table` (an order-book file) with `order_payload_without_erased_others` applied to each row, and how many
    rows changed."""
    if "event" not in table.column_names or "payload" not in table.column_names:
        return table, 0
    names_others = pc.is_in(table["event"], value_set=pa.array(sorted(PAYLOADS_NAMING_OTHERS), pa.string()))
    if not pc.any(pc.fill_null(names_others, False)).as_py():
        return table, 0
    payloads = table["payload"].to_pylist()
    changed = 0
    for row, (event, payload) in enumerate(zip(table["event"].to_pylist(), payloads, strict=True)):
        rewritten = (
            None if payload is None else order_payload_without_erased_others(event, payload, erased_ids)
        )
        if rewritten is not None:
            payloads[row] = rewritten
            changed += 1
    if not changed:
        return table, 0
    index = table.schema.get_field_index("payload")
    return table.set_column(index, table.schema.field(index), pa.array(payloads, pa.string())), changed


# -- tombstones: the erasure recorded in the lake itself ------------------------------------------------------

# Under the lake folder, beside the tables (hidden, so no table glob matches it): one JSON file per erasure.
TOMBSTONES_DIR = ".erasures"
_LOCK_NAME = ".lock"


def tombstones_dir(lake_dir: Path) -> Path:
    return lake_dir / TOMBSTONES_DIR


@contextmanager
def _locked(lake_dir: Path, *, exclusive: bool) -> Iterator[None]:
    directory = tombstones_dir(lake_dir)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / _LOCK_NAME, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def writing_to_lake(lake_dir: Path) -> AbstractContextManager[None]:
    """Held (shared) by a lake writer from reading the tombstones until its file is in place. A tombstone is
    written under the exclusive lock, so a writer either finished its file before the tombstone (and the erasure's
    rewrite, which lists the files after it, finds the file) or reads the tombstone and drops the rows itself."""
    return _locked(lake_dir, exclusive=False)


def write_tombstone(lake_dir: Path, tombstone: Tombstone) -> Path:
    """Record an erasure in the lake: a new file, written whole and renamed into place (append-only; a tombstone
    is never changed, and removed only once it has expired, `prune_tombstones`)."""
    directory = tombstones_dir(lake_dir)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = tombstone.erased_at.strftime("%Y%m%dT%H%M%S%f")
    path = directory / f"erasure-{stamp}-{uuid.uuid4().hex[:12]}.json"
    temporary = directory / f".{path.name}.tmp"
    with open(temporary, "wb") as file:
        file.write(tombstone.to_json())
        file.flush()
        os.fsync(file.fileno())
    with _locked(lake_dir, exclusive=True):
        os.replace(temporary, path)
    _fsync_directory(directory)  # the rename survives a crash before the files are rewritten
    return path


def _fsync_directory(directory: Path) -> None:
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


# -- when a tombstone may go -----------------------------------------------------------------------------------

# Beyond the bound, for clocks of hosts that differ and a writer's batch in hand.
TOMBSTONE_MARGIN = timedelta(days=1)
# A message can pass two topics after the erasure: an event, then what the streams decided from it (a trigger, a
# push) — judged by the decision's time, which can be the event's own.
TOPIC_HOPS = 2


@dataclass(frozen=True, slots=True)
class TombstoneLifetime:
    """How long a message of an erased person can still reach a lake writer after its tombstone's rules end
    (`people_until`).

    `record_life` is the longest a record stays readable on a topic feeding the lake (retention + segment time),
    `dead_letter_replay` how old a dead letter may be and still be replayed onto `shoploop.events` with its
    original receivedAt (the dead-letter topic's retention; `shoploop dlq replay` refuses older letters), and
    `margin` the slack on top.
    """

    record_life: timedelta
    dead_letter_replay: timedelta
    margin: timedelta = TOMBSTONE_MARGIN

    @classmethod
    def of(cls, retention: TopicRetention, *, margin: timedelta = TOMBSTONE_MARGIN) -> TombstoneLifetime:
        return cls(retention.longest_record_life, retention.dead_letter_retention, margin)


def tombstone_lifetime(settings: KafkaSettings) -> TombstoneLifetime | None:
    """The lifetime the cluster's retention gives tombstones, or None (keep them for good) when the cluster does
    not enforce retention (`is_retention_enforced`; the embedded broker keeps every record)."""
    return TombstoneLifetime.of(settings.retention) if settings.is_retention_enforced else None


def tombstone_expires_at(tombstone: Tombstone, lifetime: TombstoneLifetime) -> datetime:
    """After this, no message the tombstone's rules drop can still arrive: the last one (keyed by the person up to
    `people_until`, or a dead letter received before it) is replayed at the latest `dead_letter_replay` later, and
    it and what the streams decide from it each live at most `record_life` on their topic."""
    return (
        tombstone.people_until
        + lifetime.dead_letter_replay
        + TOPIC_HOPS * lifetime.record_life
        + lifetime.margin
    )


def is_tombstone_prunable(tombstone: Tombstone, *, now: datetime, lifetime: TombstoneLifetime) -> bool:
    return now >= tombstone_expires_at(tombstone, lifetime)


def prune_tombstones(lake_dir: Path, *, lifetime: TombstoneLifetime, now: datetime) -> list[str]:
    """Remove the tombstones that have expired at `now`, under the erasure lock (exclusive, as a tombstone is
    written); returns the names removed."""
    directory = tombstones_dir(lake_dir)
    names = sorted(_tombstone_names(directory))
    if not names:
        return []
    pruned: list[str] = []
    with _locked(lake_dir, exclusive=True):
        for name in names:
            try:
                tombstone = Tombstone.from_json((directory / name).read_bytes())
            except FileNotFoundError:
                continue  # pruned by another compaction meanwhile
            if is_tombstone_prunable(tombstone, now=now, lifetime=lifetime):
                (directory / name).unlink(missing_ok=True)
                pruned.append(name)
    if pruned:
        _fsync_directory(directory)
    return pruned


def prune_expired_tombstones(lake_dir: Path, *, kafka: KafkaSettings, now: datetime) -> list[str]:
    """Prune the tombstones expired under the cluster's retention, none when it does not enforce retention; for
    whatever runs periodically over the lake (compaction does)."""
    lifetime = tombstone_lifetime(kafka)
    if lifetime is None:
        return []
    pruned = prune_tombstones(lake_dir, lifetime=lifetime, now=now)
    if pruned:
        log.info("erasure_tombstones_pruned", tombstones=pruned)
    return pruned


def _tombstone_names(directory: Path) -> set[str]:
    try:
        return {
            entry.name
            for entry in os.scandir(directory)
            if entry.name.startswith("erasure-") and entry.name.endswith(".json")
        }
    except FileNotFoundError:
        return set()


def read_tombstones(lake_dir: Path) -> list[Tombstone]:
    """Every erasure recorded in the lake (and not pruned), oldest first."""
    directory = tombstones_dir(lake_dir)
    tombstones = []
    for name in sorted(_tombstone_names(directory)):
        try:
            tombstones.append(Tombstone.from_json((directory / name).read_bytes()))
        except FileNotFoundError:
            continue  # pruned since the listing
    return tombstones


@dataclass(frozen=True, slots=True)
class ErasedKeys:
    """Every tombstone folded into two lookups, id → the latest time up to which its rows are dropped, held as
    Arrow arrays (ids, and their times at the same positions) so that each batch only looks them up."""

    people: pa.Table
    ids: pa.Table
    # Every id a tombstone names, whatever the time: the order book's rule (`drop_erased_order_events`).
    every_id: frozenset[str] = frozenset()

    @classmethod
    def of(cls, tombstones: Iterable[Tombstone]) -> ErasedKeys:
        people: dict[str, datetime] = {}
        ids: dict[str, datetime] = {}
        for tombstone in tombstones:
            for person in tombstone.person_ids:
                people[person] = max(people.get(person, tombstone.people_until), tombstone.people_until)
            for identity in tombstone.ids:
                ids[identity] = max(ids.get(identity, tombstone.erased_at), tombstone.erased_at)
        return cls(_lookup(people), _lookup(ids), frozenset(people) | frozenset(ids))

    def __bool__(self) -> bool:
        return bool(self.people.num_rows or self.ids.num_rows)


def _lookup(until: dict[str, datetime]) -> pa.Table:
    return pa.table(
        {"id": pa.array(list(until), pa.string()), "until": pa.array(list(until.values()), _UTC_MICROS)}
    )


_NO_KEYS = ErasedKeys.of([])


def _erased_by(
    column: pa.ChunkedArray, times: pa.ChunkedArray | pa.Array, lookup: pa.Table
) -> pa.ChunkedArray:
    """Per row: whether its value in `column` is erased up to a time at or after the row's time."""
    positions = pc.index_in(column, value_set=lookup["id"])
    row_limits = pc.take(lookup["until"], positions)  # null where the value is not erased
    return pc.fill_null(pc.less_equal(times, row_limits), False)


def erased_rows(
    table: pa.Table, keys: ErasedKeys, *, times: pa.ChunkedArray | pa.Array | None = None
) -> pa.ChunkedArray | pa.Array | None:
    """The rows of `table` an erasure removes, or None when none could be. Each row is judged by its time in
    `times` (one per row), by default its `received_at` — the collector's receive time in the events table."""
    if not keys or table.num_rows == 0:
        return None
    if times is None:
        if "received_at" not in table.column_names:
            return None
        times = table["received_at"]
    times = times.cast(_UTC_MICROS)
    mask: pa.ChunkedArray | pa.Array | None = None
    checks = [("person_id", keys.people), ("anonymous_id", keys.ids), ("user_id", keys.ids)]
    for column, lookup in checks:
        if lookup.num_rows and column in table.column_names:
            hit = _erased_by(table[column], times, lookup)
            mask = hit if mask is None else pc.or_(mask, hit)
    return mask


class LakeErasures:
    """The lake's tombstones as one writer (a sink) sees them: reloaded only when the folder's listing changes
    (a listing per batch, a parse per new tombstone). Counts the rows it dropped, for the logs."""

    def __init__(self, lake_dir: Path) -> None:
        self.lake_dir = lake_dir
        self._loaded: dict[str, Tombstone] = {}
        self._keys = _NO_KEYS
        self.dropped_last = 0
        self.dropped_total = 0

    def writing(self) -> AbstractContextManager[None]:
        return writing_to_lake(self.lake_dir)

    def keys(self) -> ErasedKeys:
        directory = tombstones_dir(self.lake_dir)
        names = _tombstone_names(directory)
        new = names - self._loaded.keys()
        pruned = self._loaded.keys() - names
        if new or pruned:
            for name in pruned:
                del self._loaded[name]
            for name in sorted(new):
                try:
                    self._loaded[name] = Tombstone.from_json((directory / name).read_bytes())
                except FileNotFoundError:
                    continue  # pruned since the listing
            self._keys = ErasedKeys.of(self._loaded.values())
        return self._keys

    def drop_erased(self, table: pa.Table, *, times: pa.ChunkedArray | pa.Array | None = None) -> pa.Table:
        """`table` without the rows of erased people, each judged by its time in `times` (by default its
        `received_at`; see `erased_rows`). Call it while `writing()` is held."""
        self.dropped_last = 0
        drop = erased_rows(table, self.keys(), times=times)
        if drop is None:
            return table
        count = int(pc.sum(drop).as_py() or 0)
        if not count:
            return table
        self.dropped_last = count
        self.dropped_total += count
        return table.filter(pc.invert(drop))
