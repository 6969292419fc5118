"""Delivery to the collector: Segment batches that are kept and retried with backoff until accepted."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import structlog

log = structlog.get_logger("ingestion.simulator")


class Delivery:
    """Buffers messages, seals them into batches of at most `max_batch_messages`, and posts the oldest
    batch first. A batch leaves only when the collector answers 200; anything else keeps it and backs off
    exponentially (429: as long as Retry-After asks), so no event is ever dropped here."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        url: str,
        write_key: str,
        max_batch_messages: int = 100,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._url = url
        self._write_key = write_key
        self._max_batch_messages = max_batch_messages
        self._initial_backoff_s = initial_backoff_s
        self._max_backoff_s = max_backoff_s
        self._monotonic = monotonic
        self._buffer: list[dict[str, Any]] = []
        self._batches: deque[list[dict[str, Any]]] = deque()
        self._backoff_s = initial_backoff_s
        self._next_attempt_at = 0.0
        self.delivered_messages = 0
        self.refused_attempts = 0

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def pending_messages(self) -> int:
        """Messages not yet accepted by the collector, buffered or sealed."""
        return len(self._buffer) + sum(len(batch) for batch in self._batches)

    @property
    def next_attempt_at(self) -> float:
        return self._next_attempt_at

    def add(self, messages: Iterable[dict[str, Any]]) -> None:
        self._buffer.extend(messages)
        while len(self._buffer) >= self._max_batch_messages:
            self._batches.append(self._buffer[: self._max_batch_messages])
            del self._buffer[: self._max_batch_messages]

    def seal(self) -> None:
        """Close the partial batch so the next `deliver` sends it (the periodic flush)."""
        if self._buffer:
            self._batches.append(self._buffer)
            self._buffer = []

    def deliver(self) -> None:
        """Post sealed batches, oldest first, until one is refused or it is not yet time to retry."""
        while self._batches and self._monotonic() >= self._next_attempt_at:
            batch = self._batches[0]
            if not self._post(batch):
                self.refused_attempts += 1
                self._next_attempt_at = self._monotonic() + self._backoff_s
                self._backoff_s = min(self._backoff_s * 2, self._max_backoff_s)
                return
            self._batches.popleft()
            self.delivered_messages += len(batch)
            self._backoff_s = self._initial_backoff_s

    def _post(self, batch: list[dict[str, Any]]) -> bool:
        # sentAt is the moment of this attempt: the collector corrects clock skew with it.
        body = {
            "batch": batch,
            "sentAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "writeKey": self._write_key,
        }
        try:
            response = self._client.post(
                self._url, content=orjson.dumps(body), headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as error:
            log.warning(
                "collector unreachable; keeping the batch",
                url=self._url,
                error=str(error),
                retry_in_s=self._backoff_s,
            )
            return False
        if response.status_code == 200:
            return True
        if response.status_code == 429:
            self._backoff_s = max(self._backoff_s, _retry_after_s(response) or 0.0)
            log.warning("collector asks to slow down; keeping the batch", retry_in_s=self._backoff_s)
        elif 400 <= response.status_code < 500:
            # A 4xx means the simulator and the collector disagree (write key, contract): say so loudly.
            log.error(
                "COLLECTOR REFUSED A BATCH; keeping it and retrying",
                status=response.status_code,
                body=response.text[:500],
                messages=len(batch),
            )
        else:
            log.warning(
                "collector failed; keeping the batch", status=response.status_code, retry_in_s=self._backoff_s
            )
        return False


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
