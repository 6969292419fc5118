"""Where the decisions task's CPU goes, without Kafka: the replay log of `bench/streams.py` through the same
steps the worker takes per batch (parse and offer, advance the engine, tally live metrics, keep the pending
rows, serialise outputs, write the checkpoint rows into plain dicts, commit), timed by process CPU time.

    .venv/bin/python bench/streams_decide.py [--events 100000] [--batch 15000]

The worker's own figures (through Kafka and Faust) are `bench/streams.py`; this one says which step to work
on. Process time, not wall time, so other engineers' load on the shared cores moves it less.
"""

from __future__ import annotations

import argparse
import gc
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import orjson

from bench.streams import CART_RULE, SHARE_REWARD, START, shopper_log
from streams.automations.rules import PushPolicy, parse_rule
from streams.engine.checkpoint import Checkpoint, CheckpointTables, offer_records
from streams.engine.core import Engine
from streams.metrics.live import LiveTally
from streams.settings import StreamsSettings


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes


def records(events: int, partitions: int) -> list[Record]:
    log = shopper_log(events, start=START, step=timedelta(milliseconds=5), persons=max(events // 20, 100))
    offsets: dict[tuple[str, int], int] = {}
    out = []
    for topic, key, value in log:
        partition = zlib.crc32(key.encode()) % partitions
        offset = offsets[(topic, partition)] = offsets.get((topic, partition), -1) + 1
        out.append(Record(topic, partition, offset, value))
    return out


def run(inputs: list[Record], batch: int) -> Counter[str]:
    spent: Counter[str] = Counter()
    clock = time.process_time
    engine = Engine(policy=PushPolicy(), allowed_lateness=timedelta(seconds=30))
    engine.applied_ids = []
    for rule in (CART_RULE, SHARE_REWARD):
        engine.publish_rule(parse_rule(orjson.dumps(rule)))
    checkpoints = Checkpoint(CheckpointTables({}, {}, {}, {}, {}, {}))
    tally = LiveTally()
    for start in range(0, len(inputs), batch):
        at = clock()
        results, offered, activities = offer_records(
            engine, inputs[start : start + batch], checkpoints.next_offsets, seen_at=time.monotonic()
        )
        spent["parse and offer"] += clock() - at
        at = clock()
        results += engine.advance()
        spent["engine"] += clock() - at
        at = clock()
        for delta in tally.tally_activities(activities):
            delta.to_json()
        spent["live tally"] += clock() - at
        at = clock()
        still = checkpoints.still_pending(engine, offered)
        applied = set(engine.applied_ids)
        engine.applied_ids = []
        spent["pending rows"] += clock() - at
        at = clock()
        for output in results:
            orjson.dumps(output.value)
        spent["outputs"] += clock() - at
        at = clock()
        checkpoints.write(engine, new_chunk=still, applied_ids=applied)
        checkpoints.commit(engine)
        spent["checkpoint rows"] += clock() - at
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=15_000)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    # The young-generation threshold the streams role runs with (`shoploop streams` sets it at start).
    gc.set_threshold(StreamsSettings().gc_young_threshold, 10, 10)
    inputs = records(args.events, args.partitions)
    spent = run(inputs, args.batch)
    total = sum(spent.values())
    print(
        f"{len(inputs):,} inputs, {total:.2f} s CPU = {len(inputs) / total:,.0f} inputs/s of decisions work"
    )
    for step, seconds in spent.most_common():
        print(f"  {step:<16} {seconds:6.2f} s  {100 * seconds / total:4.1f}%")


if __name__ == "__main__":
    main()
