"""`shoploop privacy forget` reaches the real streams worker on the embedded broker: forgotten while her cart
reminder is pending, Lily gets no reminder (Ming, who left his cart at the same moment, does); her events that
were still on Kafka do not bring her back; and a worker killed and restarted after the erasure restores nothing of
hers from its changelogs, while it still knows Ming and the share tree he entered through."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from ingestion.collector.identity import IdentityGraph, Sighting, anonymous, user
from ingestion.collector.settings import CollectorSettings
from shoploop.kafka import KafkaSettings, Topics
from shoploop.privacy import forget
from tests.integration.streams.conftest import helpers, streams_stack  # noqa: F401  (fixtures)
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration

MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, outside quiet hours
CART_RULE = {
    "rule_id": "cart-30s",
    "version": 1,
    "kind": "abandoned_cart",
    "delay_s": 30,
    "holdout_share": 0,
    "template_id": "TPL_CART",
    "template_data": {"thing1": "{product_name}"},
    "page": "pages/cart/index",
}
# The decisions task's tables (Faust changelog topics of the `shoploop-streams` app), except the shop row.
STATE_TABLES = ("person-pages", "entry-pages", "shares", "index", "pending")


def _table_as_restored(bootstrap: str, table: str) -> dict[bytes, bytes]:
    """A changelog read to its end, the newest value per key: what a restarted worker recovers."""
    topic = f"shoploop-streams-streams-{table}-changelog"
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=1500)
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    rows: dict[bytes, bytes] = {}
    if partitions:
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        for record in consumer:
            if record.value is None:
                rows.pop(record.key, None)
            else:
                rows[record.key] = record.value
    consumer.close()
    return rows


def _rows_naming(bootstrap: str, needle: bytes) -> dict[str, int]:
    found: dict[str, int] = defaultdict(int)
    for table in STATE_TABLES:
        for key, value in _table_as_restored(bootstrap, table).items():
            if needle in key or needle in value:
                found[table] += 1
    return dict(found)


def test_a_shopper_forgotten_while_her_cart_reminder_is_pending_gets_none_and_a_restart_does_not_bring_her_back(
    streams_stack: Any,  # noqa: F811
    helpers: dict[str, Callable[..., Any]],  # noqa: F811
    tmp_path: Path,
) -> None:
    track, wait_for = helpers["track"], helpers["wait_for"]
    stack = streams_stack
    collector = CollectorSettings(identity_database_url=f"sqlite:///{tmp_path / 'identity.db'}")
    graph = IdentityGraph.from_url(collector.identity_database_url)
    (lily,) = graph.resolve([Sighting(identities=(anonymous("lily"), user("u-lily")), links=True)])
    assert lily == "lily"
    openids = {}
    for person in ("lily", "ming"):
        openids[person] = stack.log_in(person)
        stack.accept_subscribe(openids[person], "TPL_CART")
    stack.publish_rule(CART_RULE)
    added = {"product_id": "p-teapot", "name": "白瓷茶壶", "quantity": 1}
    for person in ("lily", "ming"):
        openid = openids[person]
        stack.send(Topics.EVENTS.name, person, track(person, MORNING, "Subscribe Message Consent", 1, openid,
                                                     results={"TPL_CART": "accept"}))  # fmt: skip
        stack.send(Topics.EVENTS.name, person, track(person, MORNING, "Product Added", 2, openid, **added))
    # Lily shares the teapot; Ming comes in through her share.
    stack.send(Topics.EVENTS.name, "lily", track("lily", MORNING, "Product Shared", 3, product_id="p-teapot",
                                                 share_id="sh-teapot", share_depth=1))  # fmt: skip
    stack.send(Topics.EVENTS.name, "ming", track("ming", MORNING + timedelta(seconds=1), "Mini Program Launched",
                                                 3, scene=1007, share_id="sh-teapot"))  # fmt: skip
    stack.tick(MORNING + timedelta(seconds=5), 1)  # both carts applied; the reminders are due at 30 s
    stack.flush()
    first = stack.start_worker()
    try:
        wait_for(lambda: stack.read(Topics.SHARES.name))  # the worker has applied the first events

        report = forget(
            "u-lily",
            collector=collector,
            warehouse=WarehouseSettings(data_dir=tmp_path),
            kafka=KafkaSettings(bootstrap_servers=stack.bootstrap),
        )
        assert report.streams_not_told is None
        # An event of hers that was still on Kafka, read after the erasure.
        stack.send(Topics.EVENTS.name, "lily", track("lily", MORNING + timedelta(seconds=6), "Product Added", 4,
                                                     openids["lily"], **added))  # fmt: skip
        stack.tick(MORNING + timedelta(seconds=10), 2)
        stack.flush()
        log = tmp_path / "worker-0.log"
        wait_for(lambda: b"streams_erasure_applied" in log.read_bytes())
        time.sleep(1.0)  # the checkpoint of the erasure's batch (or not: a crash before it reads it again)
        stack.kill_worker(first)

        stack.tick(MORNING + timedelta(minutes=2), 3)  # every reminder falls due
        stack.flush()
        stack.start_worker()
        sent = wait_for(stack.messages)
        time.sleep(3)  # anything else the worker would decide
        triggers = stack.read(Topics.TRIGGERS.name)
        restored_log = (tmp_path / "worker-1.log").read_text(errors="replace")
    except AssertionError:
        print(stack.worker_logs())
        raise

    assert [m["touser"] for m in stack.messages()] == [openids["ming"]] == [m["touser"] for m in sent]
    assert [t["person_id"] for t in triggers] == ["ming"]
    # The restarted worker restored Ming and the two tick shoppers, not Lily.
    assert "persons=3" in restored_log.split("decisions_restored", 1)[1].splitlines()[0]
    assert _rows_naming(stack.bootstrap, b"lily") == {}
    # Ming's share tree is whole: Lily's share is still there (naming no one), and so is his touch of it.
    assert _rows_naming(stack.bootstrap, b"sh-teapot")["shares"] == 1
    assert _rows_naming(stack.bootstrap, b"ming")["person-pages"] >= 1
