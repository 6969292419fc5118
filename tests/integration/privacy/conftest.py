"""`privacy forget` reaches the recommender's registry and the order core's database from their settings: in
these tests both are temporary (an empty registry, no order database) unless a test passes its own. Kafka too:
a test that does not pass its broker must not put an erasure on whatever listens on the default port (a demo)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def recommender_and_order_core_of_this_test(tmp_path: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPLOOP_RECSYS_REGISTRY_DIR", str(tmp_path / "recsys-models"))
        patch.setenv("SHOPLOOP_API_DATABASE_URL", f"sqlite:///{tmp_path / 'no-order-core' / 'shoploop.db'}")
        patch.setenv("SHOPLOOP_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")  # discard: refused at once
        yield
