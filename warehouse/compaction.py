"""Compaction: many small sink files in a lake partition become one, without disturbing running readers.

The sink writes one file per batch (every couple of seconds), and DuckDB reads a thousand tiny files much
slower than one big one. Compaction merges a partition's small files into one file, de-duplicated by id, and
writes it the way the sink does (hidden, then renamed). The small files are not deleted at once: a `dbt build`
may have listed them a moment ago and be about to open them. They are listed in a hidden manifest and deleted by
a later compaction once `grace_s` has passed; until then each row exists twice, which staging's de-duplication
(and the sink's, see warehouse/dedup.py) already absorbs.

Compaction respects `privacy forget`: it merges under the lake's erasure lock and leaves out the rows the
tombstones erase. Without that, a compaction that read its files before an erasure rewrote them would put the
erased rows back in a file the erasure never saw (warehouse/erasure.py).
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson

from shoploop.kafka import KafkaSettings
from warehouse.erasure import ErasedKeys, LakeErasures, prune_expired_tombstones

MANIFEST_PREFIX = ".superseded-"


@dataclass(frozen=True, slots=True)
class CompactionResult:
    partition: Path
    merged_files: int
    rows: int
    deleted_files: int
    written: Path | None


def _superseded(partition: Path) -> set[str]:
    names: set[str] = set()
    for manifest in partition.glob(f"{MANIFEST_PREFIX}*.json"):
        names.update(orjson.loads(manifest.read_bytes())["files"])
    return names


def _delete_expired(partition: Path, *, grace_s: float, now: float) -> int:
    deleted = 0
    for manifest in partition.glob(f"{MANIFEST_PREFIX}*.json"):
        if now - manifest.stat().st_mtime < grace_s:
            continue
        for name in orjson.loads(manifest.read_bytes())["files"]:
            target = partition / name
            if target.exists():
                target.unlink()
                deleted += 1
        manifest.unlink()
    return deleted


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


def compact_partition(
    partition: Path,
    *,
    id_column: str,
    order_column: str,
    min_files: int = 8,
    grace_s: float = 900.0,
    now: float | None = None,
    erasures: LakeErasures | None = None,
) -> CompactionResult:
    """Merge the partition's files into one (first `order_column` wins per id) when there are `min_files`;
    with `erasures` (the lake's tombstones), without the rows of erased people."""
    if erasures is None:
        return _compact(partition, id_column, order_column, min_files, grace_s, now, None)
    with erasures.writing():
        return _compact(partition, id_column, order_column, min_files, grace_s, now, erasures.keys())


def _compact(
    partition: Path,
    id_column: str,
    order_column: str,
    min_files: int,
    grace_s: float,
    now: float | None,
    keys: ErasedKeys | None,
) -> CompactionResult:
    moment = time.time() if now is None else now
    deleted = _delete_expired(partition, grace_s=grace_s, now=moment)
    superseded = _superseded(partition)
    sources = sorted(p for p in partition.glob("*.parquet") if p.name not in superseded)
    if len(sources) < min_files:
        return CompactionResult(partition, 0, 0, deleted, None)
    name = f"compact-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(moment))}-{uuid.uuid4().hex[:12]}.parquet"
    temporary = partition / f".{name}.tmp"
    with duckdb.connect() as connection:
        relation = connection.read_parquet([str(p) for p in sources], filename=True)
        connection.register("sources", relation)
        erased = _without_erased(connection, relation.columns, keys) if keys else ""
        # Identifiers come from our own schema constants, never from input.
        connection.execute(
            f"""
            copy (
                select sources.* exclude (filename)
                from sources {erased}
                qualify row_number() over (partition by "{id_column}" order by "{order_column}", filename) = 1
                order by "{order_column}"
            ) to '{temporary}' (format parquet, compression zstd)
            """
        )
        row = connection.execute(f"select count(*) from read_parquet('{temporary}')").fetchone()
    rows = int(row[0]) if row else 0
    final = partition / name
    os.replace(temporary, final)
    manifest = partition / f"{MANIFEST_PREFIX}{uuid.uuid4().hex[:12]}.json"
    manifest_tmp = partition / f".{manifest.name}.tmp"
    manifest_tmp.write_bytes(orjson.dumps({"files": [p.name for p in sources], "by": final.name}))
    os.replace(manifest_tmp, manifest)
    return CompactionResult(partition, len(sources), rows, deleted, final)


def compact_table(
    table_dir: Path,
    *,
    id_column: str,
    order_column: str,
    min_files: int = 8,
    grace_s: float = 900.0,
    kafka: KafkaSettings | None = None,
    now: datetime | None = None,
) -> list[CompactionResult]:
    """Compact every partition of one lake table (`shoploop lake compact` runs this for each table); the table
    sits in the lake folder, beside the tombstones of `privacy forget`, which are pruned first once expired under
    `kafka`'s retention (the environment's settings by default)."""
    prune_expired_tombstones(table_dir.parent, kafka=kafka or KafkaSettings(), now=now or datetime.now(UTC))
    if not table_dir.is_dir():
        return []
    erasures = LakeErasures(table_dir.parent)
    return [
        compact_partition(
            partition,
            id_column=id_column,
            order_column=order_column,
            min_files=min_files,
            grace_s=grace_s,
            erasures=erasures,
        )
        for partition in sorted(p for p in table_dir.iterdir() if p.is_dir() and "=" in p.name)
    ]
