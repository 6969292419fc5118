"""A real streams stack for the tests here: a fresh embedded broker, the loopback WeChat sandbox, and the
`shoploop streams` worker as a subprocess (so it can be killed with SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from api.wechat import signing
from api.wechat.sandbox import create_sandbox_app
from shoploop.broker import embedded_broker
from shoploop.kafka import KafkaSettings, Topics, ensure_topics
from shoploop.serving import serving
from tests.support.stack import (
    shoploop_command,
    start_process,
    stop_process,
    streams_worker_environment,
    wait_for,
)

APPID, SECRET = "wxd0000000shoploop", "dev-app-secret-not-for-production"
PARTITIONS = 2


def track(
    person: str, at: datetime, event: str, n: int, openid: str | None = None, **properties: Any
) -> bytes:
    """One enriched event as the collector puts it on `shoploop.events`."""
    return orjson.dumps(
        {
            "message_id": f"{person}-{n}",
            "type": "track",
            "event": event,
            "person_id": person,
            "anonymous_id": person,
            "user_id": f"u-{person}",
            "timestamp": at.isoformat(),
            "scene": properties.get("scene"),
            "properties": properties,
            "traits": {},
            "context": {"wechat": {"openid": openid} if openid else {}, "device": {"id": f"device-{person}"}},
        }
    )


def paid(order_id: str, user_id: str, at: datetime, total_fen: int = 12_900) -> bytes:
    """An OrderPaid fact as the order core's outbox relays it to `shoploop.orders`."""
    return orjson.dumps(
        {
            "event_id": f"{order_id}-paid",
            "event": "OrderPaid",
            "order_id": order_id,
            "user_id": user_id,
            "total_fen": total_fen,
            "occurred_at": at.isoformat(),
        }
    )


class StreamsStack:
    def __init__(self, bootstrap: str, sandbox_url: str, log_dir: Path) -> None:
        self.bootstrap = bootstrap
        self.wechat = httpx.Client(base_url=sandbox_url)
        self.sandbox_url = sandbox_url
        self.log_dir = log_dir
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        self.workers: list[subprocess.Popen[bytes]] = []

    # -- WeChat, inside the phone ------------------------------------------------------------------------
    def log_in(self, person: str) -> str:
        """wx.login in the mini-program and code2Session on the server; the person's openid."""
        login = self.wechat.post("/sandbox/wx-login", json={"persona": person}).json()
        params = {
            "appid": APPID,
            "secret": SECRET,
            "js_code": login["code"],
            "grant_type": "authorization_code",
        }
        session = self.wechat.get("/sns/jscode2session", params=params).json()
        assert session["openid"] == login["openid"], session
        return str(login["openid"])

    def accept_subscribe(self, openid: str, template_id: str, times: int = 1) -> None:
        """The shopper tapped "allow" on wx.requestSubscribeMessage: WeChat's side of the quota."""
        answer = self.wechat.post(
            "/sandbox/subscribe/accept", json={"openid": openid, "template_id": template_id, "times": times}
        )
        answer.raise_for_status()

    def messages(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self.wechat.get("/sandbox/subscribe/messages").json()
        return answer

    # -- Kafka -------------------------------------------------------------------------------------------
    def publish_rule(self, rule: dict[str, Any]) -> None:
        self.send(Topics.AUTOMATION_RULES.name, rule["rule_id"], orjson.dumps(rule))

    def send(self, topic: str, key: str, value: bytes, partition: int | None = None) -> None:
        self.producer.send(topic, key=key.encode(), value=value, partition=partition)

    def tick(self, at: datetime, n: int) -> None:
        """An event on every partition at `at`, so event time moves everywhere."""
        for partition in range(PARTITIONS):
            person = f"tick{partition}"
            self.send(Topics.EVENTS.name, person, track(person, at, "Product Viewed", n), partition=partition)

    def flush(self) -> None:
        self.producer.flush()

    def read(self, topic: str) -> list[dict[str, Any]]:
        return [value for _, _, value in self.read_with_offsets(topic)]

    def read_with_offsets(self, topic: str) -> list[tuple[int, int, dict[str, Any]]]:
        """Every message on `topic` as (partition, offset, value)."""
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, consumer_timeout_ms=1000)
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        found = [(record.partition, record.offset, orjson.loads(record.value)) for record in consumer]
        consumer.close()
        return found

    def committed_offsets(self, group_id: str, topic: str) -> dict[int, int | None]:
        """The offsets `group_id` has committed on `topic`, by partition (None: nothing committed)."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=group_id, enable_auto_commit=False
        )
        try:
            return {p: consumer.committed(TopicPartition(topic, p)) for p in range(PARTITIONS)}
        finally:
            consumer.close()

    # -- the worker --------------------------------------------------------------------------------------
    def start_worker(self, **settings: str) -> subprocess.Popen[bytes]:
        """Start `shoploop streams`; `settings` override its SHOPLOOP_STREAMS_* environment."""
        env = streams_worker_environment(
            self.bootstrap,
            partitions=PARTITIONS,
            sandbox_url=self.sandbox_url,
            **{"agent_flush_s": "0.2", "allowed_lateness_s": "0", **settings},
        )
        log = self.log_dir / f"worker-{len(self.workers)}.log"
        worker = start_process(shoploop_command("streams", "--loglevel", "info"), log=log, env=env)
        self.workers.append(worker)
        return worker

    def kill_worker(self, worker: subprocess.Popen[bytes]) -> None:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)

    def worker_logs(self) -> str:
        return "".join(
            path.read_text(errors="replace")[-4000:] for path in sorted(self.log_dir.glob("*.log"))
        )

    def stop(self) -> None:
        for worker in self.workers:
            stop_process(worker)
        self.producer.close()
        self.wechat.close()


@pytest.fixture
def streams_stack(tmp_path: Path) -> Iterator[StreamsStack]:
    sandbox = create_sandbox_app(
        appid=APPID,
        app_secret=SECRET,
        mchid="1900000109",
        merchant_serial="DEV0",
        merchant_public_key_pem=signing.public_key_pem(signing.generate_private_key().public_key()),
        apiv3_key=b"0" * 32,
    )
    with embedded_broker() as bootstrap, serving(sandbox) as sandbox_url:
        ensure_topics(KafkaSettings(bootstrap_servers=bootstrap, default_partitions=PARTITIONS))
        stack = StreamsStack(bootstrap, sandbox_url, tmp_path)
        try:
            yield stack
        finally:
            stack.stop()


@pytest.fixture
def helpers() -> dict[str, Callable[..., Any]]:
    """The event builders and the poller, for the test modules (they may not import each other)."""
    return {"track": track, "paid": paid, "wait_for": partial(wait_for, timeout_s=45.0)}
