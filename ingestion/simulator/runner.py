"""The simulator's composition root: drive the behaviour model in real time and post it to the collector."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import FrameType

import httpx
import structlog

from ingestion.simulator.catalogue import load_catalogue
from ingestion.simulator.delivery import Delivery
from ingestion.simulator.settings import SimulatorSettings
from ingestion.simulator.shoppers import TrafficModel

log = structlog.get_logger("ingestion.simulator")

TICK_S = 0.05


def run(settings: SimulatorSettings, *, stop: threading.Event | None = None) -> None:
    """Simulate shoppers until Ctrl-C, SIGTERM, `stop` or `settings.duration_s`, then flush what is left.

    Simulated time is wall-clock time: each message is posted when its timestamp comes due.
    """
    stop = stop or threading.Event()
    catalogue = load_catalogue(settings.catalogue_path)
    started_at = datetime.now(UTC)
    started = time.monotonic()
    model = TrafficModel(
        catalogue,
        seed=settings.seed,
        shoppers=settings.shoppers,
        start=started_at,
        pacing=settings.pacing(),
        rounds=None,
    )
    log.info(
        "simulator started",
        collector=settings.batch_url,
        shoppers=settings.shoppers,
        seed=settings.seed,
        products=len(catalogue),
        duration_s=settings.duration_s,
    )
    with httpx.Client(timeout=settings.request_timeout_s) as client, _stopped_by_signals(stop):
        delivery = Delivery(
            client,
            url=settings.batch_url,
            write_key=settings.write_key,
            max_batch_messages=settings.max_batch_messages,
            initial_backoff_s=settings.initial_backoff_s,
            max_backoff_s=settings.max_backoff_s,
        )
        last_flush = last_progress = started
        while not stop.is_set():
            now = time.monotonic()
            if settings.duration_s is not None and now - started >= settings.duration_s:
                break
            delivery.add(model.until(started_at + timedelta(seconds=now - started)))
            if now - last_flush >= settings.flush_interval_s:
                delivery.seal()
                last_flush = now
            delivery.deliver()
            if now - last_progress >= settings.progress_every_s:
                _log_progress(model, delivery, started_at + timedelta(seconds=now - started), now - started)
                last_progress = now
            stop.wait(TICK_S)
        _flush(delivery, grace_s=settings.shutdown_grace_s)
        _log_progress(model, delivery, datetime.now(UTC), time.monotonic() - started)
    log.info(
        "simulator stopped", delivered=delivery.delivered_messages, undelivered=delivery.pending_messages
    )


def _flush(delivery: Delivery, *, grace_s: float) -> None:
    delivery.seal()
    deadline = time.monotonic() + grace_s
    while delivery.pending_messages and time.monotonic() < deadline:
        delivery.deliver()
        if delivery.pending_messages:
            time.sleep(max(0.0, min(delivery.next_attempt_at, deadline) - time.monotonic()) + 0.01)
    if delivery.pending_messages:
        log.error("stopping with events the collector never accepted", undelivered=delivery.pending_messages)


def _log_progress(model: TrafficModel, delivery: Delivery, moment: datetime, elapsed_s: float) -> None:
    log.info(
        "progress",
        events_sent=delivery.delivered_messages,
        events_per_s=round(delivery.delivered_messages / elapsed_s, 1) if elapsed_s > 0 else 0.0,
        shoppers_in_app=model.active_visits(moment),
        visits=model.visits_started,
        orders=model.orders_completed,
        shares=model.shares_made,
        waiting=delivery.pending_messages,
    )


@contextmanager
def _stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    """Turn Ctrl-C and SIGTERM into a clean stop (flush, then exit); only the main thread may do this."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, _: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
