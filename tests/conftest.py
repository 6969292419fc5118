"""Fixtures shared by every test: real local servers, started on free ports, never the demo's ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shoploop.broker import embedded_broker
from shoploop.kafka import KafkaSettings


@pytest.fixture(scope="session", autouse=True)
def identity_graph_of_this_test_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Collectors built in tests keep their identity graph in a temporary database, never in ./var."""
    database = tmp_path_factory.mktemp("identity") / "identity.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPLOOP_COLLECTOR_IDENTITY_DATABASE_URL", f"sqlite:///{database}")
        yield


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A real Kafka-protocol broker (embedded Tansu, in memory) on a free port, for the whole session."""
    with embedded_broker() as bootstrap:
        yield bootstrap


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=kafka_bootstrap, default_partitions=2)
