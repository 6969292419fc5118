from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shoploop.demo import DemoSettings, demo_environment, demo_processes

PROCFILE = (Path(__file__).resolve().parents[3] / "Procfile").read_text()


def test_the_demo_runs_every_part_of_the_platform_with_the_embedded_broker() -> None:
    processes = demo_processes(PROCFILE, uses_embedded_broker=True, simulate=True)
    expected = {
        "broker",
        "collector",
        "sandbox",
        "api",
        "streams",
        "sink",
        "privacy",
        "dbt",
        "compactor",
        "recsys",
        "dashboard",
        "simulator",
    }
    assert set(processes) == expected


def test_the_embedded_broker_is_not_started_when_a_real_cluster_is_configured() -> None:
    processes = demo_processes(PROCFILE, uses_embedded_broker=False, simulate=True)
    assert "broker" not in processes
    assert "collector" in processes


def test_the_simulator_can_be_left_out() -> None:
    assert "simulator" not in demo_processes(PROCFILE, uses_embedded_broker=True, simulate=False)


def _api_command_as_the_shell_runs_it(environment: dict[str, str]) -> str:
    """honcho runs each Procfile line through the shell; `echo` shows the command after expansion."""
    command = demo_processes(PROCFILE, uses_embedded_broker=True, simulate=True)["api"]
    return subprocess.run(
        ["/bin/sh", "-c", f"echo {command}"], env=environment, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_demo_runs_the_order_core_in_two_worker_processes_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SHOPLOOP_DEMO_API_WORKERS", raising=False)
    environment = demo_environment(DemoSettings(), bootstrap="127.0.0.1:9092", shoppers=10)
    assert _api_command_as_the_shell_runs_it(environment).endswith("--workers 2")


def test_the_order_core_worker_count_of_the_demo_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPLOOP_DEMO_API_WORKERS", "3")
    environment = demo_environment(DemoSettings(), bootstrap="127.0.0.1:9092", shoppers=10)
    assert environment["SHOPLOOP_DEMO_API_WORKERS"] == "3"
    assert _api_command_as_the_shell_runs_it(environment).endswith("--workers 3")
