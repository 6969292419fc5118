"""`shoploop privacy worker`: a shopper's own 注销 reaches everything, without an operator.

The order core records an erasure request in the transaction that erases the account (its outbox →
`shoploop.privacy.erasure-requests`, keyed by user id; no lake sink reads the topic). This deployable, its own
composition root, runs `privacy forget <user_id>` for each request: lake tombstone and rows, warehouse rebuild,
identity graph, streams state, recommender runs (and the order core, already erased: a no-op).

At least once: the request's offset is committed only after `forget` completed, so a crash or a failure re-runs
it (idempotent). A `forget` that could not tell the streams (Kafka unreachable) counts as not completed. A message
that is not an erasure request is committed only once it is on the dead-letter topic
`shoploop.privacy.erasure-requests.dlq` with a reason code and its original payload (`dead_letter_of`).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import orjson
import structlog
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shoploop.kafka import KafkaSettings, Topics

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer

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


UNREADABLE_REQUEST = "unreadable_erasure_request"


def dead_letter_of(raw: bytes | None, reason: str) -> bytes:
    """The dead letter of a message that is not an erasure request, in the streams' dead-letter shape."""
    return orjson.dumps(
        {
            "reason_code": UNREADABLE_REQUEST,
            "reason": reason,
            "payload": (raw or b"").decode(errors="replace"),
        }
    )


def why_incomplete(report: ErasureReport) -> str | None:
    """Why this `forget` must run again (None: completed)."""
    return report.streams_not_told


Forget = Callable[[str], "ErasureReport"]
# Puts a dead letter on the dead-letter topic and returns once the broker has it (raises when it could not).
SendDeadLetter = Callable[[bytes], Awaitable[object]]


async def run_worker(
    settings: PrivacyWorkerSettings,
    kafka: KafkaSettings,
    *,
    forget_one: Forget | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Consume erasure requests until `stop` is set, each committed once its `forget` completed."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from shoploop.kafka import ensure_topics

    forget_one = forget_one or _forget_with(settings, kafka)
    stop = stop or asyncio.Event()
    topics = (Topics.PRIVACY_ERASURE_REQUESTS, Topics.PRIVACY_ERASURE_REQUESTS_DEAD_LETTER)
    await asyncio.to_thread(ensure_topics, kafka, topics)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()

    async def send_dead_letter(letter: bytes) -> object:
        return await producer.send_and_wait(Topics.PRIVACY_ERASURE_REQUESTS_DEAD_LETTER.name, letter)

    consumer = AIOKafkaConsumer(
        Topics.PRIVACY_ERASURE_REQUESTS.name,
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=settings.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_interval_ms=int(settings.max_forget_s * 1000),
    )
    try:
        await consumer.start()
        try:
            log.info(
                "privacy_worker_started",
                topic=Topics.PRIVACY_ERASURE_REQUESTS.name,
                group_id=settings.group_id,
            )
            await _consume(consumer, forget_one, send_dead_letter, settings=settings, stop=stop)
        finally:
            await consumer.stop()
    finally:
        await producer.stop()


async def _consume(
    consumer: AIOKafkaConsumer,
    forget_one: Forget,
    send_dead_letter: SendDeadLetter,
    *,
    settings: PrivacyWorkerSettings,
    stop: asyncio.Event,
) -> None:
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=1000, max_records=1)
        for partition, messages in batches.items():
            for message in messages:
                is_done = await _carry_out(
                    message.value,
                    forget_one,
                    send_dead_letter=send_dead_letter,
                    retry_s=settings.retry_s,
                    stop=stop,
                )
                if not is_done:
                    return  # stopped before it completed: not committed, the next worker runs it again
                await consumer.commit({partition: message.offset + 1})
                log.info("erasure_request_done", partition=partition.partition, offset=message.offset)


async def _carry_out(
    raw: bytes | None,
    forget_one: Forget,
    *,
    send_dead_letter: SendDeadLetter,
    retry_s: float,
    stop: asyncio.Event,
) -> bool:
    """Run `forget` for the request until it completes: True; False when the worker stops first. A message that
    is not a request goes to the dead-letter topic instead, sent again until the broker has it."""
    try:
        request = erasure_request_from_json(raw)
    except BadErasureRequest as error:
        return await _dead_letter(raw, str(error), send_dead_letter, retry_s=retry_s, stop=stop)
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
        await _pause(retry_s, stop)
    return False


async def _dead_letter(
    raw: bytes | None, reason: str, send_dead_letter: SendDeadLetter, *, retry_s: float, stop: asyncio.Event
) -> bool:
    letter = dead_letter_of(raw, reason)
    while not stop.is_set():
        try:
            await send_dead_letter(letter)
        except Exception as error:  # the request stays uncommitted until its dead letter is on the broker
            log.error("erasure_request_dead_letter_failed", error=repr(error))
        else:
            log.error(
                "erasure_request_dead_lettered",
                reason_code=UNREADABLE_REQUEST,
                reason=reason,
                topic=Topics.PRIVACY_ERASURE_REQUESTS_DEAD_LETTER.name,
            )
            return True
        await _pause(retry_s, stop)
    return False


async def _pause(retry_s: float, stop: asyncio.Event) -> None:
    """Wait `retry_s` before trying again, or less when the worker is stopped meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=retry_s)


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
