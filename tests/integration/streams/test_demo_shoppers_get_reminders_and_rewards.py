"""The demo's loop in small, every link real: simulated shoppers → collector → broker → streams worker → the
WeChat sandbox, and the order core's verified payments → attributions → reward coupons in its database.

As in `make demo`: the order core seeds the demo's rules through its rule service (published through its
outbox, cart reminder after `CART_DELAY_S` here instead of 120 s), the simulator shops through the order core
and the sandbox, and the streams worker runs as `shoploop streams`. Fails when shoppers do not log in before
their cart reminders fall due, when their consent is not in the sandbox, when the worker does not send, or
when a friend's paid order through a share earns no coupons.
"""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from kafka import KafkaConsumer, TopicPartition

from api.demo_seed import seed_demo
from api.seed import seed_catalogue_if_empty
from api.settings import ApiSettings
from ingestion.collector.app import create_app as create_collector
from ingestion.collector.settings import CollectorSettings
from ingestion.simulator.runner import run as run_simulator
from ingestion.simulator.settings import SimulatorSettings
from recsys.settings import RecsysSettings
from shoploop.broker import embedded_broker
from shoploop.kafka import KafkaSettings, Topics, ensure_topics
from shoploop.serving import serving
from streams.automations.demo import CART_TEMPLATE
from tests.support.stack import log_tail, order_core_and_sandbox, streams_worker, wait_for, write_merchant_key

pytestmark = pytest.mark.integration

PARTITIONS = 2
CART_DELAY_S = 10
ALLOWED_LATENESS_S = 2.0
WRITE_KEY = "sl_demo_loop_key"


@dataclass
class DemoLoop:
    bootstrap: str
    sandbox_url: str
    database: Path
    collector_url: str
    worker_log: Path

    def sandbox_messages(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = httpx.get(f"{self.sandbox_url}/sandbox/subscribe/messages").json()
        return answer

    def read(self, topic: str) -> list[tuple[int, dict[str, Any]]]:
        """(Kafka timestamp ms, value) of every record on `topic`."""
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, consumer_timeout_ms=1000)
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records = [(record.timestamp, orjson.loads(record.value)) for record in consumer]
        consumer.close()
        return records

    def reward_coupons(self) -> list[tuple[str, str, str]]:
        """(user id, campaign id, source) of the coupons the order core granted for the streams' rewards."""
        with sqlite3.connect(self.database) as connection:
            rows = connection.execute(
                "select user_id, campaign_id, source from coupons where claim_ref like 'reward:%'"
            ).fetchall()
        return [(str(user), str(campaign), str(source)) for user, campaign, source in rows]


def _seed_the_demo(app: FastAPI) -> None:
    """The demo's catalogue and its rules, the cart reminder due `CART_DELAY_S` after the last change."""
    container = app.state.container
    assert seed_catalogue_if_empty(container.uow(), now=datetime.now(UTC), limit=30) == 30
    seed_demo(container.uow, now=datetime.now(UTC), cart_delay_s=CART_DELAY_S)


@pytest.fixture(scope="module")
def demo_loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoLoop]:
    """The stack runs while the simulator shops, until reminders and rewards arrived (or 4 minutes passed)."""
    tmp_path = tmp_path_factory.mktemp("demo-loop")
    merchant_key_path = tmp_path / "merchant-key.pem"
    merchant_key = write_merchant_key(merchant_key_path)
    database = tmp_path / "shoploop.db"
    with embedded_broker() as bootstrap:
        kafka = KafkaSettings(bootstrap_servers=bootstrap, default_partitions=PARTITIONS)
        ensure_topics(kafka)
        settings = ApiSettings(
            environment="development",
            database_url=f"sqlite:///{database}",
            wechat_pay_private_key_path=merchant_key_path,
            outbox_poll_interval_s=0.2,
            auto_close_interval_s=0,
            notification_interval_s=0,
            kafka=kafka,
            recsys=RecsysSettings(registry_dir=tmp_path / "recsys-models", num_threads=1),
            recommender_reload_s=0,
        )
        collector = create_collector(
            CollectorSettings(
                write_keys={"miniprogram": WRITE_KEY},
                identity_database_url=f"sqlite:///{tmp_path / 'identity.db'}",
                kafka=kafka,
            )
        )
        worker_log = tmp_path / "streams.log"
        with (
            serving(collector) as collector_url,
            order_core_and_sandbox(
                settings,
                merchant_key,
                sandbox_options={"retry_schedule_s": (0.2, 0.2, 0.5)},
                prepare=_seed_the_demo,
            ) as core,
            streams_worker(
                bootstrap,
                partitions=PARTITIONS,
                sandbox_url=core.sandbox_url,
                log=worker_log,
                order_core_url=core.api_url,
                allowed_lateness_s=str(ALLOWED_LATENESS_S),
                agent_flush_s="0.5",
            ) as worker,
        ):
            loop = DemoLoop(bootstrap, core.sandbox_url, database, collector_url, worker_log)
            stop = threading.Event()
            simulator = threading.Thread(
                target=run_simulator,
                kwargs={
                    "settings": SimulatorSettings(
                        collector_url=collector_url,
                        write_key=WRITE_KEY,
                        api_url=core.api_url,
                        sandbox_url=core.sandbox_url,
                        shoppers=25,
                        seed=5,
                        mean_think_s=1.5,
                        arrival_ramp_s=2,
                        mean_next_shopper_gap_s=1,
                        friend_delay_min_s=2,
                        friend_delay_max_s=10,
                        return_delay_min_s=60,
                        return_delay_max_s=120,
                        flush_interval_s=0.2,
                        refund_share=0,
                        order_core_wait_s=10,
                    ),
                    "stop": stop,
                },
                daemon=True,
            )
            try:
                wait_for(lambda: _has_started(worker, worker_log), timeout_s=60, every_s=0.2)
                simulator.start()
                # Event time moves only with events: the shoppers keep shopping while reminders fall due.
                wait_for(lambda: _has_reminders_and_rewards(worker, loop), timeout_s=240, every_s=0.5)
                stop.set()
                simulator.join(timeout=30)
                time.sleep(3)  # pushes and grants already under way land
                yield loop
            finally:
                stop.set()
                simulator.join(timeout=30)


def _has_started(worker: subprocess.Popen[bytes], log_path: Path) -> bool:
    if worker.poll() is not None:
        raise AssertionError(log_tail(log_path))
    return b"decisions_reading" in log_path.read_bytes()


def _has_reminders_and_rewards(worker: subprocess.Popen[bytes], loop: DemoLoop) -> bool:
    if worker.poll() is not None:
        raise AssertionError(log_tail(loop.worker_log))
    reminders = [m for m in loop.sandbox_messages() if m["template_id"] == CART_TEMPLATE]
    return len(reminders) >= 3 and len(loop.reward_coupons()) >= 2


def test_abandoned_carts_become_subscribe_messages_in_the_sandbox_a_demo_sized_delay_later(
    demo_loop: DemoLoop,
) -> None:
    reminders = [m for m in demo_loop.sandbox_messages() if m["template_id"] == CART_TEMPLATE]
    sent = {
        value["trigger_id"]: (at_ms, value)
        for at_ms, value in demo_loop.read(Topics.PUSHES.name)
        if value.get("status") == "sent" and value["rule_id"] == "demo-abandoned-cart"
    }
    triggers = {value["trigger_id"]: value for _, value in demo_loop.read(Topics.TRIGGERS.name)}

    assert len(reminders) >= 3, demo_loop.worker_log.read_text(errors="replace")[-3000:]
    assert len(sent) == len(reminders)
    for message in reminders:
        push_id = message["page"].split("push_id=")[1]
        at_ms, push = sent[push_id]
        trigger = triggers[push_id]
        assert message["touser"].startswith("o"), "a pseudonym is never a recipient"
        assert trigger["user_id"], "only a shopper who logged in can be reminded"
        last_cart_change = datetime.fromisoformat(trigger["episode"])
        due_at = datetime.fromisoformat(push["due_at"])
        assert (due_at - last_cart_change).total_seconds() == CART_DELAY_S
        sent_at = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
        assert 0 <= (sent_at - due_at).total_seconds() < ALLOWED_LATENESS_S + 20


def test_most_reminders_that_fire_reach_wechat_because_shoppers_log_in_before_they_fill_a_cart(
    demo_loop: DemoLoop,
) -> None:
    results = [value for _, value in demo_loop.read(Topics.PUSHES.name) if value.get("status")]
    no_openid = [value for value in results if value.get("reason") == "no_openid"]
    assert results and not no_openid


def test_a_friends_paid_order_through_a_share_earns_both_of_them_a_reward_coupon(demo_loop: DemoLoop) -> None:
    attributions = [value for _, value in demo_loop.read(Topics.ATTRIBUTIONS.name)]
    rewarded = [a for a in attributions if a["reward_blocked_reason"] is None and a["is_first_order"]]
    coupons = demo_loop.reward_coupons()

    assert rewarded, attributions
    holders = set(coupons)
    for attribution in rewarded:
        assert (attribution["sharer_user_id"], "share-5-yuan", "referral_sharer") in holders
        assert (attribution["buyer_user_id"], "share-5-yuan", "referral_friend") in holders
    assert not [a for a in attributions if a["reward_blocked_reason"] == "sharer_not_logged_in"]
