from __future__ import annotations

from pathlib import Path

from shoploop.demo import demo_processes

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
        "dbt",
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
