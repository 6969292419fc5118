"""The identity graph: which person an anonymousId or userId belongs to, so Kafka keys events by person.

A mapping, once made, never moves. That keeps every collector worker's cache correct without
invalidation, and keeps a person's stream state on one partition:
- the first time an id is seen it becomes a person of its own (a device before login);
- `identify`/`alias` put the unmapped side into the person of the mapped side, so a shopper's events
  before and after login, and the order core's server-side events by userId, share one key;
- when both sides already belong to different people (the same shopper on a second phone), nothing
  moves: the link is recorded as a merge, and the warehouse unites the two.

The one exception is erasure (`shoploop privacy forget`): it deletes a person's mappings and appends the
person to `identity_forgets` in the same transaction. Every collector worker reads that log every second
(`drop_forgotten`) and drops the person's mappings from its cache, so no running collector keeps them (or keys
new events by them) after the erasure. Entries older than a day are pruned: a worker that missed some (a
gap in the sequence) clears its whole cache, which only costs a few database reads.

The log is also the erasure's tombstone in the database. A request in flight during an erasure may have read
the person's mappings (from the database or the cache) just before it, and would then store new ones for the
erased person (a login seen on the erased shopper's device). So a lookup notes the last erasure its knowledge
accounts for, and the insert of new mappings and merges skips, in the same statement, every person erased
after that (`_store`). On PostgreSQL the insert holds a SHARE lock on the log until it commits and an erasure
writes its tombstone before it deletes, so the two transactions cannot interleave; SQLite runs writers one at
a time.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    func,
    select,
    text,
)
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql.elements import TextClause

from ingestion.contract.event import TrackedEvent

metadata = MetaData()

identities = Table(
    "identities",
    metadata,
    Column("identity", String(200), primary_key=True),
    Column("person_id", String(200), nullable=False),
    Column("linked_at", DateTime(timezone=True), nullable=False),
)

identity_merges = Table(
    "identity_merges",
    metadata,
    Column("person_id", String(200), primary_key=True),
    Column("merged_into", String(200), primary_key=True),
    Column("merged_at", DateTime(timezone=True), nullable=False),
)

# The erasures running collectors must apply to their caches, in order (see the module docstring).
identity_forgets = Table(
    "identity_forgets",
    metadata,
    Column("sequence", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(200), nullable=False),
    Column("forgotten_at", DateTime(timezone=True), nullable=False),
)
# The tombstone check of every insert of new mappings looks erasures up by person.
Index("ix_identity_forgets_person_id", identity_forgets.c.person_id, identity_forgets.c.sequence)

# How long an erasure stays in the log: far longer than any running worker takes to read it.
FORGET_LOG_RETENTION = timedelta(days=1)
# Erasures a worker remembers having applied, for requests whose lookup was in flight meanwhile.
_APPLIED_ERASURES_KEPT = 1024


def anonymous(anonymous_id: str) -> str:
    return f"a:{anonymous_id}"


def user(user_id: str) -> str:
    return f"u:{user_id}"


@dataclass(frozen=True, slots=True)
class Sighting:
    """The ids one message carries; `links` is true for identify and alias, which join them."""

    identities: tuple[str, ...]
    links: bool


_LINKING_TYPES = frozenset(("identify", "alias"))


def sighting_of(event: TrackedEvent) -> Sighting:
    """The ids a message carries, namespaced; an alias's previousId may be either kind of id."""
    ids: list[str] = []
    previous = event.properties.get("previous_id") if event.type == "alias" else None
    if isinstance(previous, str) and previous:
        ids += [user(previous), anonymous(previous)]
    if event.anonymous_id:
        ids.append(anonymous(event.anonymous_id))
    if event.user_id:
        ids.append(user(event.user_id))
    return Sighting(identities=tuple(ids), links=event.type in ("identify", "alias") and len(ids) > 1)


def person_of_new_identity(identity: str) -> str:
    """A new id's own person id: the id without its namespace (an anonymousId stays recognisable)."""
    return identity.split(":", 1)[1]


def person_for(sighting: Sighting, known: dict[str, str]) -> str:
    """The person a message belongs to, given the mappings known so far."""
    if sighting.links:
        # identify/alias: the userId's person wins (it is the one server-side events use).
        for identity in sighting.identities:
            if identity.startswith("u:") and identity in known:
                return known[identity]
    for identity in sighting.identities:
        if identity in known:
            return known[identity]
    return person_of_new_identity(sighting.identities[0])


def plan_mapping(
    sighting: Sighting, known: dict[str, str]
) -> tuple[str, dict[str, str], tuple[str, str] | None]:
    """Decide, purely, the person of a message and the new mappings and merge it implies.

    Returns (person_id, new mappings identity → person, merge (person, merged_into) or None).
    """
    person = person_for(sighting, known)
    new = {identity: person for identity in sighting.identities if identity not in known}
    if not sighting.links:
        return person, new, None
    others = {known[identity] for identity in sighting.identities if identity in known} - {person}
    merge = (sorted(others)[0], person) if others else None
    return person, new, merge


@dataclass(frozen=True, slots=True)
class Forgotten:
    """Erasures read from the log: the people, the last sequence number read, and whether some were missed."""

    people: frozenset[str]
    last_sequence: int
    is_gap: bool


class IdentityGraph:
    """The graph in a SQL database (SQLite embedded, PostgreSQL in production) behind an in-memory cache."""

    def __init__(self, engine: Engine, *, cache_size: int = 200_000) -> None:
        self._engine = engine
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._cache_size = cache_size
        # Counts the erasures applied to the cache. A lookup (in a thread) caches what it read only if no erasure
        # was applied meanwhile: a mapping read just before an erasure would otherwise be cached after the
        # erasure dropped it, and kept. The lock makes the check and the caching one step.
        self._forget_generation = 0
        self._cache_lock = threading.Lock()
        # The erasures applied to the cache, by generation: the people dropped, or None when the whole cache was
        # cleared after a gap in the log (who was erased is then unknown). Read by `people_erased_since`.
        self._applied_erasures: collections.deque[tuple[int, frozenset[str] | None]] = collections.deque(
            maxlen=_APPLIED_ERASURES_KEPT
        )
        _create_tables(engine)
        # The cache starts empty, so erasures logged before now need no applying.
        self._last_forget_seen = self._latest_forget()

    @classmethod
    def from_url(cls, database_url: str) -> IdentityGraph:
        engine = create_engine(database_url, pool_pre_ping=True)
        if database_url.startswith("sqlite:///"):
            Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            sqlalchemy_event.listen(engine, "connect", _write_ahead_log)
        return cls(engine)

    def _known(self, wanted: Iterable[str]) -> dict[str, str]:
        known: dict[str, str] = {}
        missing = []
        with self._cache_lock:
            generation = self._forget_generation
            for identity in set(wanted):
                if identity in self._cache:
                    known[identity] = self._cache[identity]
                    self._cache.move_to_end(identity)
                else:
                    missing.append(identity)
        if missing:
            with self._engine.connect() as connection:
                rows = connection.execute(
                    select(identities.c.identity, identities.c.person_id).where(
                        identities.c.identity.in_(missing)
                    )
                ).all()
            read = {str(row.identity): str(row.person_id) for row in rows}
            known.update(read)
            with self._cache_lock:
                if generation == self._forget_generation:
                    for identity, person in read.items():
                        self._remember(identity, person)
        return known

    def _remember(self, identity: str, person: str) -> None:
        self._cache[identity] = person
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def assign_people(self, events: list[TrackedEvent]) -> list[TrackedEvent]:
        """The events with their resolved person ids (the Kafka key); reads and writes the database."""
        if not events:
            return events
        return _with_people(events, self.resolve([sighting_of(event) for event in events]))

    def assign_people_from_cache(self, events: list[TrackedEvent]) -> list[TrackedEvent] | None:
        """The events with their person ids when the cached mappings alone decide them, else None.

        Cached mappings are ones the database holds, and a mapping never moves, so they cannot be stale; an
        id that is not cached may have been mapped since by another collector, so then (and whenever
        something new must be stored: a new id, a merge) the caller goes to `assign_people`, which asks
        the database. Cheap enough to run on the event loop: no I/O, no thread.
        """
        if not events:
            return events
        cache = self._cache
        people: list[str] = []
        for event in events:
            if event.type in _LINKING_TYPES:
                sighting = sighting_of(event)
                known: dict[str, str] = {}
                for identity in sighting.identities:
                    mapped = cache.get(identity)
                    if mapped is None:
                        return None
                    known[identity] = mapped
                person, _, merge = plan_mapping(sighting, known)
                if merge is not None:
                    return None
            else:
                # Not a link: the first id the message carries decides (see person_for), once all are known.
                first: str | None = None
                # anonymous() and user(), written out: two calls fewer per event
                for carried in (
                    event.anonymous_id and "a:" + event.anonymous_id,
                    event.user_id and "u:" + event.user_id,
                ):
                    if carried:
                        mapped = cache.get(carried)
                        if mapped is None:
                            return None
                        cache.move_to_end(carried)
                        first = first or mapped
                if first is None:
                    return None
                person = first
            people.append(person)
        return _with_people(events, people)

    def resolve(self, sightings: list[Sighting]) -> list[str]:
        """The person of each message, in order, recording the mappings and merges they imply."""
        # Read before the cache and the database: what the lookup below knows accounts for every erasure up to
        # this one (the cache drops a person before the sequence moves on), and perhaps for later ones.
        erasures_accounted_for = self._last_forget_seen
        known = self._known(identity for sighting in sightings for identity in sighting.identities)
        people: list[str] = []
        new: dict[str, str] = {}
        merges: set[tuple[str, str]] = set()
        for sighting in sightings:
            person, mappings, merge = plan_mapping(sighting, known)
            known.update(mappings)
            new.update(mappings)
            if merge:
                merges.add(merge)
            people.append(person)
        if new or merges:
            self._store(new, merges, erasures_accounted_for=erasures_accounted_for)
            # Another worker may have mapped an id first: the stored mapping wins, so it is read back.
            with self._cache_lock:
                for identity in new:
                    self._cache.pop(identity, None)
            known.update(self._known(new))
            people = [person_for(sighting, known) for sighting in sightings]
        return people

    def _store(
        self, new: dict[str, str], merges: set[tuple[str, str]], *, erasures_accounted_for: int
    ) -> None:
        """Insert the new mappings and merges, except those of a person erased after `erasures_accounted_for`
        (the lookup that decided them may have read the person's mappings before the erasure)."""
        now = datetime.now(UTC)
        with self._engine.begin() as connection:
            dialect = connection.dialect.name
            if dialect == "postgresql":
                # Held to the commit: an erasure's tombstone (ROW EXCLUSIVE) waits for this insert, or this
                # insert waits for the erasure and then sees its tombstone.
                connection.execute(text("LOCK TABLE identity_forgets IN SHARE MODE"))
            for chunk in _chunks(list(new.items())):
                connection.execute(
                    _insert_unless_erased(identities, ("identity", "person_id"), ("person_id",), len(chunk)),
                    _row_parameters(chunk, linked_at=now, erased_after=erasures_accounted_for),
                )
            for chunk in _chunks(sorted(merges)):
                connection.execute(
                    _insert_unless_erased(
                        identity_merges,
                        ("person_id", "merged_into"),
                        ("person_id", "merged_into"),
                        len(chunk),
                    ),
                    _row_parameters(chunk, merged_at=now, erased_after=erasures_accounted_for),
                )

    def merges(self) -> list[tuple[str, str]]:
        with self._engine.connect() as connection:
            rows = connection.execute(select(identity_merges.c.person_id, identity_merges.c.merged_into))
            return [(str(a), str(b)) for a, b in rows]

    def person_of(self, shopper_id: str) -> str | None:
        """The person a userId or anonymousId belongs to, without recording anything."""
        known = self._known([user(shopper_id), anonymous(shopper_id)])
        return known.get(user(shopper_id)) or known.get(anonymous(shopper_id))

    def identities_of(self, person_id: str) -> list[str]:
        """Every namespaced id mapped to the person."""
        with self._engine.connect() as connection:
            mapped = connection.execute(
                select(identities.c.identity).where(identities.c.person_id == person_id)
            )
            return [str(row.identity) for row in mapped]

    def merged_with(self, person_id: str) -> list[str]:
        """The people recorded as the same shopper (a second device), either side of the merge."""
        return [a if b == person_id else b for a, b in self.merges() if person_id in (a, b)]

    def forget(self, person_id: str) -> int:
        """Remove a person's identities and merges (privacy erasure); returns how many ids were removed.

        The erasure is logged in the same transaction, so every running collector drops the person's cached
        mappings at its next `drop_forgotten`.
        """
        now = datetime.now(UTC)
        with self._engine.begin() as connection:
            # The tombstone first: on PostgreSQL it waits for the inserts in flight (see `_store`), so the deletes
            # below see what they stored, and later inserts see the tombstone.
            connection.execute(identity_forgets.insert().values(person_id=person_id, forgotten_at=now))
            removed = connection.execute(
                identities.delete().where(identities.c.person_id == person_id)
            ).rowcount
            connection.execute(
                identity_merges.delete().where(
                    (identity_merges.c.person_id == person_id) | (identity_merges.c.merged_into == person_id)
                )
            )
            connection.execute(
                identity_forgets.delete().where(identity_forgets.c.forgotten_at < now - FORGET_LOG_RETENTION)
            )
        self._drop_people({person_id})
        return int(removed or 0)

    def drop_forgotten(self) -> int:
        """Apply the erasures logged since the last call to this worker's cache; returns how many people."""
        return self.apply_forgotten(self.read_forgotten())

    def read_forgotten(self) -> Forgotten:
        """The erasures logged since the last one applied (one indexed read; run it in a thread)."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(identity_forgets.c.sequence, identity_forgets.c.person_id)
                .where(identity_forgets.c.sequence > self._last_forget_seen)
                .order_by(identity_forgets.c.sequence)
            ).all()
        if not rows:
            return Forgotten(people=frozenset(), last_sequence=self._last_forget_seen, is_gap=False)
        first = int(rows[0].sequence)
        return Forgotten(
            people=frozenset(str(row.person_id) for row in rows),
            last_sequence=int(rows[-1].sequence),
            # Entries pruned before this worker read them (or a skipped sequence number): it cannot tell
            # whose mappings it still holds.
            is_gap=self._last_forget_seen > 0 and first != self._last_forget_seen + 1,
        )

    def apply_forgotten(self, forgotten: Forgotten) -> int:
        """Drop the forgotten people's mappings from the cache (on the thread that serves requests from it)."""
        if forgotten.is_gap:
            with self._cache_lock:
                self._forget_generation += 1
                self._applied_erasures.append((self._forget_generation, None))
                self._cache = OrderedDict()
        elif forgotten.people:
            self._drop_people(set(forgotten.people))
        self._last_forget_seen = max(self._last_forget_seen, forgotten.last_sequence)
        return len(forgotten.people)

    def _latest_forget(self) -> int:
        with self._engine.connect() as connection:
            latest = connection.execute(select(func.max(identity_forgets.c.sequence))).scalar()
        return int(latest or 0)

    def erasure_mark(self) -> int:
        """A mark of the erasures applied to this worker's cache so far, for `people_erased_since`."""
        return self._forget_generation

    def people_erased_since(self, mark: int) -> frozenset[str] | None:
        """The people whose erasures were applied to this worker's cache after `mark` (empty if none); None when
        that cannot be told: the cache was cleared after a gap in the erasure log, or `mark` is older than the
        erasures kept."""
        with self._cache_lock:
            if self._forget_generation == mark:
                return frozenset()
            applied = [
                (generation, people) for generation, people in self._applied_erasures if generation > mark
            ]
        if len(applied) != self._forget_generation - mark or any(people is None for _, people in applied):
            return None
        return frozenset().union(*(people for _, people in applied if people is not None))

    def _drop_people(self, people: set[str]) -> None:
        with self._cache_lock:
            self._forget_generation += 1
            self._applied_erasures.append((self._forget_generation, frozenset(people)))
            # Rebuilt rather than deleted from in place: requests on the event loop read the cache meanwhile.
            self._cache = OrderedDict((k, v) for k, v in self._cache.items() if v not in people)


def _create_tables(engine: Engine) -> None:
    """Create the graph's tables if they are missing. Collector workers start together on a new database:
    CREATE TABLE IF NOT EXISTS, and one retry for the database that still raced (PostgreSQL's catalogue)."""
    for attempt in (1, 2):
        try:
            with engine.begin() as connection:
                for table in metadata.sorted_tables:
                    connection.execute(CreateTable(table, if_not_exists=True))
                    for index in table.indexes:
                        connection.execute(CreateIndex(index, if_not_exists=True))
            return
        except DBAPIError:
            if attempt == 2:
                raise


def _write_ahead_log(connection: Any, _: ConnectionPoolEntry) -> None:
    """SQLite in WAL mode: collector workers read mappings while one of them writes, and a commit syncs the
    log once instead of the rollback journal's several times."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _with_people(events: list[TrackedEvent], people: list[str]) -> list[TrackedEvent]:
    return [
        event if event.person_id == person else dataclasses.replace(event, person_id=person)
        for event, person in zip(events, people, strict=True)
    ]


# Rows per INSERT: far under SQLite's limit of bound parameters, and one statement for a usual request.
_ROWS_PER_INSERT = 500


def _chunks(rows: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    return [rows[start : start + _ROWS_PER_INSERT] for start in range(0, len(rows), _ROWS_PER_INSERT)]


def _row_parameters(rows: list[tuple[str, str]], **shared: Any) -> dict[str, Any]:
    parameters = dict(shared)
    for index, (first, second) in enumerate(rows):
        parameters[f"a{index}"] = first
        parameters[f"b{index}"] = second
    return parameters


def _insert_unless_erased(
    table: Table, columns: tuple[str, str], people: tuple[str, ...], row_count: int
) -> TextClause:
    """One INSERT of `row_count` (a, b) rows into `columns` of `table`, ignoring duplicates, that skips every row
    naming in `people` a person with an erasure logged after `:erased_after`: the tombstone is checked in the same
    statement. Written as SQL that SQLite and PostgreSQL both read (a VALUES list names its columns column1,
    column2 in both); the values are bound parameters."""
    time_column = next(column.name for column in table.columns if column.name not in columns)
    where = " and ".join(
        "not exists (select 1 from identity_forgets f where f.person_id = v.column"
        f"{columns.index(person) + 1} and f.sequence > :erased_after)"
        for person in people
    )
    values = ", ".join(f"(:a{index}, :b{index})" for index in range(row_count))
    statement = text(
        f"insert into {table.name} ({columns[0]}, {columns[1]}, {time_column}) "
        f"select v.column1, v.column2, :{time_column} from (values {values}) as v "
        f"where {where} on conflict do nothing"
    )
    return statement.bindparams(
        bindparam(time_column, type_=DateTime(timezone=True)), bindparam("erased_after", type_=Integer())
    )
