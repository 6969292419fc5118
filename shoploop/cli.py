"""`shoploop`: one command line for every part of the platform. Each command delegates to its deployable."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="ShopLoop — tracking, streams, warehouse, dashboards, recommendations and the order core "
    "for WeChat mini-program shops. Start with `shoploop demo`.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
recsys_app = typer.Typer(
    help="Train, evaluate and roll back the implicit-ALS recommender.", no_args_is_help=True
)
load_app = typer.Typer(help="Load real data sets into the lake.", no_args_is_help=True)
privacy_app = typer.Typer(help="Personal data: erase a shopper (PIPL).", no_args_is_help=True)
lake_app = typer.Typer(help="Maintain the Parquet lake.", no_args_is_help=True)
dlq_app = typer.Typer(help="Inspect and replay events that broke the tracking plan.", no_args_is_help=True)
dbt_app = typer.Typer(
    help="Build the warehouse with dbt and publish it for the dashboards.", no_args_is_help=True
)
app.add_typer(dbt_app, name="dbt")
app.add_typer(recsys_app, name="recsys")
app.add_typer(dlq_app, name="dlq")
app.add_typer(load_app, name="load")
app.add_typer(lake_app, name="lake")
app.add_typer(privacy_app, name="privacy")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@app.command()
def demo(
    simulate: Annotated[bool, typer.Option(help="Run the traffic simulator too.")] = True,
    shoppers: Annotated[
        int, typer.Option(help="How many simulated shoppers are in the mini-program at once.")
    ] = 300,
) -> None:
    """Run the whole platform on this machine: broker, collector, streams, sink, dbt, dashboard, simulator.

    Ctrl-C stops every process it started. Set KAFKA_BOOTSTRAP_SERVERS to use a real Kafka cluster
    instead of the embedded broker.
    """
    from shoploop.demo import run_demo

    raise typer.Exit(run_demo(simulate=simulate, shoppers=shoppers))


@app.command()
def broker(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9092,
) -> None:
    """Run the embedded Kafka-protocol broker (Tansu, in memory) in the foreground.

    It keeps every message in RAM and forgets them when stopped; production uses Apache Kafka.
    """
    from shoploop.broker import broker_command

    command = broker_command(host, port)
    typer.echo(f"embedded Kafka-protocol broker on {host}:{port} (memory storage)")
    os.execv(command[0], command)


@app.command()
def topics() -> None:
    """Create ShopLoop's Kafka topics on the configured cluster (idempotent)."""
    from shoploop.kafka import KafkaSettings, Topics, ensure_topics

    settings = KafkaSettings()
    ensure_topics(settings)
    for spec in Topics.ALL:
        typer.echo(f"{spec.name}{' (compacted)' if spec.compacted else ''}")


@app.command()
def collector(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (uvicorn), each on a socket of its own; about one per core.")
    ] = 1,
) -> None:
    """Run the collector: the Segment HTTP API (/v1/batch, /v1/track, …) in front of Kafka."""
    from ingestion.collector.server import serve

    raise typer.Exit(serve(host=host, port=port, workers=workers))


@app.command()
def streams(
    loglevel: Annotated[str, typer.Option(help="Faust log level: crit, error, warn, info, debug.")] = "warn",
) -> None:
    """Run a Faust worker with the real-time agents (live metrics now; carts, automations, referrals next)."""
    from streams.app import Role, run_worker
    from streams.settings import StreamsSettings

    sys.argv = [sys.argv[0], "worker", "--loglevel", loglevel]
    run_worker(StreamsSettings(), Role.STREAMS, loglevel=loglevel)


@app.command()
def sink(
    loglevel: Annotated[str, typer.Option(help="Faust log level: crit, error, warn, info, debug.")] = "warn",
) -> None:
    """Run the warehouse sink: a Faust worker that appends accepted events to the Parquet lake."""
    from streams.app import Role, run_worker
    from streams.settings import StreamsSettings

    sys.argv = [sys.argv[0], "worker", "--loglevel", loglevel]
    run_worker(StreamsSettings(), Role.SINK, loglevel=loglevel)


@app.command()
def simulate(
    collector_url: Annotated[
        str | None, typer.Option(help="Where the collector listens [default: http://127.0.0.1:8000].")
    ] = None,
    shoppers: Annotated[
        int | None, typer.Option(help="Shoppers in the mini-program at once [default: 300].")
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of the random behaviour; the same seed replays the same shoppers."),
    ] = None,
    duration_s: Annotated[
        float | None, typer.Option(help="Stop after this many seconds; without it, run until Ctrl-C.")
    ] = None,
) -> None:
    """Simulate shoppers in the mini-program: they arrive from WeChat scenes, browse, buy and share.

    Options override the SHOPLOOP_SIMULATOR_* environment variables.
    """
    from ingestion.simulator.runner import run
    from ingestion.simulator.settings import SimulatorSettings

    given: dict[str, Any] = {
        "collector_url": collector_url,
        "shoppers": shoppers,
        "seed": seed,
        "duration_s": duration_s,
    }
    settings = SimulatorSettings.model_validate(
        {name: value for name, value in given.items() if value is not None}
    )
    run(settings)


@dbt_app.command("build")
def dbt_build(
    every_s: Annotated[
        float | None, typer.Option("--every", help="Rebuild every this many seconds until stopped.")
    ] = None,
    fixture: Annotated[
        bool, typer.Option(help="Build on the bundled fixture events instead of the lake.")
    ] = False,
    full_refresh: Annotated[
        bool,
        typer.Option(help="Rebuild everything from the lake instead of carrying on from the last build."),
    ] = False,
) -> None:
    """Run `dbt build` against the lake and publish the result for the dashboards (atomic swap)."""
    from warehouse.publish import build_and_publish, run_periodically
    from warehouse.settings import WarehouseSettings

    settings = WarehouseSettings()
    if every_s is not None:
        run_periodically(settings, every_s=every_s)
        return
    raise typer.Exit(build_and_publish(settings, fixture=fixture, full_refresh=full_refresh))


@dbt_app.command("docs")
def dbt_docs(
    port: Annotated[int, typer.Option(help="Serve the docs site on this port; 0 only generates it.")] = 8080,
) -> None:
    """Generate the dbt docs site for the published warehouse and serve it (Ctrl-C stops)."""
    import functools
    import http.server

    from warehouse.publish import generate_docs
    from warehouse.settings import WarehouseSettings

    site = generate_docs(WarehouseSettings())
    typer.echo(f"dbt docs generated in {site}")
    if port:
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
        with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
            typer.echo(f"serving on http://127.0.0.1:{port}")
            server.serve_forever()


@load_app.command("online-retail")
def load_online_retail() -> None:
    """Turn the bundled UCI Online Retail data (real orders, CC BY 4.0) into order-book rows and events.

    Cancellations become refunds, zero prices and guest checkouts are counted and left out. Build the
    marts afterwards with SHOPLOOP_WAREHOUSE_SHOP_TIMEZONE=Europe/London (the shop was in the UK).
    """
    import dataclasses

    from warehouse.online_retail import load_online_retail as load
    from warehouse.settings import WarehouseSettings

    settings = WarehouseSettings()
    report = load(events_dir=settings.events_dir, order_book_dir=settings.order_book_dir)
    for name, value in dataclasses.asdict(report).items():
        typer.echo(f"{name.replace('_', ' ')}: {value:,}")


@privacy_app.command("forget")
def privacy_forget(
    shopper: Annotated[str, typer.Argument(help="The shopper's userId or anonymousId.")],
    rebuild: Annotated[bool, typer.Option(help="Rebuild the published warehouse without them.")] = True,
) -> None:
    """Erase a shopper's events and profile from the lake, the warehouse, the identity graph, the recommender's
    saved models and the order core (profile erased; orders, payments and refunds kept as the law requires)."""
    from shoploop.privacy import forget

    report = forget(shopper, rebuild=rebuild)
    typer.echo(f"person {report.person_id} (ids: {', '.join(report.ids)})")
    for table, rows in report.rows_removed.items():
        typer.echo(f"  {table}: {rows} rows removed")
    typer.echo(f"  warehouse rebuilt: {'yes' if report.is_warehouse_rebuilt else 'no'}")
    typer.echo(f"  recommender: {len(report.recommender_rows_removed)} model runs rewritten")
    order_core = report.order_core
    if order_core is not None and not order_core.is_database_found:
        typer.echo(f"  order core: no order database at {order_core.database}; nothing to erase there")
    elif order_core is not None:
        typer.echo(f"  order core ({order_core.database}): {len(order_core.accounts)} accounts erased")
        for account in order_core.accounts:
            again = " (already erased before)" if account.was_already_erased else ""
            typer.echo(f"    {account.user_id}{again}: deleted {account.deleted}, kept {account.kept}")
    if report.streams_not_told:
        message = f"{report.streams_not_told}; run `shoploop privacy forget` again once Kafka is reachable"
        typer.echo(json.dumps({"code": "streams_not_told", "message": message}), err=True)
        raise typer.Exit(3)


@privacy_app.command("worker")
def privacy_worker() -> None:
    """Erase, everywhere, every shopper who closed her account (注销): runs `privacy forget` for each request the
    order core records (topic shoploop.privacy.erasure-requests), committing each once it completed."""
    from shoploop.privacy_worker import main

    main()


@lake_app.command("compact")
def lake_compact(
    repeat: Annotated[
        bool,
        typer.Option(
            "--repeat", help="Compact again every SHOPLOOP_WAREHOUSE_COMPACTION_INTERVAL_S until stopped."
        ),
    ] = False,
    every_s: Annotated[
        float | None, typer.Option("--every", help="Compact again every this many seconds until stopped.")
    ] = None,
    min_files: Annotated[
        int | None,
        typer.Option(
            help="Merge a tier's files once it has this many (SHOPLOOP_WAREHOUSE_COMPACTION_MIN_FILES)."
        ),
    ] = None,
) -> None:
    """Merge the small files of the lake's events, order book and pushes (tiered while a partition is written,
    into one once it is closed); merged-away files are removed after a grace period."""
    from warehouse.compaction import compact_lake, run_periodically
    from warehouse.settings import WarehouseSettings

    settings = WarehouseSettings() if min_files is None else WarehouseSettings(compaction_min_files=min_files)
    if repeat or every_s is not None:
        run_periodically(settings, every_s=every_s or settings.compaction_interval_s)
        return
    results = compact_lake(settings)
    if results is None:
        typer.echo("another compaction holds the lake; nothing done")
        return
    for table, per_partition in results.items():
        merged = sum(result.merged_files for result in per_partition)
        written = sum(result.merges for result in per_partition)
        deleted = sum(result.deleted_files for result in per_partition)
        typer.echo(f"{table}: {merged} files merged into {written}, {deleted} superseded files deleted")


@app.command()
def dashboard(
    port: Annotated[int, typer.Option(help="Port Streamlit listens on.")] = 8501,
    host: Annotated[str, typer.Option(help="Address Streamlit listens on.")] = "127.0.0.1",
) -> None:
    """Run the Streamlit dashboards on the published warehouse."""
    from streamlit.web import cli as streamlit_cli

    sys.argv = [
        "streamlit",
        "run",
        str(PROJECT_ROOT / "dashboards" / "streamlit_app.py"),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # Analysts and marketers see the app, not Streamlit's developer menu (Deploy, rerun settings).
        "--client.toolbarMode",
        "viewer",
    ]
    raise typer.Exit(streamlit_cli.main())


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes, each on a socket of its own with its own model snapshot; one per core.",
        ),
    ] = 1,
) -> None:
    """Run the order core: login, catalogue, cart, orders, WeChat Pay, refunds and the back office.

    Migrates the database first and seeds the catalogue from the bundled data when it is empty.
    """
    from api.main import run_api

    raise typer.Exit(run_api(host=host, port=port, workers=workers))


@app.command("api-migrate")
def api_migrate() -> None:
    """Bring the order core's database to the newest schema (alembic upgrade head)."""
    from api.main import migrate

    migrate()


@app.command("wechat-sandbox")
def wechat_sandbox(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9480,
) -> None:
    """Run a loopback WeChat: code2Session, access_token, subscribe messages and WeChat Pay v3.

    It speaks the real protocols (signed requests, signed and encrypted notifications), so the
    production clients are exercised in the demo and the tests; only the base URL differs.
    """
    from api.main import run_sandbox

    run_sandbox(host=host, port=port)


@app.command("tracking-plan")
def tracking_plan() -> None:
    """Print the tracking plan as Markdown (the source of docs/tracking-plan.md)."""
    from ingestion.contract.tracking_plan import render_markdown

    typer.echo(render_markdown(), nl=False)


@dlq_app.command("list")
def dlq_list(
    reason: Annotated[str | None, typer.Option(help="Only letters with this reason code.")] = None,
    event: Annotated[str | None, typer.Option(help="Only letters of this event name.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many (newest last).")] = 50,
) -> None:
    """List the events on the dead-letter topic with why each one was refused."""
    import asyncio

    from rich.console import Console
    from rich.table import Table

    from ingestion.dead_letters import read_dead_letters, select
    from shoploop.kafka import KafkaSettings

    letters = select(asyncio.run(read_dead_letters(KafkaSettings())), reason_code=reason, event=event)
    table = Table(title=f"{len(letters)} dead letters")
    for column in ("received at (UTC)", "reason code", "reason", "event", "messageId"):
        table.add_column(column)
    for letter in letters[-limit:]:
        payload = letter.payload if isinstance(letter.payload, dict) else {}
        table.add_row(
            letter.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            letter.reason_code,
            letter.reason,
            str(payload.get("event") or payload.get("type") or ""),
            str(payload.get("messageId") or ""),
        )
    Console().print(table)


@dlq_app.command("replay")
def dlq_replay(
    reason: Annotated[str | None, typer.Option(help="Only letters with this reason code.")] = None,
    event: Annotated[str | None, typer.Option(help="Only letters of this event name.")] = None,
) -> None:
    """Re-send dead letters through the current tracking plan; accepted ones become events (same messageId)."""
    import asyncio

    from ingestion.dead_letters import read_dead_letters, replay, select
    from shoploop.kafka import KafkaSettings

    settings = KafkaSettings()
    letters = select(asyncio.run(read_dead_letters(settings)), reason_code=reason, event=event)
    report = asyncio.run(replay(settings, letters))
    typer.echo(
        f"replayed {report.replayed} of {len(letters)}; {len(report.still_failing)} still break the plan; "
        f"{len(report.too_old)} older than the dead-letter retention, not replayed"
    )


@recsys_app.command("train")
def recsys_train(
    trials: Annotated[
        int | None, typer.Option(help="Hyperparameter search trials [default: settings].")
    ] = None,
    every_s: Annotated[
        float | None,
        typer.Option("--every", help="Retrain every this many seconds until stopped (scheduled)."),
    ] = None,
) -> None:
    """Train on the warehouse marts (or, until they hold enough purchases, the bundled Online Retail data),
    evaluate against the baselines, and save the run in the model registry; serving promotes it if better."""
    import time

    import structlog

    from recsys.evaluate import format_table
    from recsys.train import train_latest

    log = structlog.get_logger("shoploop.recsys")
    while True:
        started = time.monotonic()
        try:
            run = train_latest(search_trials=trials, show_progress=every_s is None)
        except Exception as error:  # a scheduled retrain must outlive one bad run; the next one may succeed
            if every_s is None:
                raise
            log.error("recsys_training_failed", error=repr(error))
        else:
            typer.echo(format_table(run.report))
            typer.echo(f"saved run {run.card.run_id} in {time.monotonic() - started:.1f} s")
        if every_s is None:
            return
        time.sleep(every_s)


@recsys_app.command("evaluate")
def recsys_evaluate(
    trials: Annotated[
        int | None, typer.Option(help="Hyperparameter search trials [default: settings].")
    ] = None,
) -> None:
    """Evaluate ALS and the baselines on a time split and print the table; saves nothing."""
    from recsys.evaluate import format_table
    from recsys.train import evaluate_only

    report, _ = evaluate_only(search_trials=trials)
    typer.echo(format_table(report))


@recsys_app.command("rollback")
def recsys_rollback() -> None:
    """Return serving to the previous model in the registry."""
    from recsys.registry import NoModelError
    from recsys.train import rollback

    try:
        card = rollback()
    except NoModelError as error:
        typer.echo(f"nothing to roll back to: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"live model is now {card.run_id}")


def main() -> None:
    app()
