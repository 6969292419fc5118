"""CPU of the collector's intake per 100-event request, in one process, without Kafka or HTTP.

    .venv/bin/python -m bench.ingest_intake [--requests 2000] [--profile] [--pure]

The collector's ASGI app (its ingest fast path, authentication, tracking plan, enrichment, pseudonyms, the identity
cache and the JSON-lines bundles) serves the load's 100-event batches (`bench.ingest`'s), handed over as ASGI
messages; the publisher bundles the records per partition as the real one does but produces nothing. Every device
is seen twice first, so the identity cache decides, as in `bench.ingest`'s steady state. Prints the process CPU
time per request (`time.process_time`); `--profile` adds cProfile's top functions. Run main and a branch
alternating under one lock to compare them: the figure moves with the machine's load (on 2026-12-07 the same code
gave 1.4–2.9 ms within two minutes). `--pure` measures only `split_batch` (with pseudonymisation) and the identity
cache, each as the minimum of 40 repeats, which interference cannot lower: the steadier figure for comparing builds.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
import timeit
from collections.abc import MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from bench.ingest import _batch_body
from ingestion.collector.app import create_app
from ingestion.collector.identity import IdentityGraph
from ingestion.collector.intake import as_batch, split_batch
from ingestion.collector.privacy import Pseudonymiser
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


def _pure(repeats: int = 40) -> None:
    """The minimum CPU of `split_batch` and of the identity cache per 100-event request."""
    received_at = datetime.now(UTC)
    pseudonymiser = Pseudonymiser(b"bench-pseudonym-key-32-bytes-long")
    batches = [as_batch(orjson.loads(_batch_body(seed)), None) for seed in range(20)]

    def intake() -> list[list[Any]]:
        return [
            split_batch(
                batch, source="miniprogram", received_at=received_at, pseudonymise=pseudonymiser.apply
            ).accepted
            for batch in batches
        ]

    with tempfile.TemporaryDirectory() as data_dir:
        graph = IdentityGraph.from_url(f"sqlite:///{data_dir}/identity.db")
        events = intake()
        for request in events:
            graph.assign_people(request)

        def identity() -> None:
            for request in events:
                graph.assign_people_from_cache(request)

        for name, work in (("split_batch", intake), ("identity cache", identity)):
            best = min(timeit.repeat(work, number=5, repeat=repeats)) / (5 * len(batches))
            print(f"{name}: {best * 1e6:.0f} µs per 100-event request (minimum of {repeats} repeats)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--pure", action="store_true", help="only split_batch and the identity cache, minimum of repeats"
    )
    args = parser.parse_args()
    if args.pure:
        _pure()
        return
    asyncio.run(_run(args.requests, profile=args.profile))


if __name__ == "__main__":
    main()
