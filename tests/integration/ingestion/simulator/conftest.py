"""A real local HTTP collector stand-in on a free port: records batches and refuses on demand."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shoploop.serving import bound_socket, serving


@dataclass
class RecordingCollector:
    url: str
    refusals: list[int] = field(default_factory=list)  # statuses to answer before accepting, in order
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted_messages(self) -> list[dict[str, Any]]:
        with self.lock:
            return [message for body in self.accepted for message in body["batch"]]

    def refused_messages(self) -> list[dict[str, Any]]:
        with self.lock:
            return [message for body in self.refused for message in body["batch"]]


def _app(collector: RecordingCollector) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/batch")
    async def batch(request: Request) -> JSONResponse:
        body = orjson.loads(await request.body())
        with collector.lock:
            if collector.refusals:
                status = collector.refusals.pop(0)
                collector.refused.append(body)
                return JSONResponse({"code": "refused", "message": "refused by the test"}, status_code=status)
            collector.accepted.append(body)
        return JSONResponse({"success": True})

    return app


@pytest.fixture
def recording_collector() -> Iterator[RecordingCollector]:
    with serving_a_recording_collector() as collector:
        yield collector


@contextmanager
def serving_a_recording_collector() -> Iterator[RecordingCollector]:
    sock = bound_socket()
    collector = RecordingCollector(url=f"http://127.0.0.1:{sock.getsockname()[1]}")
    with serving(_app(collector), sock=sock):
        yield collector
