"""A shopper's own 注销 reaches the lake and the identity graph without an operator: `DELETE /v1/account` records an
erasure request in the order core's outbox, the relay puts it on the embedded broker, and `shoploop privacy worker`
(a real process) runs `forget` for her. A worker that fails half-way does not commit the request; the next one
runs it again."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from api.adapters.outbox_relay import relay_once
from ingestion.collector.identity import IdentityGraph, Sighting, anonymous, user
from ingestion.contract.event import TrackedEvent
from shoploop.kafka import KafkaSettings, Topics, ensure_topics
from tests.e2e.api.conftest import (  # noqa: F401  (fixtures)
    MiniProgram,
    Stack,
    merchant_key_path,
    shopper,
    stack,
)
from tests.support import databases
from tests.support.stack import log_tail, running, shoploop_command, wait_for
from warehouse.erasure import read_tombstones
from warehouse.lake import events_glob, write_events
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
REQUESTS = Topics.PRIVACY_ERASURE_REQUESTS


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """The order core on SQLite only (its erasure on PostgreSQL is tested in tests/e2e/api)."""
    with databases.database_url("sqlite", tmp_path, name="order_core") as url:
        yield url


def _viewed(message_id: str, *, person: str, device: str, user_id: str | None) -> TrackedEvent:
    return TrackedEvent(
        message_id=message_id,
        type="track",
        event="Product Viewed",
        person_id=person,
        anonymous_id=device,
        user_id=user_id,
        timestamp=AT,
        original_timestamp=AT,
        sent_at=None,
        received_at=AT,
        scene=1007,
        channel="share_single_chat",
        source="miniprogram",
        properties={"product_id": "85123A", "price": 26.85},
    )


def _people_in_lake(warehouse: WarehouseSettings) -> set[str]:
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select distinct person_id from read_parquet(?, hive_partitioning = true)",
            [events_glob(warehouse.events_dir)],
        ).fetchall()
    return {row[0] for row in rows}


async def _relay_the_outbox(core: Stack, kafka: KafkaSettings) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await relay_once(core.app.state.container.session_factory, producer)
    finally:
        await producer.stop()


async def _committed_and_end(kafka: KafkaSettings, group_id: str) -> tuple[int, int]:
    """The group's committed offsets and the topic's end offsets, summed over its partitions."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(REQUESTS.name, p)
            for p in sorted(consumer.partitions_for_topic(REQUESTS.name) or ())
        ]
        committed = [await consumer.committed(partition) for partition in partitions]
        ends = await consumer.end_offsets(partitions)
        return sum(offset or 0 for offset in committed), sum(ends.values())
    finally:
        await consumer.stop()


def test_a_shopper_who_closes_her_account_disappears_from_the_lake_and_the_identity_graph_without_an_operator(
    stack: Stack,  # noqa: F811
    shopper: MiniProgram,  # noqa: F811
    kafka_settings: KafkaSettings,
    tmp_path: Path,
) -> None:
    warehouse = WarehouseSettings(data_dir=tmp_path / "var")
    identity_url = f"sqlite:///{tmp_path / 'identity.db'}"
    graph = IdentityGraph.from_url(identity_url)
    # Xiaoming browsed on her phone, then logged in: the collector's userId is the order core's user_id.
    (xiaoming,) = graph.resolve(
        [Sighting(identities=(anonymous("phone-xm"), user(shopper.user_id)), links=True)]
    )
    (xiaohong,) = graph.resolve([Sighting(identities=(anonymous("phone-xh"),), links=True)])
    write_events(
        warehouse.events_dir,
        [
            _viewed("m-1", person=xiaoming, device="phone-xm", user_id=None),
            _viewed("m-2", person=xiaoming, device="phone-xm", user_id=shopper.user_id),
            _viewed("m-3", person=xiaohong, device="phone-xh", user_id=None),
        ],
    )
    assert _people_in_lake(warehouse) == {xiaoming, xiaohong}

    assert shopper.api.delete("/v1/account").status_code == 200
    ensure_topics(kafka_settings, (REQUESTS, Topics.ORDERS, Topics.PRIVACY_ERASURES))
    asyncio.run(_relay_the_outbox(stack, kafka_settings))

    group_id = f"privacy-worker-{uuid.uuid4().hex[:8]}"
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "SHOPLOOP_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "SHOPLOOP_KAFKA_DEFAULT_PARTITIONS": str(kafka_settings.default_partitions),
        "SHOPLOOP_WAREHOUSE_DATA_DIR": str(warehouse.data_dir),
        "SHOPLOOP_API_DATABASE_URL": stack.settings.database_url,
        "SHOPLOOP_RECSYS_REGISTRY_DIR": str(tmp_path / "recsys-models"),
        "SHOPLOOP_PRIVACY_WORKER_GROUP_ID": group_id,
        "SHOPLOOP_PRIVACY_WORKER_RETRY_S": "1",
    }
    # A first worker whose `forget` fails (its lake is not a directory): nothing erased, nothing committed.
    (tmp_path / "not-a-directory").write_text("")
    broken = {**environment, "SHOPLOOP_COLLECTOR_IDENTITY_DATABASE_URL": identity_url,
              "SHOPLOOP_WAREHOUSE_DATA_DIR": str(tmp_path / "not-a-directory")}  # fmt: skip
    first_log = tmp_path / "privacy-worker-broken.log"
    with running(shoploop_command("privacy", "worker"), log=first_log, env=broken):
        wait_for(
            lambda: "erasure_request_failed" in log_tail(first_log, 100_000),
            timeout_s=60,
            what="a failed forget",
        )
    assert _people_in_lake(warehouse) == {xiaoming, xiaohong}
    assert asyncio.run(_committed_and_end(kafka_settings, group_id))[0] == 0

    log = tmp_path / "privacy-worker.log"
    with running(
        shoploop_command("privacy", "worker"),
        log=log,
        env={**environment, "SHOPLOOP_COLLECTOR_IDENTITY_DATABASE_URL": identity_url},
    ) as worker:
        wait_for(
            lambda: _people_in_lake(warehouse) == {xiaohong} or worker.poll() is not None,
            timeout_s=90,
            what="her events gone from the lake",
        )
        assert worker.poll() is None, log_tail(log)
        committed, end = wait_for(
            lambda: (
                (found := asyncio.run(_committed_and_end(kafka_settings, group_id)))[0] == found[1] and found
            ),
            timeout_s=30,
            what="the request committed",
        )
    assert committed == end > 0
    graph_now = IdentityGraph.from_url(identity_url)  # not the cache of the graph the test wrote through
    assert graph_now.person_of(shopper.user_id) is None and graph_now.person_of("phone-xm") is None
    assert graph_now.person_of("phone-xh") == xiaohong
    assert any(shopper.user_id in tombstone.ids for tombstone in read_tombstones(warehouse.lake_dir))
    for worker_log in (first_log, log):  # the worker's logs do not name her
        assert shopper.user_id not in worker_log.read_text(errors="replace"), worker_log.name
