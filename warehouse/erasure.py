"""Erasure in the lake: rewrite every file that holds a person's rows without them (PIPL right to erasure).

Each rewritten file replaces the old one atomically under the same name, so readers see either the old
or the new file, never half of one; files without the person's rows are not touched.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.lake import request_full_refresh

PERSON_COLUMNS = ("person_id", "anonymous_id", "user_id")


def _rows_of(table: pa.Table, ids: pa.Array) -> pa.ChunkedArray | pa.Array:
    mask: pa.ChunkedArray | pa.Array | None = None
    for column in PERSON_COLUMNS:
        if column in table.column_names:
            hit = pc.fill_null(pc.is_in(table[column], value_set=ids), False)
            mask = hit if mask is None else pc.or_(mask, hit)
    return mask if mask is not None else pa.array([False] * table.num_rows)


def erase_people(table_dir: Path, ids: Iterable[str]) -> int:
    """Remove every row whose person_id, anonymous_id or user_id is one of `ids`; returns rows removed."""
    value_set = pa.array(sorted(set(ids)), type=pa.string())
    if len(value_set) == 0 or not table_dir.is_dir():
        return 0
    removed = 0
    for path in sorted(table_dir.glob("*=*/*.parquet")):
        table = pq.read_table(path)
        drop = _rows_of(table, value_set)
        count = pc.sum(drop).as_py() or 0
        if not count:
            continue
        kept = table.filter(pc.invert(drop))
        temporary = path.with_name(f".{path.name}.erasing")
        pq.write_table(kept, temporary, compression="zstd")
        os.replace(temporary, path)
        removed += int(count)
    if removed:
        # The warehouse's incremental staging still holds the erased rows: the next build starts from scratch.
        request_full_refresh(table_dir.parent)
    return removed
