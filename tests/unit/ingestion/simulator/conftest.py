"""The bundled catalogue and one seeded simulation, shared by the simulator's unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ingestion.simulator.catalogue import Catalogue, load_catalogue
from ingestion.simulator.shoppers import simulate_journeys

START = datetime(2024, 6, 1, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def journeys(catalogue: Catalogue) -> list[dict[str, Any]]:
    return simulate_journeys(catalogue, shoppers=300, seed=7, start=START)
