"""A compaction process killed (SIGKILL) at arbitrary moments loses no row, and once a compactor runs again past
the grace period every row is in the lake exactly once, with nothing left behind.

The unit tests kill a compaction at each of its renames; this one kills a real process wherever it happens to be
(reading, writing, fsyncing, renaming, deleting), again and again on the same lake.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from warehouse.compaction import compact_partition
from warehouse.lake import EVENTS_SCHEMA, PARTITION_KEY, KafkaOrigin, write_partition

pytestmark = pytest.mark.integration

RECEIVED = datetime(2024, 11, 11, 2, 0, tzinfo=UTC)
FILES, ROWS_PER_FILE = 160, 50
MERGE = {"id_column": "message_id", "order_column": "received_at", "min_files": 2, "grace_s": 60.0}

# Waits for a line on stdin, then compacts until killed (each round merges the next tier).
COMPACTOR = """
import sys
from pathlib import Path
from warehouse.compaction import compact_partition
partition = Path(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
while True:
    compact_partition(partition, id_column="message_id", order_column="received_at", min_files=2, grace_s=0.3)
"""


def _write_sink_files(events_dir: Path) -> list[str]:
    ids = []
    for number in range(FILES):
        batch = [f"m-{number}-{row}" for row in range(ROWS_PER_FILE)]
        table = pa.Table.from_pylist(
            [
                {
                    "message_id": message_id,
                    "type": "track",
                    "event": "Product Viewed",
                    "person_id": "lily",
                    "anonymous_id": "phone-lily",
                    "timestamp": RECEIVED,
                    "original_timestamp": RECEIVED,
                    "received_at": RECEIVED + timedelta(milliseconds=number),
                    "channel": "share_single_chat",
                    "source": "mini-program",
                    "properties": "{}",
                    "traits": "{}",
                    "context": "{}",
                }
                for message_id in batch
            ],
            schema=EVENTS_SCHEMA,
        )
        write_partition(events_dir, "2024-11-11", table, origin=KafkaOrigin(frozenset({number % 2}), 2))
        ids += batch
    return sorted(ids)


def _ids(events_dir: Path) -> list[str]:
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select message_id from read_parquet(?) order by all", [str(events_dir / "*=*" / "*.parquet")]
        ).fetchall()
    return [row[0] for row in rows]


def test_a_compactor_killed_again_and_again_loses_no_row_and_leaves_each_once_after_the_grace_period(
    tmp_path: Path,
) -> None:
    events_dir = tmp_path / "events"
    expected = _write_sink_files(events_dir)
    partition = events_dir / f"{PARTITION_KEY}=2024-11-11"

    for kill_after_s in (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.45, 0.6, 0.8):
        compactor = subprocess.Popen(
            [sys.executable, "-c", COMPACTOR, str(partition)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert compactor.stdout is not None and compactor.stdin is not None
        assert compactor.stdout.readline().strip() == "ready"
        compactor.stdin.write("go\n")
        compactor.stdin.flush()
        time.sleep(kill_after_s)
        compactor.kill()
        compactor.wait(timeout=30)
        # Whatever it was doing: every row is still there (maybe twice, which staging absorbs).
        assert sorted(set(_ids(events_dir))) == expected, f"rows lost when killed after {kill_after_s} s"

    # A compactor again: the partition merged whole (closed), then, past the grace, the merged-away files deleted.
    restarted = time.time()
    for later in (restarted, restarted + 61):
        compact_partition(partition, now=later, closed_after_s=0.0, **MERGE)  # type: ignore[arg-type]
    assert _ids(events_dir) == expected
    assert [p.name for p in partition.iterdir() if p.name.startswith(".")] == []
