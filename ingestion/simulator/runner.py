"""The simulator's composition root: drive the behaviour model in real time and post it to the collector."""

from __future__ import annotations

import secrets
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import FrameType

import httpx
import structlog

from ingestion.simulator.catalogue import Catalogue, catalogue_from_order_core, load_catalogue
from ingestion.simulator.delivery import Delivery
from ingestion.simulator.live_shop import LiveShop
from ingestion.simulator.order_core import (
    OrderCoreRefused,
    OrderCoreUnreachable,
    ShopBackend,
    StaffCreator,
    create_staff_in_order_core_database,
)
from ingestion.simulator.settings import SimulatorSettings
from ingestion.simulator.shoppers import TrafficModel

log = structlog.get_logger("ingestion.simulator")

TICK_S = 0.05


def run(
    settings: SimulatorSettings,
    *,
    stop: threading.Event | None = None,
    create_staff: StaffCreator | None = None,
) -> None:
    """Simulate shoppers until Ctrl-C, SIGTERM, `stop` or `settings.duration_s`, then flush what is left.

    Simulated time is wall-clock time: each message is posted when its timestamp comes due. When the order
    core answers, checkouts go through it (login, cart, order, WeChat Pay through the sandbox, refunds) and
    the catalogue is its catalogue; otherwise checkout is client-side only. `create_staff` makes the demo's
    back-office accounts when they cannot log in (default: in the order core's database, if so configured).
    """
    stop = stop or threading.Event()
    if create_staff is None and settings.create_staff_in_process:
        create_staff = create_staff_in_order_core_database
    with httpx.Client(timeout=settings.request_timeout_s) as client, _stopped_by_signals(stop):
        catalogue = load_catalogue(settings.catalogue_path)
        shop = connect_order_core(settings, client, catalogue, stop=stop, create_staff=create_staff)
        if shop is not None:
            catalogue = shop.catalogue
        started_at = datetime.now(UTC)
        started = time.monotonic()
        seed = settings.seed if settings.seed is not None else secrets.randbelow(2**31)
        model = TrafficModel(
            catalogue,
            seed=seed,
            shoppers=settings.shoppers,
            start=started_at,
            pacing=settings.pacing(),
            rounds=None,
            prompts=settings.prompts(),
        )
        log.info(
            "simulator started",
            collector=settings.batch_url,
            order_core=settings.api_url if shop is not None else None,
            shoppers=settings.shoppers,
            seed=seed,
            products=len(catalogue),
            duration_s=settings.duration_s,
        )
        delivery = Delivery(
            client,
            url=settings.batch_url,
            write_key=settings.write_key,
            max_batch_messages=settings.max_batch_messages,
            initial_backoff_s=settings.initial_backoff_s,
            max_backoff_s=settings.max_backoff_s,
        )
        last_flush = last_progress = last_push_poll = started
        while not stop.is_set():
            now = time.monotonic()
            if settings.duration_s is not None and now - started >= settings.duration_s:
                break
            due = model.until(started_at + timedelta(seconds=now - started))
            if shop is not None:
                due = shop.process(due)
                shop.run_follow_ups()
                if now - last_push_poll >= settings.push_poll_s:
                    # Phones get the subscribe messages WeChat delivered; some shoppers tap them.
                    moment = started_at + timedelta(seconds=now - started)
                    for message in shop.delivered_messages():
                        model.receive_push(
                            message.anonymous_id,
                            page=message.page,
                            push_id=message.push_id,
                            delivered_at=moment,
                        )
                    last_push_poll = now
            delivery.add(due)
            if now - last_flush >= settings.flush_interval_s:
                delivery.seal()
                last_flush = now
            delivery.deliver()
            if now - last_progress >= settings.progress_every_s:
                moment = started_at + timedelta(seconds=now - started)
                _log_progress(model, delivery, shop, moment, now - started)
                last_progress = now
            stop.wait(TICK_S)
        _flush(delivery, grace_s=settings.shutdown_grace_s)
        _log_progress(model, delivery, shop, datetime.now(UTC), time.monotonic() - started)
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


def connect_order_core(
    settings: SimulatorSettings,
    client: httpx.Client,
    local_catalogue: Catalogue,
    *,
    stop: threading.Event,
    create_staff: StaffCreator | None,
) -> LiveShop | None:
    """Wait for the order core and the sandbox, take the order core's catalogue, make sure the demo
    experiment runs and an operator can approve refunds. None (with a clear log line) when it is not there."""
    if not settings.use_order_core:
        log.info("order core off (use_order_core=false): checkout is client-side only")
        return None
    backend = ShopBackend(client, api_url=settings.api_url, sandbox_url=settings.sandbox_url)
    deadline = time.monotonic() + settings.order_core_wait_s
    has_said_waiting = False
    while not backend.is_reachable():
        if stop.is_set():
            return None
        if time.monotonic() >= deadline:
            log.warning(
                "ORDER CORE NOT REACHABLE: shoppers check out client-side only (Order Completed without a "
                "verified payment); start `shoploop api` and `shoploop wechat-sandbox` for real orders",
                api_url=settings.api_url,
                sandbox_url=settings.sandbox_url,
            )
            return None
        if not has_said_waiting:
            log.info("waiting for the order core and the WeChat sandbox", api_url=settings.api_url)
            has_said_waiting = True
        stop.wait(1.0)
    try:
        popularity = {product.product_id: product.popularity for product in local_catalogue.products}
        catalogue = catalogue_from_order_core(backend.products(), popularity=popularity)
    except (OrderCoreUnreachable, OrderCoreRefused, ValueError) as error:
        log.warning("ORDER CORE HAS NO USABLE CATALOGUE: checkout is client-side only", error=str(error))
        return None
    password = settings.staff_password.get_secret_value()
    analyst = _staff_token(backend, settings.analyst_username, password, "analyst", create_staff)
    if analyst is not None:
        try:
            status = backend.ensure_experiment(analyst, settings.experiment())
            log.info("demo experiment ready", experiment_id=settings.experiment_id, status=status)
        except (OrderCoreUnreachable, OrderCoreRefused) as error:
            log.warning("could not set up the demo experiment", error=str(error))
    operator = _staff_token(backend, settings.operator_username, password, "operator", create_staff)
    log.info(
        "shopping through the order core",
        api_url=settings.api_url,
        sandbox_url=settings.sandbox_url,
        products=len(catalogue),
        refunds_approved_by=settings.operator_username if operator else None,
    )
    return LiveShop(
        backend=backend,
        catalogue=catalogue,
        refund_share=settings.refund_share,
        refund_delay_s=(
            settings.refund_delay_min_s,
            max(settings.refund_delay_min_s, settings.refund_delay_max_s),
        ),
        operator_token=operator,
    )


def _staff_token(
    backend: ShopBackend, username: str, password: str, role: str, create_staff: StaffCreator | None
) -> str | None:
    try:
        token = backend.staff_token(username, password)
        if token is None and create_staff is not None and create_staff(username, password, role):
            token = backend.staff_token(username, password)
    except (OrderCoreUnreachable, OrderCoreRefused) as error:
        log.warning("back-office login failed", username=username, error=str(error))
        return None
    except Exception as error:  # creating the account in the order core's database: anything can go wrong
        log.warning("could not create the back-office account", username=username, error=repr(error))
        return None
    if token is None:
        log.warning(
            "no back-office account: the demo experiment and refund approvals are skipped",
            username=username,
            role=role,
        )
    return token


def _log_progress(
    model: TrafficModel, delivery: Delivery, shop: LiveShop | None, moment: datetime, elapsed_s: float
) -> None:
    live = vars_of(shop) if shop is not None else {}
    log.info(
        "progress",
        **live,
        events_sent=delivery.delivered_messages,
        events_per_s=round(delivery.delivered_messages / elapsed_s, 1) if elapsed_s > 0 else 0.0,
        shoppers_in_app=model.active_visits(moment),
        visits=model.visits_started,
        orders=model.orders_completed,
        shares=model.shares_made,
        pushes_tapped=model.pushes_tapped,
        waiting=delivery.pending_messages,
    )


def vars_of(shop: LiveShop) -> dict[str, int]:
    stats = shop.stats
    return {
        "logins": stats.logins,
        "orders_paid": stats.orders_paid,
        "orders_refused": stats.orders_refused,
        "orders_offline": stats.orders_offline,
        "refunds": stats.refunds_approved,
        "consents_allowed": stats.consents_allowed,
        "exposures": stats.exposures,
        "recommendations_shown": stats.recommendations_shown,
        "recommendations_clicked": stats.recommendations_clicked,
    }


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
