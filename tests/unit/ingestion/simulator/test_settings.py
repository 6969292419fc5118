"""Simulator settings come from SHOPLOOP_SIMULATOR_* variables and feed the behaviour model's pacing."""

from __future__ import annotations

import pytest

from ingestion.simulator.settings import SimulatorSettings


def test_settings_are_read_from_the_simulator_environment_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPLOOP_SIMULATOR_SHOPPERS", "42")
    monkeypatch.setenv("SHOPLOOP_SIMULATOR_COLLECTOR_URL", "http://127.0.0.1:18000/")
    monkeypatch.setenv("SHOPLOOP_SIMULATOR_MEAN_THINK_S", "4.5")
    settings = SimulatorSettings()
    assert settings.shoppers == 42
    assert settings.batch_url == "http://127.0.0.1:18000/v1/batch"
    assert settings.pacing().mean_think_s == 4.5


def test_the_defaults_run_a_few_hundred_shoppers_against_the_local_collector() -> None:
    settings = SimulatorSettings()
    assert settings.collector_url == "http://127.0.0.1:8000"
    assert settings.write_key == "sl_demo_miniprogram_key"
    assert (settings.shoppers, settings.seed, settings.duration_s) == (300, None, None)
    assert settings.max_batch_messages == 100 and settings.flush_interval_s == 0.5


def test_a_batch_may_not_hold_more_than_a_hundred_messages() -> None:
    with pytest.raises(ValueError, match="100"):
        SimulatorSettings(max_batch_messages=500)
