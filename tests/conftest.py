"""Fixtures shared by every test: real local servers, started on free ports, never the demo's ports."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shoploop.broker import embedded_broker
from shoploop.kafka import KafkaSettings
from warehouse.publish import WarmDbt


@pytest.fixture(scope="session", autouse=True)
def identity_graph_of_this_test_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Collectors built in tests keep their identity graph in a temporary database, never in ./var."""
    database = tmp_path_factory.mktemp("identity") / "identity.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPLOOP_COLLECTOR_IDENTITY_DATABASE_URL", f"sqlite:///{database}")
        yield


@pytest.fixture(autouse=True)
def garbage_collection_as_python_sets_it() -> Iterator[None]:
    """A collector served in this process freezes the heap and collects 20,000 allocations apart (right for its
    own long-lived process, see ingestion/collector/app.py); after the test, garbage it froze is collectable again
    and the thresholds are Python's, so no test's leftovers (a producer in a traceback) outlive it for good."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A real Kafka-protocol broker (embedded Tansu, in memory) on a free port, for the whole session."""
    with embedded_broker() as bootstrap:
        yield bootstrap


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=kafka_bootstrap, default_partitions=2)


@pytest.fixture(scope="session")
def warm_dbt() -> WarmDbt:
    """dbt loaded once for the session, as the demo's builder keeps it: a build skips seconds of starting Python,
    importing dbt and parsing the project. tests/integration/warehouse/test_publish.py shows that such a build
    publishes what a fresh `dbt build` subprocess does; `make test` and the e2e tests still run the subprocess."""
    return WarmDbt()
