"""The order core's composition root: `create_app()` wires settings, database, WeChat clients and routers.

Run it with `uvicorn api.bootstrap:create_app --factory`. Nothing connects until the first request.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.adapters.db import make_engine, make_read_only_session_factory, make_session_factory
from api.adapters.field_crypto import FieldCipher
from api.adapters.flag_consumer import consume_flags
from api.adapters.outbox_relay import run_relay
from api.adapters.recommender import LiveRecommender
from api.adapters.reward_consumer import consume_rewards
from api.container import Container
from api.domain.errors import DomainError
from api.rate_limit import RateLimiter
from api.routes import (
    account_erasure,
    account_review,
    admin,
    automation_rules,
    bargains,
    group_buys,
    growth,
    internal,
    membership,
    orders,
    payments,
    recommendations,
    shop,
)
from api.service_layer.accounts import VerifiedShoppers
from api.service_layer.group_buys import settle_expired_group_buys
from api.service_layer.notifications import send_pending
from api.service_layer.orders import close_expired_orders
from api.service_layer.recommendations import ShelfCache, read_shelf
from api.service_layer.unit_of_work import UnitOfWork
from api.settings import ApiSettings
from api.wechat import signing
from api.wechat.client import WeChatApiError, WeChatClient
from api.wechat.pay import WeChatPayClient, WeChatPayError
from recsys.freshness import RecentInteractions, consume_interactions
from recsys.train import erasure_log, live_run_id, load_live

log = logging.getLogger(__name__)
# Recommendations come first: they are on every home and product page, and FastAPI tries routers in order.
ROUTERS: tuple[APIRouter, ...] = (
    recommendations.router,
    internal.router,
    shop.router,
    orders.router,
    payments.router,
    admin.router,
    group_buys.router,
    group_buys.admin_router,
    membership.router,
    membership.admin_router,
    account_review.router,
    bargains.router,
    bargains.admin_router,
    growth.router,
    growth.admin_router,
    automation_rules.router,
    account_erasure.router,
    account_erasure.admin_router,
)


def bootstrap(settings: ApiSettings, *, clock: Callable[[], datetime] | None = None) -> Container:
    """Build the real adapters from settings (tests pass their own settings, never fakes)."""
    engine = make_engine(settings.database_url)
    merchant_key = signing.load_or_create_private_key(
        settings.wechat_pay_private_key_path, may_create=settings.environment == "development"
    )
    platform_keys = {}
    if settings.wechat_pay_platform_public_key_path and settings.wechat_pay_platform_serial:
        platform_keys[settings.wechat_pay_platform_serial] = signing.load_public_key(
            settings.wechat_pay_platform_public_key_path.read_bytes()
        )
    session_factory = make_session_factory(engine)
    read_only_session_factory = make_read_only_session_factory(engine)
    return Container(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        read_only_session_factory=read_only_session_factory,
        wechat=WeChatClient(
            base_url=settings.wechat_api_base_url,
            appid=settings.wechat_appid,
            app_secret=settings.wechat_app_secret.get_secret_value(),
            timeout_s=settings.wechat_timeout_s,
        ),
        pay=WeChatPayClient(
            base_url=settings.wechat_pay_base_url,
            appid=settings.wechat_appid,
            mchid=settings.wechat_pay_mchid,
            merchant_serial=settings.wechat_pay_merchant_serial,
            merchant_key=merchant_key,
            apiv3_key=settings.wechat_pay_apiv3_key.get_secret_value().encode(),
            platform_keys=platform_keys,
            timeout_s=settings.wechat_timeout_s,
        ),
        cipher=FieldCipher(
            {
                key_id: base64.b64decode(key.get_secret_value())
                for key_id, key in settings.address_keys.items()
            },
            settings.address_active_key_id,
        ),
        login_limiter=RateLimiter(per_minute=settings.login_rate_limit_per_minute),
        order_limiter=RateLimiter(per_minute=settings.order_rate_limit_per_minute),
        clock=clock or (lambda: datetime.now(UTC)),
        recommender=LiveRecommender(
            lambda: load_live(settings.recsys),
            live_version=lambda: live_run_id(settings.recsys),
            erasures=lambda: erasure_log(settings.recsys),
            reload_after_s=settings.recommender_reload_s,
            fresh=RecentInteractions(
                per_shopper=settings.recommender_fresh_per_shopper,
                max_shoppers=settings.recommender_fresh_max_shoppers,
            )
            if settings.recommender_freshness_enabled
            else None,
        ),
        shelves=ShelfCache(
            lambda: read_shelf(UnitOfWork(read_only_session_factory, clock=clock)),
            max_age_s=settings.recommender_shelf_max_age_s,
        ),
        verified_shoppers=VerifiedShoppers(max_age_s=settings.recommender_token_cache_s),
    )


async def _auto_close_loop(container: Container, stop: asyncio.Event) -> None:
    """Close unpaid orders once their payment window is over (with WeChat Pay's close call), and settle
    expired group buys."""
    while not stop.is_set():
        try:
            closed = await asyncio.to_thread(
                close_expired_orders, container.uow(), container.pay, now=container.now()
            )
            if closed:
                log.info("closed %d unpaid orders", closed)
            failed = await asyncio.to_thread(
                settle_expired_group_buys,
                container.uow(),
                container.pay,
                now=container.now(),
                notify_url=container.settings.refund_notify_url,
            )
            if failed:
                log.info("%d group buys expired; their members are refunded", failed)
        except Exception:
            log.exception("auto-close failed; will retry")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=container.settings.auto_close_interval_s)


async def _notification_loop(container: Container, stop: asyncio.Event) -> None:
    """Send queued order subscribe messages (paid, shipped, refunded)."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(
                send_pending,
                container.uow(),
                container.wechat,
                templates=container.settings.subscribe_templates,
                now=container.now(),
            )
        except Exception:
            log.exception("sending subscribe messages failed; will retry")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=container.settings.notification_interval_s)


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, error: DomainError) -> JSONResponse:
        return JSONResponse({"code": error.code, "message": error.message}, status_code=error.status_code)

    @app.exception_handler(WeChatPayError)
    async def _pay_error(_: Request, error: WeChatPayError) -> JSONResponse:
        log.warning("WeChat Pay refused a call: %s", error)
        return JSONResponse(
            {"code": "wechat_pay_error", "message": error.code or "WeChat Pay refused"}, status_code=502
        )

    @app.exception_handler(WeChatApiError)
    async def _wechat_error(_: Request, error: WeChatApiError) -> JSONResponse:
        return JSONResponse(
            {"code": "wechat_error", "message": f"WeChat errcode {error.errcode}"}, status_code=502
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return JSONResponse(
            {"code": "invalid_request", "message": f"{where}: {first.get('msg', 'invalid')}"}, status_code=422
        )


def create_app(settings: ApiSettings | None = None, *, container: Container | None = None) -> FastAPI:
    settings = settings or ApiSettings()
    container = container or bootstrap(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = []
        jobs = settings.background_jobs_enabled
        if jobs and settings.auto_close_interval_s > 0:
            tasks.append(asyncio.create_task(_auto_close_loop(container, stop)))
        if jobs and settings.notification_interval_s > 0:
            tasks.append(asyncio.create_task(_notification_loop(container, stop)))
        if jobs and settings.reward_consumer_enabled and settings.outbox_relay_enabled:
            tasks.append(
                asyncio.create_task(
                    consume_rewards(
                        container.uow,
                        settings.kafka,
                        topic=settings.reward_commands_topic,
                        clock=container.clock,
                        stop=stop,
                    )
                )
            )
        if jobs and settings.account_flag_consumer_enabled and settings.outbox_relay_enabled:
            tasks.append(
                asyncio.create_task(
                    consume_flags(
                        container.uow,
                        settings.kafka,
                        topic=settings.account_flags_topic,
                        clock=container.clock,
                        stop=stop,
                    )
                )
            )
        fresh = container.recommender.fresh
        if fresh is not None and settings.outbox_relay_enabled:
            tasks.append(
                asyncio.create_task(
                    consume_interactions(
                        fresh,
                        settings.kafka.bootstrap_servers,
                        topic=settings.events_topic,
                        stop=stop,
                        ready=container.recommender.fresh_reading.set,
                    )
                )
            )
        if jobs and settings.outbox_relay_enabled:
            tasks.append(
                asyncio.create_task(
                    run_relay(
                        container.session_factory,
                        settings.kafka,
                        poll_interval_s=settings.outbox_poll_interval_s,
                        stop=stop,
                    )
                )
            )
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            container.close()

    app = FastAPI(
        title="ShopLoop order core",
        summary="WeChat mini-program login, catalogue, cart, orders, WeChat Pay v3, refunds and back office",
        lifespan=lifespan,
    )
    app.state.container = container
    add_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
