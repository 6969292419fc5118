"""What the tests of the events sink share: an embedded broker with ShopLoop's topics, collector-style event
values to put on it, and what the sink left in the lake and in its log.

    bootstrap = events_broker_fixture(partitions=2)   # a module-scoped pytest fixture named `bootstrap`

The broker listens on a port the OS chooses, or on the first free one of `SHOPLOOP_TEST_PORT_RANGE`
(`19500-19999`) when that is set: engineers who share a machine each keep to their own range.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from shoploop.broker import embedded_broker, free_port
from shoploop.kafka import KafkaSettings, ensure_topics
from warehouse.lake import events_glob

HOST = "127.0.0.1"


def broker_port() -> int:
    """A port nothing listens on: the first free one of `SHOPLOOP_TEST_PORT_RANGE` when set, else the OS's."""
    wanted = os.environ.get("SHOPLOOP_TEST_PORT_RANGE")
    if not wanted:
        return free_port(HOST)
    first, last = (int(port) for port in wanted.split("-"))
    for port in range(first, last + 1):
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in SHOPLOOP_TEST_PORT_RANGE={wanted}")


@contextmanager
def events_broker(partitions: int) -> Iterator[str]:
    """A fresh embedded broker with ShopLoop's topics of `partitions` partitions each; its bootstrap address."""
    with embedded_broker(HOST, broker_port()) as address:
        ensure_topics(KafkaSettings(bootstrap_servers=address, default_partitions=partitions))
        yield address


def events_broker_fixture(*, partitions: int) -> Callable[[], Iterator[str]]:
    """`events_broker` as a module-scoped fixture: assign it to `bootstrap` in a test module."""

    @pytest.fixture(scope="module", name="bootstrap")
    def bootstrap() -> Iterator[str]:
        with events_broker(partitions) as address:
            yield address

    return bootstrap


def viewed(
    message_id: str,
    person: str,
    *,
    anonymous_id: str | None = None,
    user_id: str | None = None,
    received_at: datetime | None = None,
    properties: dict[str, Any] | None = None,
) -> bytes:
    """A `Product Viewed` as the collector puts it on `shoploop.events` (enriched, keyed by `person`); the device
    is the person's own id unless told, the times are now unless told."""
    at = (received_at or datetime.now(UTC)).isoformat()
    return orjson.dumps(
        {
            "message_id": message_id,
            "type": "track",
            "event": "Product Viewed",
            "person_id": person,
            "anonymous_id": anonymous_id or person,
            "user_id": user_id,
            "timestamp": at,
            "original_timestamp": at,
            "received_at": at,
            "channel": "search",
            "source": "mini-program",
            "properties": properties if properties is not None else {"sku": "85123A"},
        }
    )


def lake_rows(events_dir: Path, *columns: str) -> list[tuple[Any, ...]]:
    """The given columns of every row in the events lake (`filename` is the file's name)."""
    if not list(events_dir.glob("*/*.parquet")):
        return []
    selected = ", ".join("parse_filename(filename)" if c == "filename" else f'"{c}"' for c in columns)
    with duckdb.connect() as connection:
        # Column names come from the tests' own literals, never from input.
        return connection.execute(
            f"select {selected} from read_parquet(?, filename = true)", [events_glob(events_dir)]
        ).fetchall()


def _logged(log: Path, event: str, *fields: str) -> list[dict[str, int]]:
    """The integer fields of each `event` line in a sink's log (structlog's `key=value` console lines)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    found = []
    for line in text.splitlines():
        if re.search(rf"\b{event}\b", line):
            values = {name: re.search(rf"\b{name}=(\d+)", line) for name in fields}
            found.append({name: int(match.group(1)) for name, match in values.items() if match})
    return found


def events_taken(log: Path) -> int:
    """Events a sink has taken so far: written, dropped as duplicates, or dropped as erased (from its log)."""
    wrote = _logged(log, "sink_wrote", "events", "duplicates")
    erased = _logged(log, "sink_dropped_erased_events", "events")
    return sum(line.get("events", 0) + line.get("duplicates", 0) for line in wrote) + sum(
        line.get("events", 0) for line in erased
    )


def events_erased(log: Path) -> int:
    """Events a sink dropped because `privacy forget` erased their shopper (from its log)."""
    return sum(line.get("events", 0) for line in _logged(log, "sink_dropped_erased_events", "events"))


def pushes_erased(log: Path) -> int:
    """Push records a sink dropped because `privacy forget` erased their shopper (from its log)."""
    return sum(line.get("records", 0) for line in _logged(log, "pushes_sink_dropped_erased", "records"))
