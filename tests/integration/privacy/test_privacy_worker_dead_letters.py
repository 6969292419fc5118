"""`shoploop privacy worker` on a real broker: a message on the requests topic that is not an erasure request lands
on the dead-letter topic with its reason and payload, the request after it is carried out, and a worker started
again in the same group runs neither a second time."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from api.service_layer.account_erasure import erasure_request
from shoploop.kafka import KafkaSettings, Topics
from shoploop.privacy import ErasureReport
from shoploop.privacy_worker import PrivacyWorkerSettings, run_worker

AT = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
NOT_A_REQUEST = b'{"userId": "u-typo"}'


async def _dead_letters(kafka: KafkaSettings) -> list[dict[str, object]]:
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
        return letters
    finally:
        await consumer.stop()


async def _run_until(kafka: KafkaSettings, forgotten: list[str], *, expected: int, settle_s: float) -> None:
    """A worker until `forgotten` holds `expected` user ids, and `settle_s` longer (to see that nothing more comes)."""

    def forget(user_id: str) -> ErasureReport:
        forgotten.append(user_id)
        return ErasureReport(person_id="p-1", ids=[user_id], erased_at=AT)

    stop = asyncio.Event()
    settings = PrivacyWorkerSettings(group_id="privacy-worker-under-test", retry_s=0.1)
    worker = asyncio.create_task(run_worker(settings, kafka, forget_one=forget, stop=stop))
    try:
        async with asyncio.timeout(60):
            while len(forgotten) < expected:
                await asyncio.sleep(0.1)
        await asyncio.sleep(settle_s)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(worker, timeout=30)


async def test_a_message_that_is_not_a_request_is_dead_lettered_and_the_request_after_it_runs_once(
    kafka_settings: KafkaSettings,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        # One key, so one partition keeps the two in order: the bad message first.
        topic = Topics.PRIVACY_ERASURE_REQUESTS.name
        await producer.send_and_wait(topic, NOT_A_REQUEST, key=b"u-xiaoming")
        await producer.send_and_wait(
            topic, erasure_request(user_id="u-xiaoming", actor="shopper", now=AT), key=b"u-xiaoming"
        )
    finally:
        await producer.stop()

    forgotten: list[str] = []
    await _run_until(kafka_settings, forgotten, expected=1, settle_s=0.5)
    assert forgotten == ["u-xiaoming"]
    (letter,) = await _dead_letters(kafka_settings)
    assert letter["reason_code"] == "unreadable_erasure_request"
    assert letter["payload"] == NOT_A_REQUEST.decode()

    # Both offsets were committed: a worker started again finds nothing to do.
    await _run_until(kafka_settings, forgotten, expected=1, settle_s=5)
    assert forgotten == ["u-xiaoming"]
    assert len(await _dead_letters(kafka_settings)) == 1
