"""`shoploop privacy worker`: a shopper's own 注销 reaches everything, without an operator.

The order core records an erasure request in the transaction that erases the account (its outbox →
`shoploop.privacy.erasure-requests`, keyed by user id; no lake sink reads the topic). This deployable, its own
composition root, runs `privacy forget <user_id>` for each request: lake tombstone and rows, warehouse rebuild,
identity graph, streams state, recommender runs (and the order core, already erased: a no-op).

At least once: the request's offset is committed only after `forget` completed, so a crash or a failure re-runs
it (idempotent). A `forget` that could not tell the streams (Kafka unreachable) counts as not completed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import orjson
import structlog
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shoploop.kafka import KafkaSettings, Topics

if TYPE_CHECKING:
    from shoploop.privacy import ErasureReport

log = structlog.get_logger(__name__)


class PrivacyWorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPLOOP_PRIVACY_WORKER_", extra="ignore")

    group_id: str = "shoploop-privacy-worker"
    # Rebuild the published warehouse after each erasure (as `privacy forget` does by default).
    rebuild_warehouse: bool = True
    # How long to wait before running a failed or incomplete `forget` again.
    retry_s: float = Field(default=30.0, gt=0)
    # A `forget` with a warehouse rebuild may take minutes; the consumer must not be dropped from its group meanwhile.
    max_forget_s: float = Field(default=3600.0, gt=0)


class BadErasureRequest(ValueError):
    """A message on the requests topic that is not an erasure request."""


@dataclass(frozen=True)
class ErasureRequest:
    user_id: str
    requested_by: str
    requested_at: datetime


def erasure_request_from_json(raw: bytes | None) -> ErasureRequest:
    """Read a request written by `api.service_layer.account_erasure.erasure_request`."""
    try:
        data = orjson.loads(raw or b"")
        request = ErasureRequest(
            user_id=str(data["user_id"]),
            requested_by=str(data.get("requested_by") or ""),
            requested_at=datetime.fromisoformat(data["requested_at"]),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise BadErasureRequest(f"not an erasure request: {error!r}") from error
    if not request.user_id.strip():
        raise BadErasureRequest("an erasure request needs a user id")
    return request


def why_incomplete(report: ErasureReport) -> str | None:
    """Why this `forget` must run again (None: completed)."""
    return report.streams_not_told


Forget = Callable[[str], "ErasureReport"]


async def run_worker(
    settings: PrivacyWorkerSettings,
    kafka: KafkaSettings,
    *,
    forget_one: Forget | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Consume erasure requests until `stop` is set, each committed once its `forget` completed."""
    from aiokafka import AIOKafkaConsumer

    from shoploop.kafka import ensure_topics

    forget_one = forget_one or _forget_with(settings, kafka)
    stop = stop or asyncio.Event()
    await asyncio.to_thread(ensure_topics, kafka, (Topics.PRIVACY_ERASURE_REQUESTS,))
    consumer = AIOKafkaConsumer(
        Topics.PRIVACY_ERASURE_REQUESTS.name,
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=settings.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_interval_ms=int(settings.max_forget_s * 1000),
    )
    await consumer.start()
    log.info("privacy_worker_started", topic=Topics.PRIVACY_ERASURE_REQUESTS.name, group_id=settings.group_id)
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=1000, max_records=1)
            for partition, messages in batches.items():
                for message in messages:
                    if not await _carry_out(message.value, forget_one, retry_s=settings.retry_s, stop=stop):
                        return  # stopped before it completed: not committed, the next worker runs it again
                    await consumer.commit({partition: message.offset + 1})
                    log.info("erasure_request_done", partition=partition.partition, offset=message.offset)
    finally:
        await consumer.stop()


async def _carry_out(raw: bytes | None, forget_one: Forget, *, retry_s: float, stop: asyncio.Event) -> bool:
    """Run `forget` for the request until it completes: True; False when the worker stops first. A bad message
    is logged and skipped (True: there is nothing to run again)."""
    try:
        request = erasure_request_from_json(raw)
    except BadErasureRequest as error:
        log.error("erasure_request_unreadable", reason=str(error))
        return True
    while not stop.is_set():
        try:
            report = await asyncio.to_thread(forget_one, request.user_id)
        except Exception as error:  # any failure: the request stays uncommitted and runs again
            # No traceback: its frames' locals would name the person.
            log.error("erasure_request_failed", error=repr(error))
        else:
            reason = why_incomplete(report)
            if reason is None:
                # Counts only: the log must not name the person it erased.
                log.info(
                    "erasure_request_forgotten",
                    ids=len(report.ids),
                    rows_removed=sum(report.rows_removed.values()),
                )
                return True
            log.warning("erasure_request_incomplete", reason=reason)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=retry_s)
    return False


def _forget_with(settings: PrivacyWorkerSettings, kafka: KafkaSettings) -> Forget:
    from shoploop.privacy import forget

    def forget_one(user_id: str) -> ErasureReport:
        return forget(user_id, rebuild=settings.rebuild_warehouse, kafka=kafka)

    return forget_one


def main() -> None:
    """The composition root: settings from the environment, then consume until SIGINT or SIGTERM."""

    async def until_stopped() -> None:
        stop = asyncio.Event()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signal_number, stop.set)
        await run_worker(PrivacyWorkerSettings(), KafkaSettings(), stop=stop)

    asyncio.run(until_stopped())
