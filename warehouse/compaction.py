"""Compaction: many small sink files in a lake partition become few, without disturbing running readers.

The sink writes one file per batch (every couple of seconds), and DuckDB reads a thousand tiny files much
slower than a few big ones. Compaction merges files, de-duplicated by id, and writes the merged file the way the
sink does (hidden, then renamed). `shoploop lake compact --every N` runs it as its own process (docs/warehouse.md,
"Compaction").

Which files are merged (`plan_merges`, pure):
- **Tiers, for a partition still written to.** A sink file is tier 0; a merge of tier-t files is tier t+1 and
  the tier is part of its name (`compact-t1-…`). Once a tier holds `min_files` files, they are merged into one
  file of the next tier. Today's partition gets a file every couple of seconds: merging the big file with the few
  new ones every interval would rewrite the day's bytes again and again (O(n²) a day); with tiers each row is
  rewritten once per tier (log_min_files of the day's files), and a partition holds fewer than `min_files` files
  per tier.
- **Everything into one, once a partition is closed**: no file has arrived for `closed_after_s`. A late file
  (an order event re-sent into an old day) starts tiers again until the partition closes again.
- **Only files of the same Kafka origin group are merged**: the sink checks a batch only against the files that
  may hold copies of its messages (`KafkaOrigin` in the file's name, warehouse/dedup.py). A merged file records the
  union of its sources' partitions, so a worker that had to check one of the sources checks the merged file, and a
  worker holding other partitions never reads it. Files whose partition sets overlap are grouped (in practice, the
  partitions one worker held); files without an origin are merged only with each other.

The sources are not deleted at once: a `dbt build` may have listed them a moment ago and be about to open them,
and a sink worker may have listed them just before. A hidden manifest lists them and they are deleted by a
compaction once `grace_s` has passed; until then each row exists twice, which staging's de-duplication (and
the sink's, which reads ids) absorbs.

Crash safety: the merged file is written and fsynced under a hidden name, then the manifest naming it is written,
then the file is renamed into place — the commit. A manifest counts only once the file it names is in place (or
has itself been merged since), so a compaction killed at any point leaves either its sources alone (and the
leftovers, hidden, are removed after the grace period) or the merged file with its sources superseded: no row lost,
none twice beyond the grace period.

Compaction respects `privacy forget`: it merges under the lake's erasure lock and leaves out the rows the
tombstones erase, and takes the erased out of the order-book rows that name them beside others (group buys,
friends' bargain cuts). Without that, a compaction that read its files before an erasure rewrote them would put the
erased rows back in a file the erasure never saw (warehouse/erasure.py). Two compactions never run at once on a
lake (`compaction_lock`): a second one skips its round.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import structlog
from duckdb.sqltypes import VARCHAR

from shoploop.kafka import KafkaSettings
from warehouse.erasure import (
    PAYLOADS_NAMING_OTHERS,
    ErasedKeys,
    LakeErasures,
    order_payload_without_erased_others,
    prune_expired_tombstones,
)
from warehouse.lake import ORDER_BOOK_PARTITION_KEY, PARTITION_KEY, KafkaOrigin, lake_file_name
from warehouse.settings import WarehouseSettings

log = structlog.get_logger(__name__)

MANIFEST_PREFIX = ".superseded-"
_LOCK_NAME = ".compaction.lock"
_TIER_IN_NAME = re.compile(r"^compact-t(?P<tier>\d+)-")


# -- which tables ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LakeTable:
    """One lake table as compaction sees it: where it is, and how its rows are de-duplicated when merged.

    `id_column` None: the rows have no id of their own (a push has one row per fact: decision, send, open), so
    only identical rows — copies that compaction itself made — are merged into one.
    """

    name: str
    directory: Path
    id_column: str | None
    order_column: str
    partition_key: str


def lake_tables(settings: WarehouseSettings) -> tuple[LakeTable, ...]:
    """The tables the sink writes that compaction merges. Not `live_minutes`: its rows are additive deltas without
    an id, so a reader that saw a merged file and its sources during the grace period would count them twice."""
    return (
        LakeTable("events", settings.events_dir, "message_id", "received_at", PARTITION_KEY),
        LakeTable("order_book", settings.order_book_dir, "event_id", "received_at", ORDER_BOOK_PARTITION_KEY),
        LakeTable("pushes", settings.pushes_dir, None, "received_at", PARTITION_KEY),
    )


# -- what to merge (pure) --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompactionPolicy:
    # Files of one tier merged together; also how many a partition collects per tier before a merge.
    min_files: int = 8
    # A partition that received no file for this long is merged into one file.
    closed_after_s: float = 3600.0
    # Superseded files are deleted this long after the merge that replaced them.
    grace_s: float = 900.0


@dataclass(frozen=True, slots=True)
class LakeFile:
    name: str
    modified_at: float  # seconds since the epoch (the file's mtime)

    @property
    def tier(self) -> int:
        """0 for a sink's file, t+1 for a merge of tier-t files (a merge named before tiers counts as 1)."""
        found = _TIER_IN_NAME.match(self.name)
        if found is not None:
            return int(found["tier"])
        return 1 if self.name.startswith("compact-") else 0

    @property
    def origin(self) -> KafkaOrigin | None:
        return KafkaOrigin.of_file(self.name)


@dataclass(frozen=True, slots=True)
class Merge:
    """Files to merge into one of `tier`, whose name records `origin` (None: it may hold anything)."""

    sources: tuple[str, ...]
    tier: int
    origin: KafkaOrigin | None


def _union_origin(files: Sequence[LakeFile]) -> KafkaOrigin | None:
    origins = [file.origin for file in files]
    if not origins or any(origin is None for origin in origins):
        return None
    counts = {origin.count for origin in origins if origin is not None}
    if len(counts) != 1:
        return None
    partitions = frozenset().union(*(origin.partitions for origin in origins if origin is not None))
    return KafkaOrigin(partitions, counts.pop())


def _root(parent: dict[int, int], partition: int) -> int:
    """The partition that stands for `partition`'s group (union-find)."""
    while parent.setdefault(partition, partition) != partition:
        partition = parent[partition]
    return partition


def origin_groups(files: Sequence[LakeFile]) -> list[list[LakeFile]]:
    """Files that may be merged together: those without an origin; and per partition count, those whose partition
    sets overlap, directly or through other files (the partitions one sink worker held)."""
    untagged = [file for file in files if file.origin is None]
    groups: list[list[LakeFile]] = [untagged] if untagged else []
    by_count: dict[int, list[LakeFile]] = {}
    for file in files:
        if file.origin is not None:
            by_count.setdefault(file.origin.count, []).append(file)
    for count in sorted(by_count):
        parent: dict[int, int] = {}
        for file in by_count[count]:
            assert file.origin is not None
            first, *others = sorted(file.origin.partitions)
            for other in others:
                parent[_root(parent, other)] = _root(parent, first)
        components: dict[int, list[LakeFile]] = {}
        for file in by_count[count]:
            assert file.origin is not None
            components.setdefault(_root(parent, min(file.origin.partitions)), []).append(file)
        groups.extend(components[key] for key in sorted(components))
    return groups


def plan_merges(files: Sequence[LakeFile], *, policy: CompactionPolicy, now: float) -> list[Merge]:
    """What to merge in one partition's live (not superseded) files: per origin group, everything into one once
    the group is closed (nothing new for `closed_after_s`), else each tier that holds `min_files` files."""
    merges: list[Merge] = []
    for group in origin_groups(files):
        ordered = sorted(group, key=lambda file: file.name)
        if now - max(file.modified_at for file in group) >= policy.closed_after_s:
            if len(group) > 1:
                tier = max(file.tier for file in group) + 1
                merges.append(Merge(tuple(f.name for f in ordered), tier, _union_origin(ordered)))
            continue
        by_tier: dict[int, list[LakeFile]] = {}
        for file in ordered:
            by_tier.setdefault(file.tier, []).append(file)
        for tier in sorted(by_tier):
            members = by_tier[tier]
            if len(members) >= policy.min_files:
                merges.append(Merge(tuple(f.name for f in members), tier + 1, _union_origin(members)))
    return merges


# -- manifests: which files are superseded ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Manifest:
    path: Path
    files: tuple[str, ...]
    by: str
    modified_at: float


def _manifests(partition: Path) -> list[_Manifest]:
    manifests = []
    for path in sorted(partition.glob(f"{MANIFEST_PREFIX}*.json")):
        try:
            document = orjson.loads(path.read_bytes())
            modified_at = path.stat().st_mtime
        except FileNotFoundError:
            continue
        manifests.append(_Manifest(path, tuple(document["files"]), str(document.get("by", "")), modified_at))
    return manifests


def _committed(manifests: Sequence[_Manifest], partition: Path) -> list[_Manifest]:
    """The manifests whose merge is committed: its file is in place, or was merged again since (it is a source of
    another manifest, which can only list a file that was in place)."""
    listed = {name for manifest in manifests for name in manifest.files}
    return [m for m in manifests if m.by in listed or (partition / m.by).exists()]


def _fsync_directory(directory: Path) -> None:
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


def _delete_expired(partition: Path, *, grace_s: float, now: float) -> int:
    """Delete what committed manifests older than `grace_s` supersede (then the manifest), and what a compaction
    killed half-way left behind (a hidden merged file, an uncommitted manifest) once as old."""
    deleted = 0
    manifests = _manifests(partition)
    committed = _committed(manifests, partition)
    for manifest in manifests:
        if now - manifest.modified_at < grace_s:
            continue
        if manifest in committed:
            for name in manifest.files:
                target = partition / name
                if target.exists():
                    target.unlink()
                    deleted += 1
        manifest.path.unlink(missing_ok=True)
    for leftover in [*partition.glob(".compact-*.tmp"), *partition.glob(f".{MANIFEST_PREFIX}*.tmp")]:
        try:
            if now - leftover.stat().st_mtime >= grace_s:
                leftover.unlink()
        except FileNotFoundError:
            continue
    return deleted


def _live_files(partition: Path) -> list[LakeFile]:
    superseded = {name for m in _committed(_manifests(partition), partition) for name in m.files}
    files = []
    for entry in os.scandir(partition):
        if entry.name.startswith(".") or not entry.name.endswith(".parquet") or entry.name in superseded:
            continue
        try:
            files.append(LakeFile(entry.name, entry.stat().st_mtime))
        except FileNotFoundError:
            continue
    return files


# -- merging ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompactionResult:
    partition: Path
    merged_files: int
    rows: int
    deleted_files: int
    written: Path | None  # the last merged file written in this partition, if any
    merges: int = 0


def _without_erased(connection: duckdb.DuckDBPyConnection, columns: list[str], keys: ErasedKeys) -> str:
    """Anti-joins that leave out the rows the tombstones erase (the same rules as `erasure.erased_rows`)."""
    if not keys or "received_at" not in columns:
        return ""
    joins = []
    for table, column, until in (
        ("erased_people", "person_id", keys.people),
        ("erased_ids", "anonymous_id", keys.ids),
        ("erased_ids", "user_id", keys.ids),
    ):
        if column not in columns or not until.num_rows:
            continue
        connection.register(table, until)
        # Identifiers come from our own constants, never from input.
        alias = f"erased_{column}"
        joins.append(
            f'anti join {table} as {alias} on sources."{column}" = {alias}.id'
            f" and sources.received_at <= {alias}.until"
        )
    return " ".join(joins)


_PAYLOAD_REWRITE = "payload_without_erased_others"


def _payload_without_erased_others(
    connection: duckdb.DuckDBPyConnection, columns: list[str], keys: ErasedKeys
) -> str:
    """A `replace` clause that takes erased shoppers out of the order-book rows that name them beside others
    (`erasure.order_payload_without_erased_others`, the rule of the rewrite and of the sink), registering the
    function it calls; "" when the table has no such rows. Without it, a merge that read a group buy's file before
    the erasure's rewrite did would write the row back as it read it."""
    if not keys or "event" not in columns or "payload" not in columns:
        return ""
    erased = keys.every_id

    def rewrite(event: str, payload: str) -> str:
        changed = order_payload_without_erased_others(event, payload, erased)
        return payload if changed is None else changed

    connection.create_function(_PAYLOAD_REWRITE, rewrite, [VARCHAR, VARCHAR], VARCHAR)
    events = ", ".join(f"'{name}'" for name in sorted(PAYLOADS_NAMING_OTHERS))  # our own constants
    rewritten = f"{_PAYLOAD_REWRITE}(sources.event, sources.payload)"
    return f" replace (case when sources.event in ({events}) then {rewritten} else sources.payload end as payload)"


def _write_merged(
    connection: duckdb.DuckDBPyConnection,
    partition: Path,
    merge: Merge,
    *,
    id_column: str | None,
    order_column: str,
    keys: ErasedKeys | None,
    temporary: Path,
) -> int:
    cursor = connection.cursor()  # its own registrations, dropped with it
    try:
        return _write_merged_with(
            cursor,
            partition,
            merge,
            id_column=id_column,
            order_column=order_column,
            keys=keys,
            temporary=temporary,
        )
    finally:
        cursor.close()


def _write_merged_with(
    connection: duckdb.DuckDBPyConnection,
    partition: Path,
    merge: Merge,
    *,
    id_column: str | None,
    order_column: str,
    keys: ErasedKeys | None,
    temporary: Path,
) -> int:
    relation = connection.read_parquet(
        [str(partition / name) for name in merge.sources], filename=True, hive_partitioning=False
    )
    connection.register("sources", relation)
    erased = _without_erased(connection, relation.columns, keys) if keys else ""
    rewritten = _payload_without_erased_others(connection, relation.columns, keys) if keys else ""
    if id_column is None:
        # No id: only identical rows (copies of one row, from a merge that was repeated) become one.
        selected = f"""
            select distinct sources.* exclude (filename){rewritten}
            from sources {erased} order by "{order_column}"
        """
    else:
        # First `order_column` wins per id, as in staging; identifiers come from our own constants.
        selected = f"""
            select sources.* exclude (filename){rewritten}
            from sources {erased}
            qualify row_number() over (partition by "{id_column}" order by "{order_column}", filename) = 1
            order by "{order_column}"
        """
    try:
        connection.execute(f"copy ({selected}) to '{temporary}' (format parquet, compression zstd)")
    finally:
        if rewritten:
            connection.remove_function(_PAYLOAD_REWRITE)  # functions outlive the cursor, in the connection
    row = connection.execute(f"select count(*) from read_parquet('{temporary}')").fetchone()
    with open(temporary, "rb") as file:
        os.fsync(file.fileno())
    return int(row[0]) if row else 0


def _commit(partition: Path, merge: Merge, temporary: Path, final: Path) -> None:
    """The manifest first, then the rename: the manifest counts only once its file is in place (`_committed`)."""
    manifest = partition / f"{MANIFEST_PREFIX}{uuid.uuid4().hex[:12]}.json"
    manifest_tmp = partition / f".{manifest.name}.tmp"
    manifest_tmp.write_bytes(
        orjson.dumps({"files": list(merge.sources), "by": final.name, "at": datetime.now(UTC).isoformat()})
    )
    os.replace(manifest_tmp, manifest)
    os.replace(temporary, final)
    _fsync_directory(partition)


def compact_partition(
    partition: Path,
    *,
    id_column: str | None,
    order_column: str,
    min_files: int = 8,
    grace_s: float = 900.0,
    closed_after_s: float = 3600.0,
    now: float | None = None,
    erasures: LakeErasures | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> CompactionResult:
    """Delete what expired merges superseded, then merge what `plan_merges` says; with `erasures` (the lake's
    tombstones), without the rows of erased people. The caller holds the lake's compaction lock, or knows that
    nothing else compacts this partition."""
    policy = CompactionPolicy(min_files=min_files, closed_after_s=closed_after_s, grace_s=grace_s)
    moment = time.time() if now is None else now
    if connection is None:
        with duckdb.connect() as own:
            return _compact(partition, policy, id_column, order_column, moment, erasures, own)
    return _compact(partition, policy, id_column, order_column, moment, erasures, connection)


def _compact(
    partition: Path,
    policy: CompactionPolicy,
    id_column: str | None,
    order_column: str,
    now: float,
    erasures: LakeErasures | None,
    connection: duckdb.DuckDBPyConnection,
) -> CompactionResult:
    deleted = _delete_expired(partition, grace_s=policy.grace_s, now=now)
    merges = plan_merges(_live_files(partition), policy=policy, now=now)
    if not merges:
        return CompactionResult(partition, 0, 0, deleted, None)
    merged_files = rows = 0
    written: Path | None = None
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    for merge in merges:
        final = partition / lake_file_name(f"compact-t{merge.tier}", stamp, origin=merge.origin)
        temporary = partition / f".{final.name}.tmp"
        if erasures is None:
            count = _write_merged(
                connection,
                partition,
                merge,
                id_column=id_column,
                order_column=order_column,
                keys=None,
                temporary=temporary,
            )
            _commit(partition, merge, temporary, final)
        else:
            with erasures.writing():
                count = _write_merged(
                    connection,
                    partition,
                    merge,
                    id_column=id_column,
                    order_column=order_column,
                    keys=erasures.keys(),
                    temporary=temporary,
                )
                _commit(partition, merge, temporary, final)
        merged_files += len(merge.sources)
        rows += count
        written = final
    return CompactionResult(partition, merged_files, rows, deleted, written, len(merges))


@contextmanager
def compaction_lock(lake_dir: Path) -> Iterator[bool]:
    """Held by one compaction of the lake at a time; yields False (without waiting) when another holds it."""
    lake_dir.mkdir(parents=True, exist_ok=True)
    with open(lake_dir / _LOCK_NAME, "a+b") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _compact_partitions(
    table_dir: Path,
    *,
    id_column: str | None,
    order_column: str,
    policy: CompactionPolicy,
    erasures: LakeErasures,
    connection: duckdb.DuckDBPyConnection,
    now: float | None,
) -> list[CompactionResult]:
    if not table_dir.is_dir():
        return []
    return [
        compact_partition(
            partition,
            id_column=id_column,
            order_column=order_column,
            min_files=policy.min_files,
            grace_s=policy.grace_s,
            closed_after_s=policy.closed_after_s,
            now=now,
            erasures=erasures,
            connection=connection,
        )
        for partition in sorted(p for p in table_dir.iterdir() if p.is_dir() and "=" in p.name)
    ]


def compact_table(
    table_dir: Path,
    *,
    id_column: str | None,
    order_column: str,
    min_files: int = 8,
    grace_s: float = 900.0,
    closed_after_s: float = 3600.0,
    kafka: KafkaSettings | None = None,
    now: datetime | None = None,
) -> list[CompactionResult]:
    """Compact every partition of one lake table; the table sits in the lake folder, beside the tombstones of
    `privacy forget`, which are pruned first once expired under `kafka`'s retention (the environment's settings by
    default). Returns nothing when another compaction holds the lake."""
    lake_dir = table_dir.parent
    with compaction_lock(lake_dir) as is_held:
        if not is_held:
            log.info("lake_compaction_skipped", reason="another compaction holds the lake")
            return []
        prune_expired_tombstones(lake_dir, kafka=kafka or KafkaSettings(), now=now or datetime.now(UTC))
        with duckdb.connect() as connection:
            return _compact_partitions(
                table_dir,
                id_column=id_column,
                order_column=order_column,
                policy=CompactionPolicy(min_files=min_files, closed_after_s=closed_after_s, grace_s=grace_s),
                erasures=LakeErasures(lake_dir),
                connection=connection,
                now=None if now is None else now.timestamp(),
            )


def compaction_policy(settings: WarehouseSettings) -> CompactionPolicy:
    return CompactionPolicy(
        min_files=settings.compaction_min_files,
        closed_after_s=settings.compaction_closed_after_s,
        grace_s=settings.compaction_grace_s,
    )


def compact_lake(
    settings: WarehouseSettings, *, kafka: KafkaSettings | None = None, now: datetime | None = None
) -> dict[str, list[CompactionResult]] | None:
    """One round over every table `lake_tables` names (tombstones pruned first); None when another compaction
    holds the lake."""
    lake_dir = settings.lake_dir
    with compaction_lock(lake_dir) as is_held:
        if not is_held:
            log.info("lake_compaction_skipped", reason="another compaction holds the lake")
            return None
        prune_expired_tombstones(lake_dir, kafka=kafka or KafkaSettings(), now=now or datetime.now(UTC))
        erasures = LakeErasures(lake_dir)
        config: dict[str, str | bool | int | float | list[str]] = {
            "threads": settings.compaction_threads,
            "memory_limit": settings.compaction_memory_limit,
        }
        with duckdb.connect(config=config) as connection:
            return {
                table.name: _compact_partitions(
                    table.directory,
                    id_column=table.id_column,
                    order_column=table.order_column,
                    policy=compaction_policy(settings),
                    erasures=erasures,
                    connection=connection,
                    now=None if now is None else now.timestamp(),
                )
                for table in lake_tables(settings)
            }


def run_periodically(
    settings: WarehouseSettings, *, every_s: float, stop: threading.Event | None = None
) -> None:
    """Compact the lake every `every_s` seconds (start to start) until `stop` is set or Ctrl-C. A failed round is
    logged and the next one tried on schedule: whatever it left half-done is safe (see the module's docstring)."""
    stop = stop or threading.Event()
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                results = compact_lake(settings)
            except Exception:
                log.exception("lake_compaction_failed")
            else:
                if results is not None:
                    log.info(
                        "lake_compacted",
                        duration_s=round(time.monotonic() - started, 2),
                        **{
                            table: {
                                "merged_files": sum(r.merged_files for r in per_partition),
                                "written_files": sum(r.merges for r in per_partition),
                                "rows": sum(r.rows for r in per_partition),
                                "deleted_files": sum(r.deleted_files for r in per_partition),
                            }
                            for table, per_partition in results.items()
                        },
                    )
            stop.wait(max(0.0, every_s - (time.monotonic() - started)))
    except KeyboardInterrupt:
        return
