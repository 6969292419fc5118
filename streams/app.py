"""The streams composition root: builds the Faust app for one role and runs its worker.

Roles are separate consumer groups so that the sink keeps up however busy the stateful agents are.
"""

from __future__ import annotations

import gc
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import faust

from streams.settings import StreamsSettings

if TYPE_CHECKING:
    from streams.pushes.dispatch import SubscribeSender


class Role(StrEnum):
    # The warehouse sink: events and stream outputs into the lake.
    SINK = "sink"
    # The stateful real-time agents.
    STREAMS = "streams"


def create_app(settings: StreamsSettings, role: Role, *, sender: SubscribeSender | None = None) -> faust.App:
    app = faust.App(
        f"shoploop-{role.value}",
        broker=settings.kafka.faust_broker_url,
        store="memory://",
        topic_partitions=settings.kafka.default_partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        web_port=settings.web_port,
        # A worker that died is noticed within seconds, so a restarted one gets its partitions back quickly.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        # The stateful agents take batches of `agent_batch_size`: the stream buffer must hold a whole batch
        # (Faust's default, 4096, is smaller than the default batch), and fetches should be large.
        stream_buffer_maxsize=max(4096, 2 * settings.agent_batch_size),
        broker_max_poll_records=max(500, settings.agent_batch_size),
    )
    # Each role imports only its own agents: a process starts faster for every module it does not load.
    if role is Role.SINK:
        from streams.sink.agents import SinkFetch, register_sink

        register_sink(
            app,
            bootstrap_servers=settings.kafka.bootstrap_servers,
            fetch=SinkFetch(
                max_wait_ms=settings.sink_fetch_max_wait_ms,
                max_partition_fetch_bytes=settings.sink_max_partition_fetch_bytes,
                max_bytes=settings.sink_fetch_max_bytes,
            ),
            events_dir=settings.warehouse.events_dir,
            live_minutes_dir=settings.warehouse.live_minutes_dir,
            batch_size=settings.sink_batch_size,
            flush_s=settings.sink_flush_s,
        )
    elif role is Role.STREAMS:
        from streams.automations.rules import PushPolicy
        from streams.engine.agents import register_decisions
        from streams.pushes.agents import register_pushes
        from streams.pushes.recipients import OrderCoreRecipients

        register_decisions(
            app,
            bootstrap_servers=settings.kafka.bootstrap_servers,
            idle_partition_s=settings.idle_partition_s,
            batch_size=settings.agent_batch_size,
            flush_s=settings.agent_flush_s,
            policy=PushPolicy(daily_cap=settings.daily_push_cap, timezone=settings.shop_timezone),
            allowed_lateness=timedelta(seconds=settings.allowed_lateness_s),
        )
        register_pushes(
            app,
            sender=sender or _wechat_sender(settings),
            batch_size=settings.agent_batch_size,
            flush_s=settings.agent_flush_s,
            recipients=OrderCoreRecipients(
                settings.order_core_url, settings.order_core_token.get_secret_value()
            ),
        )
    return app


def _wechat_sender(settings: StreamsSettings) -> SubscribeSender:
    from api.wechat.client import WeChatClient

    return WeChatClient(
        base_url=settings.wechat_api_base_url,
        appid=settings.wechat_appid,
        app_secret=settings.wechat_app_secret.get_secret_value(),
        timeout_s=settings.wechat_timeout_s,
    )


def run_worker(settings: StreamsSettings, role: Role, *, loglevel: str = "warn") -> None:
    """Run one Faust worker in this process until it is stopped (Ctrl-C or SIGTERM)."""
    from shoploop.kafka import ensure_topics

    ensure_topics(settings.kafka)
    if role is Role.STREAMS:
        gc.set_threshold(settings.gc_young_threshold, 10, 10)
    app = create_app(settings, role)
    worker = faust.Worker(app, loglevel=loglevel, redirect_stdouts=False)
    worker.execute_from_commandline()
