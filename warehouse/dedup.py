"""Exactly-once into the lake: the ids already in a lake table, so the sink writes each message once.

Kafka delivers at least once: a sink that crashed after writing a file but before committing its offsets gets
the same messages again, and a client that retried sends the same messageId twice. The lake itself is the
record of what was written (there is no second store that could disagree with it after a crash): before each
write the sink drops every id already present in the message's date partition or the day before it (a retry
that straddles midnight), and every id repeated within the batch. Partitions are read lazily, files written by
other workers are picked up on the next look, and only the most recently used partitions stay in memory.

When the caller says which Kafka partitions a batch came from (`KafkaOrigin`), only the files that may hold a
copy of its messages are read: those from a partition the batch came from, from another partition count, or of
unknown origin. A copy of a message comes back on its first copy's partition, so two workers holding different
partitions never read each other's files (0.2–0.4 µs of CPU per id read, and the memory to hold it). Files
skipped for one batch are read by the first later batch that needs them (say after a rebalance hands their
partition over).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import pyarrow.parquet as pq

from warehouse.lake import KafkaOrigin

Row = TypeVar("Row")


@dataclass
class _Partition:
    ids: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)  # read (or written) by this process
    # The Kafka origin of each file seen, from its name (parsed once; a file skipped for one batch is seen again).
    origins: dict[str, KafkaOrigin | None] = field(default_factory=dict)


class LakeIds:
    """The ids (message_id, event_id) of one lake table, read from its Parquet files partition by partition."""

    def __init__(
        self, table_dir: Path, *, id_column: str, partition_key: str, max_partitions: int = 4
    ) -> None:
        self._table_dir = table_dir
        self._id_column = id_column
        self._partition_key = partition_key
        self._max_partitions = max_partitions
        self._partitions: OrderedDict[str, _Partition] = OrderedDict()

    def _partition(self, day: str) -> _Partition:
        partition = self._partitions.get(day)
        if partition is None:
            partition = self._partitions[day] = _Partition()
        self._partitions.move_to_end(day)
        while len(self._partitions) > self._max_partitions:
            self._partitions.popitem(last=False)
        return partition

    def _refresh(self, day: str, batch: KafkaOrigin | None = None) -> set[str]:
        """Read the ids of files in the partition this process has not read yet (others' files too): all of them,
        or with `batch`, those that may hold a copy of a message from the batch's Kafka partitions."""
        partition = self._partition(day)
        folder = self._table_dir / f"{self._partition_key}={day}"
        try:
            names = os.listdir(folder)  # names only: cheaper than a Path per file, on every batch
        except FileNotFoundError:
            return partition.ids
        for name in names:
            if name in partition.files or name.startswith(".") or not name.endswith(".parquet"):
                continue
            if batch is not None:
                if name in partition.origins:
                    origin = partition.origins[name]
                else:
                    origin = partition.origins[name] = KafkaOrigin.of_file(name)
                if origin is not None and not origin.may_hold_copies_of(batch):
                    continue  # no copy of the batch's messages can be in it; read when a batch needs it
            try:
                # One column of one file: ParquetFile skips read_table's dataset machinery (half the cost; this
                # runs for every file another process wrote that may hold copies of this worker's messages).
                with pq.ParquetFile(folder / name) as file:
                    column = file.read(columns=[self._id_column], use_threads=False).column(0)
            except FileNotFoundError:
                continue  # compacted away between the listing and the read; its rows live on elsewhere
            partition.ids.update(column.drop_null().to_pylist())
            partition.files.add(name)
        return partition.ids

    def holds_any(
        self, ids_by_day: Mapping[str, AbstractSet[str]], *, batch: KafkaOrigin | None = None
    ) -> bool:
        """Whether the lake holds any of these ids in their day's partition or the day before (with `batch`: in
        the files that may hold copies of its messages). Set-wise, in C: the common case (nothing delivered
        twice) costs no Python step per id."""
        for day, ids in ids_by_day.items():
            previous = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
            if not ids.isdisjoint(self._refresh(day, batch)) or not ids.isdisjoint(
                self._refresh(previous, batch)
            ):
                return True
        return False

    def fresh_mask(
        self, ids: Sequence[str], days: Sequence[str], *, batch: KafkaOrigin | None = None
    ) -> list[bool]:
        """For each (id, day): true when the id is in neither the lake (that day or the day before; with
        `batch`, the files that may hold copies of its messages) nor earlier in `ids`. Vectorised callers (the
        events sink) pass whole columns."""
        # The two days' sets themselves, not their union: a busy day holds millions of ids.
        known_by_day: dict[str, tuple[set[str], set[str]]] = {}
        for day in set(days):
            previous = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
            known_by_day[day] = (self._refresh(day, batch), self._refresh(previous, batch))
        taken: set[str] = set()
        mask: list[bool] = []
        for row_id, day in zip(ids, days, strict=True):
            same_day, day_before = known_by_day[day]
            mask.append(row_id not in taken and row_id not in same_day and row_id not in day_before)
            # Taken even when not fresh: a later copy in the batch repeats an id the lake now holds either way
            # (say a copy of a day the lake does not look back from).
            taken.add(row_id)
        return mask

    def new_rows(
        self, rows: Sequence[Row], *, id_of: Callable[[Row], str], day_of: Callable[[Row], str]
    ) -> list[Row]:
        """The rows whose id is in neither the lake (their day or the day before) nor earlier in `rows`."""
        mask = self.fresh_mask([id_of(row) for row in rows], [day_of(row) for row in rows])
        return [row for row, is_fresh in zip(rows, mask, strict=True) if is_fresh]

    def remember(self, files: Sequence[Path], ids_by_day: Mapping[str, AbstractSet[str]]) -> None:
        """Record what this process just wrote, so the next batch need not read it back."""
        for day, ids in ids_by_day.items():
            self._partition(day).ids.update(ids)
        for path in files:
            day = path.parent.name.split("=", 1)[1]
            self._partition(day).files.add(path.name)
