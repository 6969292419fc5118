"""The events sink's consumer starts with the sink app: events land while Faust's own consumer is still starting
(a group join takes 5 s on the embedded broker), rather than only after Faust has its partitions."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import faust
import pytest

from streams.sink.agents import register_sink
from tests.integration.warehouse.test_events_sink_drain import PARTITIONS, _lake_ids, _send_records
from tests.support.sink import events_broker

pytestmark = pytest.mark.integration


async def test_events_reach_the_lake_while_fausts_own_consumer_is_still_starting(tmp_path: Path) -> None:
    events_dir = tmp_path / "lake" / "events"
    # Faust's own broker accepts connections and never answers: its producer and consumer stay starting, as
    # during a slow group join. The events consumer reads the real broker.
    with (
        events_broker(PARTITIONS) as bootstrap,
        socket.create_server(("127.0.0.1", 0)) as silent_broker,
    ):
        ids = await asyncio.to_thread(_send_records, bootstrap, "early", 40)
        app = faust.App(
            "shoploop-sink",
            broker=f"kafka://127.0.0.1:{silent_broker.getsockname()[1]}",
            store="memory://",
            web_enabled=False,
            datadir=str(tmp_path / "faust"),
        )
        register_sink(
            app,
            bootstrap_servers=bootstrap,
            events_dir=events_dir,
            live_minutes_dir=tmp_path / "lake" / "live_minutes",
            batch_size=20_000,
            flush_s=0.5,
        )
        starting = asyncio.ensure_future(app.start())
        try:
            deadline = time.monotonic() + 30
            while not ids <= set(await asyncio.to_thread(_lake_ids, events_dir)):
                assert time.monotonic() < deadline, "no events landed while Faust was starting"
                await asyncio.sleep(0.5)
            assert not starting.done(), "Faust's own start was expected to be still waiting for its broker"
        finally:
            starting.cancel()
            await app.stop()
    assert sorted(_lake_ids(events_dir)) == sorted(ids)
