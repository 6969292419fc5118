"""`shoploop`: one command line for every part of the platform. Each command delegates to its deployable."""

from __future__ import annotations

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
dbt_app = typer.Typer(
    help="Build the warehouse with dbt and publish it for the dashboards.", no_args_is_help=True
)
app.add_typer(dbt_app, name="dbt")

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
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Run the collector: the Segment HTTP API (/v1/batch, /v1/track, …) in front of Kafka."""
    import uvicorn

    uvicorn.run(
        "ingestion.collector.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


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
) -> None:
    """Run `dbt build` against the lake and publish the result for the dashboards (atomic swap)."""
    from warehouse.publish import build_and_publish, run_periodically
    from warehouse.settings import WarehouseSettings

    settings = WarehouseSettings()
    if every_s is not None:
        run_periodically(settings, every_s=every_s)
        return
    raise typer.Exit(build_and_publish(settings, fixture=fixture))


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
    ]
    raise typer.Exit(streamlit_cli.main())


def main() -> None:
    app()
