"""`shoploop demo`: the whole embedded stack under honcho, from the project's Procfile.

honcho starts each Procfile line in its own process group, relays their output with a prefix,
and on Ctrl-C (or when any process dies) terminates every group, killing stragglers after 5 s.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from honcho.environ import parse_procfile
from honcho.manager import Manager
from honcho.printer import Printer
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.table import Table

from shoploop.broker import is_listening

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_BOOTSTRAP = "127.0.0.1:9092"


class DemoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPLOOP_DEMO_", extra="ignore", populate_by_name=True)

    # Set to a real cluster's bootstrap servers to run the demo without the embedded broker.
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "SHOPLOOP_DEMO_KAFKA_BOOTSTRAP_SERVERS"),
    )
    procfile: Path = PROJECT_ROOT / "Procfile"
    # The order core's worker processes (`shoploop api --workers N`); the Procfile reads it from the environment.
    api_workers: int = Field(default=2, ge=1)


def demo_processes(procfile_text: str, *, uses_embedded_broker: bool, simulate: bool) -> dict[str, str]:
    """Which Procfile processes this demo runs: all of them, less the broker or simulator when not wanted."""
    processes = dict(parse_procfile(procfile_text).processes)
    if not uses_embedded_broker:
        processes.pop("broker", None)
    if not simulate:
        processes.pop("simulator", None)
    return processes


def _print_plan(processes: dict[str, str], bootstrap: str, shoppers: int, api_workers: int) -> None:
    where = {
        "broker": f"Kafka-protocol broker (embedded Tansu, in memory) on {bootstrap}",
        "collector": "collector (Segment HTTP API) on http://127.0.0.1:8000  — POST /v1/batch, docs at /docs",
        "sandbox": "loopback WeChat (login, subscribe messages, Pay v3) on http://127.0.0.1:9480",
        "api": "order core (orders, payments, back office) on http://127.0.0.1:8001 — docs at /docs"
        f" ({api_workers} worker processes, SHOPLOOP_DEMO_API_WORKERS)",
        "streams": "Faust worker: real-time agents (live metrics)",
        "sink": "Faust worker: warehouse sink → var/lake/events (Parquet)",
        "dbt": "dbt build every 20 s → var/warehouse/shoploop.duckdb (published by atomic swap)",
        "compactor": "lake compaction every 60 s: the sink's small Parquet files merged (tiered), old ones removed",
        "recsys": "recommender: trains at start and every hour → var/recsys/models (the order core serves it)",
        "dashboard": "Streamlit dashboards on http://127.0.0.1:8501",
        "simulator": f"traffic simulator: {shoppers} shoppers in the mini-program → collector",
    }
    table = Table(title="ShopLoop demo — what runs where", show_lines=False)
    table.add_column("process")
    table.add_column("what and where")
    if "broker" not in processes:
        table.add_row("kafka", f"external cluster at {bootstrap} (KAFKA_BOOTSTRAP_SERVERS)")
    for name in processes:
        table.add_row(name, where.get(name, processes[name]))
    console = Console()
    console.print(table)
    console.print("Open http://127.0.0.1:8501 — numbers appear within a minute. Ctrl-C stops everything.\n")


def _prepare_development_merchant_key() -> None:
    """The order core and the WeChat sandbox both read the merchant key: make it once, before either starts."""
    from api.settings import ApiSettings
    from api.wechat.signing import load_or_create_private_key

    settings = ApiSettings()
    load_or_create_private_key(
        settings.wechat_pay_private_key_path, may_create=settings.environment == "development"
    )


def _demo_console_login() -> dict[str, str]:
    """The marketer console signs in to the demo's order core with the seeded marketer account."""
    from api.demo_seed import DEMO_STAFF_PASSWORD

    return {
        "SHOPLOOP_DASHBOARD_API_URL": "http://127.0.0.1:8001",
        "SHOPLOOP_DASHBOARD_API_USERNAME": "marketer",
        "SHOPLOOP_DASHBOARD_API_PASSWORD": DEMO_STAFF_PASSWORD,
    }


def demo_environment(settings: DemoSettings, *, bootstrap: str, shoppers: int) -> dict[str, str]:
    """The environment every Procfile process starts with."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SHOPLOOP_SIMULATOR_SHOPPERS": str(shoppers),
        "SHOPLOOP_DEMO_API_WORKERS": str(settings.api_workers),
        **_demo_console_login(),
    }


def run_demo(*, simulate: bool, shoppers: int) -> int:
    settings = DemoSettings()
    uses_embedded_broker = settings.kafka_bootstrap_servers is None
    bootstrap = settings.kafka_bootstrap_servers or EMBEDDED_BOOTSTRAP
    ports = (
        (9092, "the embedded broker"),
        (8000, "the collector"),
        (8001, "the order core"),
        (8501, "the dashboard"),
    )
    for port, what in ports:
        if (port != 9092 or uses_embedded_broker) and is_listening("127.0.0.1", port):
            print(
                f"port {port} is already in use, so {what} cannot start: stop whatever listens there "
                "(an earlier demo?) and run `make demo` again",
                file=sys.stderr,
            )
            return 1

    processes = demo_processes(
        settings.procfile.read_text(), uses_embedded_broker=uses_embedded_broker, simulate=simulate
    )
    if "api" in processes:
        _prepare_development_merchant_key()
    _print_plan(processes, bootstrap, shoppers, settings.api_workers)

    env = demo_environment(settings, bootstrap=bootstrap, shoppers=shoppers)
    manager = Manager(Printer(sys.stdout))
    for name, command in processes.items():
        manager.add_process(name, command, env=env, cwd=str(PROJECT_ROOT))
    manager.loop()
    return int(manager.returncode or 0)
