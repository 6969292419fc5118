"""The collector's composition root: `create_app()` wires settings, the Kafka publisher and the routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import Receive, Scope, Send

from ingestion.collector.errors import CollectorError, RateLimited
from ingestion.collector.identity import IdentityGraph
from ingestion.collector.intake import (
    MAX_BODY_BYTES_WITHOUT_EVENT_SIZE_CHECK,
    as_batch,
    authenticate,
    batch_item_bytes,
    parse_body,
    read_body,
    split_batch,
)
from ingestion.collector.privacy import Pseudonymiser
from ingestion.collector.publisher import ConfluentEventPublisher, EventPublisher
from ingestion.collector.rate_limit import RateLimiter
from ingestion.collector.settings import CollectorSettings
from ingestion.contract.event import TrackedEvent
from shoploop.kafka import Topics

log = structlog.get_logger(__name__)

SINGLE_CALLS = ("track", "identify", "page", "screen", "group", "alias")
# What Segment's API answers on success, written once (FastAPI would encode a dict on every request).
SUCCESS_BODY = b'{"success":true}'
GC_YOUNG_THRESHOLD = 20_000


def create_app(
    settings: CollectorSettings | None = None, publisher: EventPublisher | None = None
) -> CollectorApp:
    settings = settings or CollectorSettings()
    publisher = publisher or ConfluentEventPublisher(
        settings.kafka, timeout_s=settings.publish_timeout_s, linger_ms=settings.kafka_linger_ms
    )
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

    app = CollectorApp(
        title="ShopLoop collector",
        summary="Segment HTTP Tracking API for WeChat mini-programs",
        lifespan=lifespan,
    )

    @app.exception_handler(CollectorError)
    async def _collector_error(_: Request, error: CollectorError) -> JSONResponse:
        status_code, content, headers = error_response(error)
        return JSONResponse(content, status_code=status_code, headers=headers)

    async def accept(
        raw: bytes,
        *,
        received_at: datetime,
        content_encoding: str | None,
        authorization: str | None,
        message_type: str | None,
    ) -> None:
        """The intake of one request, returning once Kafka acknowledged it; a CollectorError says why not."""
        text = read_body(raw, content_encoding)
        body = parse_body(text)
        source = authenticate(body, authorization, settings.write_keys)
        retry_after_s = rate_limiter.retry_after_s(source)
        if retry_after_s:
            raise RateLimited(f"source {source!r} is over its rate limit", retry_after_s=retry_after_s)
        batch = as_batch(body, message_type)
        body_bytes = len(text)
        intake = split_batch(
            batch,
            source=source,
            received_at=received_at,
            pseudonymise=pseudonymiser.apply,
            body_bytes=body_bytes,
            # A single call's message is the body less its writeKey, not an item of it: only batches are measured.
            item_bytes=batch_item_bytes(text, len(batch.batch))
            if message_type is None and body_bytes > MAX_BODY_BYTES_WITHOUT_EVENT_SIZE_CHECK
            else None,
        )
        identity_graph: IdentityGraph = app.state.identity_graph
        # From the cache, the events go to Kafka without a break in which an erasure could be applied.
        accepted = identity_graph.assign_people_from_cache(intake.accepted)
        if accepted is None:
            accepted = await _assign_people_in_a_thread(identity_graph, intake.accepted)
        events = [(event.person_id.encode(), event.to_json()) for event in accepted]
        dead_letters = [(letter.source.encode(), letter.to_json()) for letter in intake.dead_letters]
        # The request's body and parse (thousands of objects) are freed now, while the CPU's caches still hold them,
        # rather than when the acknowledgements come back, after the worker has served other requests: freeing them
        # then was ~10 % of a worker's CPU (py-spy), and the memory they held was not reused by the requests between.
        # The publisher likewise lets go of the events once it has bundled them.
        del raw, text, body, batch, intake, accepted
        publishing = publisher.publish(Topics.EVENTS.name, events, bundle=True)
        del events
        await publishing
        await publisher.publish(Topics.EVENTS_DEAD_LETTER.name, dead_letters)

    async def ingest(request: Request, message_type: str | None) -> Response:
        received_at = datetime.now(UTC)
        await accept(
            await request.body(),
            received_at=received_at,
            content_encoding=request.headers.get("content-encoding"),
            authorization=request.headers.get("authorization"),
            message_type=message_type,
        )
        return Response(SUCCESS_BODY, media_type="application/json")

    # The routes below document the API and serve what the fast path passes on; the fast path serves the posts.
    app.ingest_fast_path = IngestFastPath(accept)

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


def error_response(error: CollectorError) -> tuple[int, dict[str, str], dict[str, str] | None]:
    """A collector error at the edge: its status, its {code, message} body and, for 429, Retry-After."""
    headers = {"Retry-After": str(error.retry_after_s)} if isinstance(error, RateLimited) else None
    return error.status_code, {"code": error.code, "message": error.message}, headers


class Accept(Protocol):
    async def __call__(
        self,
        raw: bytes,
        *,
        received_at: datetime,
        content_encoding: str | None,
        authorization: str | None,
        message_type: str | None,
    ) -> None: ...


_INGEST_PATHS: dict[str, str | None] = {"/v1/batch": None, **{f"/v1/{call}": call for call in SINGLE_CALLS}}
_SUCCESS_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(SUCCESS_BODY))]


class IngestFastPath:
    """Serves `POST /v1/<call>` straight from the ASGI messages: the body read, `accept`, and the answer, without
    FastAPI's middleware stack (its error, telemetry and body-limit layers, which look at the environment and the
    tracer on every request), Starlette's routing, FastAPI's request handling and Response objects, which cost a
    request more CPU than the few microseconds a 200 needs (the collector's latency is its CPU per request with
    8 connections per worker). Status codes and bodies are those of the routes; an unexpected exception answers
    500 `Internal Server Error` and is raised on to the server, which logs it, as Starlette's
    ServerErrorMiddleware does."""

    def __init__(self, accept: Accept) -> None:
        self._accept = accept

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        received_at = datetime.now(UTC)
        body = await _request_body(receive)
        if body is None:
            return  # the client is gone: nothing accepted, nobody to answer
        content_encoding = authorization = None
        for name, value in scope["headers"]:
            if name == b"content-encoding":
                content_encoding = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
        accepting = self._accept(
            body,
            received_at=received_at,
            content_encoding=content_encoding,
            authorization=authorization,
            message_type=_INGEST_PATHS[scope["path"]],
        )
        del body  # handed over: `accept` lets go of it before it waits for Kafka
        try:
            await accepting
        except CollectorError as error:
            status_code, content, headers = error_response(error)
            response: Response = JSONResponse(content, status_code=status_code, headers=headers)
            await response(scope, receive, send)
            return
        except Exception:
            # Nothing was sent yet (the answer goes out below): a plain 500, as ServerErrorMiddleware's.
            await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send)
            raise
        await send({"type": "http.response.start", "status": 200, "headers": _SUCCESS_HEADERS})
        await send({"type": "http.response.body", "body": SUCCESS_BODY})


async def _request_body(receive: Receive) -> bytes | None:
    """The request's body from its ASGI messages; None when the client disconnected first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class CollectorApp(FastAPI):
    """The collector's FastAPI app (routes, API docs, lifespan), whose ingest posts go to the fast path before
    FastAPI's middleware stack sees them."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.ingest_fast_path: IngestFastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast_path = self.ingest_fast_path
        if (
            fast_path is not None
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] in _INGEST_PATHS
        ):
            await fast_path(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def _assign_people_in_a_thread(
    identity_graph: IdentityGraph, events: list[TrackedEvent]
) -> list[TrackedEvent]:
    """The events with their people, resolved by the database in a thread, less the events of every person whose
    erasure (`shoploop privacy forget`) this worker applied meanwhile: they were sent before the erasure and are
    the erased person's, and the erasure has already cleaned the lake they would land in. When the worker cannot
    tell whom it erased meanwhile (a gap in the erasure log), the database resolves the events again."""
    mark = identity_graph.erasure_mark()
    people = await run_in_threadpool(identity_graph.assign_people, events)
    erased = identity_graph.people_erased_since(mark)
    if erased is None:
        return await run_in_threadpool(identity_graph.assign_people, events)
    if not erased:
        return people
    kept = [event for event in people if event.person_id not in erased]
    log.info("events_of_people_erased_in_flight_dropped", events=len(people) - len(kept))
    return kept


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
