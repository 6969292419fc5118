"""Entry points for the `shoploop` CLI: migrate, run the API, run the WeChat sandbox, seed the catalogue."""

from __future__ import annotations

import socket

import structlog
import uvicorn

from api.settings import ApiSettings


def migrate(settings: ApiSettings | None = None) -> None:
    """`shoploop api-migrate`: alembic upgrade head on the configured database."""
    from api.migrate import upgrade_database

    upgrade_database((settings or ApiSettings()).database_url)


def run_api(
    *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, settings: ApiSettings | None = None
) -> int:
    """`shoploop api`: migrate, seed the catalogue if empty, then serve (in `workers` processes); returns the
    exit code."""
    from api.bootstrap import bootstrap, create_app
    from api.seed import seed_catalogue_if_empty

    settings = settings or ApiSettings()
    migrate(settings)
    container = bootstrap(settings)
    seed_catalogue_if_empty(container.uow(), now=container.now())
    if settings.environment == "development":
        from api.demo_seed import seed_demo

        for created in seed_demo(container.uow, now=container.now()):
            structlog.get_logger(__name__).info("demo_seeded", created=created)
    from api.service_layer.automation_rules import republish_rules

    # The rule book again on the compacted topic: a broker that lost its topics gets it back (see there).
    structlog.get_logger(__name__).info("rules_republished", rules=republish_rules(container.uow()))
    if workers <= 1:
        uvicorn.run(create_app(settings, container=container), host=host, port=port, log_level="info")
        return 0
    container.close()
    from functools import partial

    from shoploop.serving import run_workers

    return run_workers(partial(serve_worker, settings), host=host, port=port, workers=workers, name="api")


def serve_worker(settings: ApiSettings, index: int, sock: socket.socket, *, log_level: str = "info") -> None:
    """One API worker process: its own container (database pool, live model, shelf snapshot, freshness
    consumer); only worker 0 runs the background jobs, which must run once per shop."""
    from api.bootstrap import create_app

    worker_settings = settings.model_copy(
        update={"background_jobs_enabled": index == 0 and settings.background_jobs_enabled}
    )
    config = uvicorn.Config(create_app(worker_settings), log_level=log_level)
    uvicorn.Server(config).run(sockets=[sock])


def run_sandbox(*, host: str = "127.0.0.1", port: int = 9480, settings: ApiSettings | None = None) -> None:
    """`shoploop wechat-sandbox`: the loopback WeChat, set up for the merchant in `settings`."""
    from api.wechat import signing
    from api.wechat.sandbox import create_sandbox_app

    settings = settings or ApiSettings()
    merchant_key = signing.load_or_create_private_key(
        settings.wechat_pay_private_key_path, may_create=settings.environment == "development"
    )
    app = create_sandbox_app(
        appid=settings.wechat_appid,
        app_secret=settings.wechat_app_secret.get_secret_value(),
        mchid=settings.wechat_pay_mchid,
        merchant_serial=settings.wechat_pay_merchant_serial,
        merchant_public_key_pem=signing.public_key_pem(merchant_key.public_key()),
        apiv3_key=settings.wechat_pay_apiv3_key.get_secret_value().encode(),
    )
    uvicorn.run(app, host=host, port=port, log_level="info")
