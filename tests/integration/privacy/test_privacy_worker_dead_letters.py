"""`shoploop privacy worker` on a real broker: a message on the requests topic that is not an erasure request lands
on the dead-letter topic with its reason and payload, the request after it is carried out, and a worker started
again in the same group runs neither a second time."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from api.service_layer.account_erasure import erasure_request
from shoploop.broker import embedded_broker
from shoploop.kafka import KafkaSettings, Topics
from shoploop.privacy import ErasureReport
from shoploop.privacy_worker import PrivacyWorkerSettings, run_worker

AT = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


async def _dead_letters_of(kafka: KafkaSettings, payload: bytes) -> list[dict[str, object]]:
    """The letters on the dead-letter topic whose original payload is `payload`."""
    topic = Topics.PRIVACY_ERASURE_REQUESTS_DEAD_LETTER.name
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # the cluster's metadata, with the topic's partitions
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        letters: list[dict[str, object]] = []
        for partition in partitions:
            while await consumer.position(partition) < ends[partition]:
                for messages in (await consumer.getmany(partition, timeout_ms=1000)).values():
                    letters += [orjson.loads(message.value or b"") for message in messages]
        return [letter for letter in letters if letter["payload"] == payload.decode()]
    finally:
        await consumer.stop()


async def _send(kafka: KafkaSettings, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for value in values:  # one key, so one partition keeps them in order
            await producer.send_and_wait(Topics.PRIVACY_ERASURE_REQUESTS.name, value, key=b"one-partition")
    finally:
        await producer.stop()


async def _run_until_forgotten(
    kafka: KafkaSettings, group_id: str, forgotten: list[str], user_id: str
) -> None:
    """A worker of `group_id`, until it has carried out `user_id`'s request."""

    def forget(erased_user_id: str) -> ErasureReport:
        forgotten.append(erased_user_id)
        return ErasureReport(person_id="p-1", ids=[erased_user_id], erased_at=AT)

    stop = asyncio.Event()
    settings = PrivacyWorkerSettings(group_id=group_id, retry_s=0.1)
    worker = asyncio.create_task(run_worker(settings, kafka, forget_one=forget, stop=stop))
    try:
        async with asyncio.timeout(60):
            while user_id not in forgotten:
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(worker, timeout=30)


@pytest.fixture
def kafka_settings() -> Iterator[KafkaSettings]:
    """A broker of this test's own: the requests topic of the session's broker is read from its start by other
    tests' workers (tests/integration/privacy/test_account_deletion_reaches_the_lake.py counts its offsets)."""
    with embedded_broker() as bootstrap:
        yield KafkaSettings(bootstrap_servers=bootstrap, default_partitions=2)


async def test_a_message_that_is_not_a_request_is_dead_lettered_and_the_request_after_it_runs_once(
    kafka_settings: KafkaSettings,
) -> None:
    run = uuid.uuid4().hex[:8]
    xiaoming, ming, group_id = f"u-xiaoming-{run}", f"u-ming-{run}", f"privacy-worker-{run}"
    not_a_request = orjson.dumps({"userId": xiaoming})  # a sender that spelt the field the Segment way
    await _send(kafka_settings, not_a_request, erasure_request(user_id=xiaoming, actor="shopper", now=AT))

    forgotten: list[str] = []
    await _run_until_forgotten(kafka_settings, group_id, forgotten, xiaoming)
    letters = await _dead_letters_of(kafka_settings, not_a_request)
    assert forgotten.count(xiaoming) == 1
    assert [letter["reason_code"] for letter in letters] == ["unreadable_erasure_request"]

    # Both offsets were committed: a worker of the group started again carries out only the request after them.
    await _send(kafka_settings, erasure_request(user_id=ming, actor="shopper", now=AT))
    await _run_until_forgotten(kafka_settings, group_id, forgotten, ming)
    letters = await _dead_letters_of(kafka_settings, not_a_request)
    assert (forgotten.count(xiaoming), forgotten.count(ming), len(letters)) == (1, 1, 1)
