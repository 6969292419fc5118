"""The collector's composition root: `create_app()` wires settings, the Kafka publisher and the routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from ingestion.collector.errors import CollectorError, RateLimited
from ingestion.collector.identity import IdentityGraph
from ingestion.collector.intake import as_batch, authenticate, decode_body, split_batch
from ingestion.collector.privacy import Pseudonymiser
from ingestion.collector.publisher import ConfluentEventPublisher, EventPublisher
from ingestion.collector.rate_limit import RateLimiter
from ingestion.collector.settings import CollectorSettings
from shoploop.kafka import Topics

log = structlog.get_logger(__name__)

SINGLE_CALLS = ("track", "identify", "page", "screen", "group", "alias")
# What Segment's API answers on success, written once (FastAPI would encode a dict on every request).
SUCCESS_BODY = b'{"success":true}'
GC_YOUNG_THRESHOLD = 20_000


def create_app(settings: CollectorSettings | None = None, publisher: EventPublisher | None = None) -> FastAPI:
    settings = settings or CollectorSettings()
    publisher = publisher or ConfluentEventPublisher(settings.kafka, timeout_s=settings.publish_timeout_s)
    rate_limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_per_source)
    pseudonymiser = Pseudonymiser(settings.pseudonym_key.get_secret_value().encode())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Opened here, not when the app is built: nothing connects before the server starts.
        identity_graph = await run_in_threadpool(IdentityGraph.from_url, settings.identity_database_url)
        app.state.identity_graph = identity_graph
        await publisher.start()
        forgetting = asyncio.create_task(
            _drop_forgotten_people(identity_graph, settings.identity_forget_poll_s)
        )
        # Everything made so far lives as long as the process: keep it out of the collector's cycle detection,
        # which otherwise walks it again and again as requests allocate their events.
        gc.freeze()
        # A request's parse and events (thousands of dicts, freed by reference counting when it ends) set off a
        # young-generation collection every 700 allocations: ~4 % of a worker's CPU under load and pauses of up to
        # 30 ms (measured with gc.callbacks). Cycles are rare here and still collected, 20,000 allocations apart.
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            forgetting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forgetting
            await publisher.stop()

    app = FastAPI(
        title="ShopLoop collector",
        summary="Segment HTTP Tracking API for WeChat mini-programs",
        lifespan=lifespan,
    )

    @app.exception_handler(CollectorError)
    async def _collector_error(_: Request, error: CollectorError) -> JSONResponse:
        headers = {"Retry-After": str(error.retry_after_s)} if isinstance(error, RateLimited) else None
        return JSONResponse(
            {"code": error.code, "message": error.message}, status_code=error.status_code, headers=headers
        )

    async def ingest(request: Request, message_type: str | None) -> Response:
        received_at = datetime.now(UTC)
        body = decode_body(await request.body(), request.headers.get("content-encoding"))
        source = authenticate(body, request.headers.get("authorization"), settings.write_keys)
        retry_after_s = rate_limiter.retry_after_s(source)
        if retry_after_s:
            raise RateLimited(f"source {source!r} is over its rate limit", retry_after_s=retry_after_s)
        intake = split_batch(
            as_batch(body, message_type),
            source=source,
            received_at=received_at,
            pseudonymise=pseudonymiser.apply,
        )
        identity_graph: IdentityGraph = request.app.state.identity_graph
        accepted = identity_graph.assign_people_from_cache(intake.accepted)
        if accepted is None:
            accepted = await run_in_threadpool(identity_graph.assign_people, intake.accepted)
        await publisher.publish(
            Topics.EVENTS.name,
            [(event.person_id.encode(), event.to_json()) for event in accepted],
            bundle=True,
        )
        await publisher.publish(
            Topics.EVENTS_DEAD_LETTER.name,
            [(letter.source.encode(), letter.to_json()) for letter in intake.dead_letters],
        )
        return Response(SUCCESS_BODY, media_type="application/json")

    success: dict[int | str, dict[str, Any]] = {
        200: {"content": {"application/json": {"example": {"success": True}}}}
    }

    @app.post("/v1/batch", responses=success)
    async def batch(request: Request) -> Response:
        """Accept a Segment batch; 200 only once Kafka has acknowledged every event."""
        return await ingest(request, None)

    for call in SINGLE_CALLS:

        async def single(request: Request, _call: str = call) -> Response:
            return await ingest(request, _call)

        app.add_api_route(
            f"/v1/{call}", single, methods=["POST"], summary=f"Accept one {call} call", responses=success
        )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def _drop_forgotten_people(identity_graph: IdentityGraph, interval_s: float) -> None:
    """Apply `shoploop privacy forget` to this worker's identity cache within `interval_s` of the erasure."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            forgotten = await run_in_threadpool(identity_graph.read_forgotten)
        except SQLAlchemyError as error:  # a database hiccup must not stop the loop: the next read retries
            log.warning("identity_forget_log_unreadable", error=repr(error))
            continue
        # Applied here, on the event loop that serves requests from the cache, not in the thread.
        if identity_graph.apply_forgotten(forgotten):
            log.info("forgotten_people_dropped_from_identity_cache", people=len(forgotten.people))
