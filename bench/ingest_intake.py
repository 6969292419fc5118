"""CPU of the collector's intake per 100-event request, in one process, without Kafka or HTTP.

    .venv/bin/python -m bench.ingest_intake [--requests 2000] [--profile]

The collector's ASGI app (its ingest fast path, authentication, tracking plan, enrichment, pseudonyms, the identity
cache and the JSON-lines bundles) serves the load's 100-event batches (`bench.ingest`'s), handed over as ASGI
messages; the publisher bundles the records per partition as the real one does but produces nothing. Every device
is seen twice first, so the identity cache decides, as in `bench.ingest`'s steady state. Prints the process CPU
time per request (`time.process_time`); `--profile` adds cProfile's top functions. Run main and a branch
alternating under one lock to compare them: the figure moves with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from collections.abc import MutableMapping, Sequence
from typing import Any

from bench.ingest import _batch_body
from ingestion.collector.app import create_app
from ingestion.collector.publisher import records_by_partition
from ingestion.collector.settings import CollectorSettings

PARTITIONS = 4


class BundlingPublisher:
    """Bundles the records per partition like the Kafka adapter, and produces nothing."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(
        self, topic: str, records: Sequence[tuple[bytes, bytes]], *, bundle: bool = False
    ) -> None:
        records_by_partition(records, PARTITIONS, bundle=bundle)


async def _run(requests: int, *, profile: bool) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = CollectorSettings(
            identity_database_url=f"sqlite:///{data_dir}/identity.db", rate_limit_per_s=10**9
        )
        app = create_app(settings, BundlingPublisher())
        bodies = [_batch_body(seed) for seed in range(300)]
        async with app.router.lifespan_context(app):

            async def post(body: bytes) -> None:
                sent: list[MutableMapping[str, Any]] = []
                messages = [{"type": "http.request", "body": body, "more_body": False}]

                async def receive() -> dict[str, Any]:
                    return messages.pop()

                async def send(message: MutableMapping[str, Any]) -> None:
                    sent.append(message)

                scope = {
                    "type": "http",
                    "method": "POST",
                    "path": "/v1/batch",
                    "headers": [(b"content-type", b"application/json")],
                    "query_string": b"",
                    "root_path": "",
                    "scheme": "http",
                    "server": ("127.0.0.1", 8000),
                    "client": ("127.0.0.1", 50000),
                    "http_version": "1.1",
                    "asgi": {"version": "3.0"},
                }
                await app(scope, receive, send)
                assert sent[0]["status"] == 200, sent

            for body in bodies + bodies:  # every device seen: the identity cache decides from here on
                await post(body)
            profiler = cProfile.Profile() if profile else None
            started = time.process_time()
            if profiler:
                profiler.enable()
            for index in range(requests):
                await post(bodies[index % len(bodies)])
            if profiler:
                profiler.disable()
            cpu_s = time.process_time() - started
    print(
        f"{cpu_s / requests * 1000:.3f} ms CPU per 100-event request ({requests} requests"
        f"{', under cProfile' if profile else ''})"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    asyncio.run(_run(args.requests, profile=args.profile))


if __name__ == "__main__":
    main()
