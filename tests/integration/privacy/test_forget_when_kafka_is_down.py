"""`shoploop privacy forget` while Kafka is down cannot tell the streams: it says so (exit code 3 and a JSON
error with a code) after erasing what it can, and a re-run once Kafka is back tells them — once per run; the
streams apply an erasure twice as once."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition
from typer.testing import CliRunner

from ingestion.collector.identity import IdentityGraph, Sighting, anonymous, user
from shoploop.broker import embedded_broker
from shoploop.cli import app
from shoploop.kafka import Topics
from tests.support.stack import free_ports
from warehouse.erasure import read_tombstones

pytestmark = pytest.mark.integration


def _erasures(bootstrap: str) -> list[dict[str, object]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=1500)
    topic = Topics.PRIVACY_ERASURES.name
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    values = [orjson.loads(record.value) for record in consumer]
    consumer.close()
    return values


def test_forget_says_the_streams_were_not_told_while_kafka_is_down_and_a_rerun_tells_them(
    tmp_path: Path,
) -> None:
    (port,) = free_ports(1)
    database_url = f"sqlite:///{tmp_path / 'identity.db'}"
    IdentityGraph.from_url(database_url).resolve(
        [Sighting(identities=(anonymous("phone-lily"), user("u-lily")), links=True)]
    )
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
        "SHOPLOOP_COLLECTOR_IDENTITY_DATABASE_URL": database_url,
        "SHOPLOOP_WAREHOUSE_DATA_DIR": str(tmp_path),
    }
    runner = CliRunner()

    down = runner.invoke(app, ["privacy", "forget", "u-lily"], env=env)

    assert down.exit_code == 3, down.output
    error = json.loads(down.stderr.strip().splitlines()[-1])
    assert error["code"] == "streams_not_told"
    assert f"127.0.0.1:{port}" in error["message"] and "again" in error["message"]
    # What did not need Kafka is done: the lake's tombstone names her.
    assert any("u-lily" in tombstone.ids for tombstone in read_tombstones(tmp_path / "lake"))

    with embedded_broker(port=port) as bootstrap:
        again = runner.invoke(app, ["privacy", "forget", "u-lily"], env=env)

        assert again.exit_code == 0, again.output
        [erasure] = _erasures(bootstrap)
    # The graph had forgotten her in the first run: the re-run finds her ids in the tombstone.
    assert "phone-lily" in erasure["person_ids"]  # type: ignore[operator]
    assert erasure["ids"] == ["phone-lily", "u-lily"]
