"""Streams benchmark: the full stateful `shoploop streams` worker on the embedded broker, beside the raw
aiokafka consume rate of the same topic as its ceiling; the same worker against the polars batch computation
on a >100k-event simulator log; and trigger lateness in live mode.

    .venv/bin/python bench/streams.py [--events 100000] [--partitions 4] [--compare 4000] [--live-carts 400]

What it does, all on this machine:
1. starts a fresh embedded broker (Tansu, memory) on a free port and the loopback WeChat sandbox;
2. produces a replay log of shoppers (views, carts, consents, shares, entries through shares) to
   `shoploop.events` and verified payments to `shoploop.orders`, with event times 5 ms apart;
3. ceiling: a plain aiokafka consumer reads the events topic from the start and parses every value;
4. replay: starts the real worker (`shoploop streams`: decisions with every table and the live metrics,
   pushes) with an abandoned-cart rule and a share reward published; the clock runs from the worker's
   "Ready" until the sentinel trigger — due only once every partition has been read to its end — is on the
   triggers topic; the worker's `decisions_throughput` log lines show where the time went;
5. `--compare N`: on a fresh broker, the simulator's log of N shoppers (4000 → ~108k inputs) through the
   worker; its reminders and attributions against `streams.engine.batch` (polars) — they must be identical;
6. live mode (`--live-carts N`, 0 skips it): a fresh broker and worker (allowed lateness `--live-lateness`,
   flush `--live-flush`); events stamped with the wall clock (ticks on every partition every 100 ms), N
   shoppers leave a cart over ~20 s, reminders due 3 s later; lateness = the push record's Kafka timestamp
   (WeChat has answered) − the trigger's due time, p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from api.wechat import signing
from api.wechat.sandbox import create_sandbox_app
from shoploop.broker import embedded_broker
from shoploop.kafka import KafkaSettings, Topics, ensure_topics
from shoploop.processes import stop_process
from shoploop.serving import serving

APPID, SECRET = "wxd0000000shoploop", "dev-app-secret-not-for-production"
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CART_DELAY_S = 600
CART_RULE = {
    "rule_id": "bench-cart",
    "version": 1,
    "kind": "abandoned_cart",
    "delay_s": CART_DELAY_S,
    "cooldown_s": 0,
    "template_id": "TPL_CART",
    "template_data": {"thing1": "{product_name}"},
    "page": "pages/cart/index",
}
LIVE_DELAY_S = 3
# Live mode: no quiet hours (the bench may run at any hour), no holdout, so every reminder is a send.
LIVE_RULE = {**CART_RULE, "rule_id": "bench-live-cart", "delay_s": LIVE_DELAY_S, "holdout_share": 0.0,
             "quiet_start": "00:00:00", "quiet_end": "00:00:00"}  # fmt: skip
SHARE_REWARD = {
    "rule_id": "bench-share",
    "version": 1,
    "kind": "referral_reward",
    "sharer_campaign_id": "share-5-yuan",
    "friend_campaign_id": "share-5-yuan",
}


def _event(person: str, n: int, at: datetime, event: str, openid: str | None, **properties: Any) -> bytes:
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
            "context": {"wechat": {"openid": openid} if openid else {}, "device": {"id": f"d-{person}"}},
        }
    )


def shopper_log(
    count: int, *, start: datetime, step: timedelta, persons: int, openids: dict[str, str] | None = None
) -> list[tuple[str, str, bytes]]:
    """(topic, key, value) for `count` events of `persons` shoppers, event times `step` apart."""
    rng = random.Random(7)
    log: list[tuple[str, str, bytes]] = []
    counters: dict[str, int] = {}
    shares: list[str] = []
    for i in range(count):
        at = start + i * step
        person = f"p{rng.randrange(persons):06d}"
        n = counters[person] = counters.get(person, 0) + 1
        openid = (openids or {}).get(person, f"o-{person}")
        roll = rng.random()
        product = f"prod-{rng.randrange(500)}"
        if roll < 0.45:
            value = _event(person, n, at, "Product Viewed", openid, product_id=product)
        elif roll < 0.65:
            value = _event(
                person, n, at, "Product Added", openid, product_id=product, name="白瓷茶壶", quantity=1
            )
        elif roll < 0.72:
            value = _event(person, n, at, "Product Removed", openid, product_id=product)
        elif roll < 0.82:
            results = {"TPL_CART": "accept"}
            value = _event(person, n, at, "Subscribe Message Consent", openid, results=results)
        elif roll < 0.87:
            share_id = f"sh-{person}-{n}"
            shares.append(share_id)
            value = _event(person, n, at, "Product Shared", openid, product_id=product, share_id=share_id)
        elif roll < 0.93 and shares:
            share_id = rng.choice(shares)
            value = _event(person, n, at, "Mini Program Launched", openid, scene=1007, share_id=share_id)
        elif roll < 0.97:
            order_id = f"SL-{i}"
            paid = {"event_id": f"{order_id}-paid", "event": "OrderPaid", "order_id": order_id,
                    "user_id": f"u-{person}", "total_fen": 8_800, "occurred_at": at.isoformat()}  # fmt: skip
            log.append((Topics.ORDERS.name, order_id, orjson.dumps(paid)))
            continue
        else:
            value = _event(person, n, at, "Mini Program Launched", openid, scene=1001)
        log.append((Topics.EVENTS.name, person, value))
    return log


async def _produce(bootstrap: str, log: list[tuple[str, str, bytes]], partitions: int | None = None) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=256_000)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key.encode()) for topic, key, value in log]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _tick_every_partition(bootstrap: str, at: datetime, partitions: int, tag: str) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for partition in range(partitions):
            person = f"tick-{tag}-{partition}"
            value = _event(person, 1, at, "Product Viewed", None, product_id="p")
            await producer.send_and_wait(Topics.EVENTS.name, value, key=person.encode(), partition=partition)
    finally:
        await producer.stop()


async def raw_consume_rate(bootstrap: str, expected: int) -> float:
    """The ceiling: aiokafka reading the events topic from the start and parsing every value."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        Topics.EVENTS.name,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen, started = 0, time.perf_counter()
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batches.values():
                for record in records:
                    orjson.loads(record.value)
                seen += len(records)
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def _wait_for_trigger(bootstrap: str, person_id: str, timeout_s: float) -> tuple[float, float]:
    """Tail the triggers topic until `person_id` has one: when it was seen here (perf_counter) and when the
    worker produced it (the record's timestamp, epoch seconds)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        Topics.TRIGGERS.name, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    if orjson.loads(record.value)["person_id"] == person_id:
                        return time.perf_counter(), record.timestamp / 1000
        raise TimeoutError(f"no trigger for {person_id} within {timeout_s:.0f}s")
    finally:
        await consumer.stop()


def _publish_rules(bootstrap: str, *rules: dict[str, Any]) -> None:
    asyncio.run(
        _produce(bootstrap, [(Topics.AUTOMATION_RULES.name, r["rule_id"], orjson.dumps(r)) for r in rules])
    )


def _start_worker(
    bootstrap: str, partitions: int, sandbox_url: str, log_path: Path, profile: Path | None = None, **env: str
) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SHOPLOOP_KAFKA_DEFAULT_PARTITIONS": str(partitions),
        "SHOPLOOP_STREAMS_WECHAT_API_BASE_URL": sandbox_url,
        **env,
    }
    command = [str(Path(sys.executable).parent / "shoploop"), "streams", "--loglevel", "info"]
    if profile is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), *command]
    return subprocess.Popen(
        command,
        env=environment,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _wait_for_ready(log_path: Path, timeout_s: float = 60.0) -> float:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if "[^Worker]: Ready" in log_path.read_text(errors="replace"):
            return time.perf_counter()
        time.sleep(0.02)
    raise TimeoutError("the worker did not get ready")


def _sandbox() -> Any:
    return create_sandbox_app(
        appid=APPID,
        app_secret=SECRET,
        mchid="1900000109",
        merchant_serial="DEV0",
        merchant_public_key_pem=signing.public_key_pem(signing.generate_private_key().public_key()),
        apiv3_key=b"0" * 32,
    )


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def replay(events: int, partitions: int, workdir: Path, profile: Path | None = None) -> dict[str, float]:
    step = timedelta(milliseconds=5)
    log = shopper_log(events, start=START, step=step, persons=max(events // 20, 100))
    end = START + events * step
    sentinel = [
        (Topics.EVENTS.name, "sentinel", _event("sentinel", 1, end, "Subscribe Message Consent", "o-sentinel",
                                                results={"TPL_CART": "accept"})),
        (Topics.EVENTS.name, "sentinel", _event("sentinel", 2, end, "Product Added", "o-sentinel",
                                                product_id="p", name="哨兵")),
    ]  # fmt: skip
    on_events = sum(1 for topic, _, _ in log if topic == Topics.EVENTS.name) + len(sentinel) + partitions
    with embedded_broker() as bootstrap, serving(_sandbox()) as sandbox_url:
        ensure_topics(KafkaSettings(bootstrap_servers=bootstrap, default_partitions=partitions))
        _publish_rules(bootstrap, CART_RULE, SHARE_REWARD)
        asyncio.run(_produce(bootstrap, log + sentinel))
        asyncio.run(
            _tick_every_partition(bootstrap, end + timedelta(seconds=CART_DELAY_S + 60), partitions, "end")
        )
        _say(f"produced {len(log):,} inputs")
        ceiling = asyncio.run(raw_consume_rate(bootstrap, on_events))
        _say(f"ceiling {ceiling:,.0f}/s")
        log_path = workdir / "replay-worker.log"
        worker = _start_worker(bootstrap, partitions, sandbox_url, log_path, profile)
        try:
            ready = _wait_for_ready(log_path)
            ready_epoch = time.time()
            _say("worker ready")
            done, produced_epoch = asyncio.run(_wait_for_trigger(bootstrap, "sentinel", timeout_s=600))
        finally:
            stop_process(worker, grace_s=20)
            for line in log_path.read_text(errors="replace").splitlines():
                if "decisions_" in line or "Worker]: Ready" in line:
                    _say(line.strip()[-220:])
    inputs = len(log) + len(sentinel) + partitions
    # "seconds" ends when this process saw the sentinel trigger; this process also serves the sandbox the
    # worker's pushes go to, so that can lag. "produced_s" ends when the worker produced it.
    produced_s = produced_epoch - ready_epoch
    return {"inputs": inputs, "events_topic": on_events, "seconds": done - ready,
            "inputs_per_s": inputs / (done - ready), "ceiling_per_s": ceiling,
            "produced_s": produced_s, "produced_per_s": inputs / produced_s}  # fmt: skip


async def _live_traffic(
    bootstrap: str, partitions: int, openids: dict[str, str], *, carts_per_s: float, tail_s: float
) -> None:
    """Events stamped with the wall clock: a tick on every partition every 100 ms (so event time moves as
    it does in a running shop), and shoppers who accept the prompt and leave a cart, `carts_per_s`."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        waiting = list(openids.items())
        started, n, due = time.perf_counter(), 0, 0.0
        while waiting or time.perf_counter() - started < due + tail_s:
            now, n = datetime.now(UTC), n + 1
            for partition in range(partitions):
                person = f"live-tick-{partition}"
                tick = _event(person, n, now, "Product Viewed", None, product_id="p")
                await producer.send(Topics.EVENTS.name, tick, key=person.encode(), partition=partition)
            for _ in range(int(n * 0.1 * carts_per_s) - int((n - 1) * 0.1 * carts_per_s)):
                if waiting:
                    person, openid = waiting.pop()
                    consent = _event(person, 1, now, "Subscribe Message Consent", openid,
                                     results={"TPL_CART": "accept"})  # fmt: skip
                    cart = _event(person, 2, now, "Product Added", openid, product_id="p", name="白瓷茶壶")
                    await producer.send(Topics.EVENTS.name, consent, key=person.encode())
                    await producer.send(Topics.EVENTS.name, cart, key=person.encode())
                    due = time.perf_counter() - started
            await asyncio.sleep(max(0.0, started + n * 0.1 - time.perf_counter()))
        await producer.flush()
    finally:
        await producer.stop()


async def _send_lateness(bootstrap: str) -> list[float]:
    """Send time (the push record's Kafka timestamp, when WeChat had answered) − due time, in seconds."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(Topics.PUSHES.name, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        lateness: list[float] = []
        while True:
            batches = await consumer.getmany(timeout_ms=2000)
            if not batches:
                return lateness
            for records in batches.values():
                for record in records:
                    push = orjson.loads(record.value)
                    if push.get("status") in ("sent", "failed") and push.get("due_at"):
                        due = datetime.fromisoformat(push["due_at"]).timestamp()
                        lateness.append(record.timestamp / 1000 - due)
    finally:
        await consumer.stop()


def live(
    shoppers: int, partitions: int, workdir: Path, *, lateness_s: float, flush_s: float
) -> dict[str, Any]:
    """Live mode: event time is the wall clock; how late after its due time each reminder is sent."""
    import httpx

    with embedded_broker() as bootstrap, serving(_sandbox()) as sandbox_url:
        ensure_topics(KafkaSettings(bootstrap_servers=bootstrap, default_partitions=partitions))
        openids: dict[str, str] = {}
        with httpx.Client(base_url=sandbox_url) as wechat:
            for n in range(shoppers):
                person = f"live{n:04d}"
                login = wechat.post("/sandbox/wx-login", json={"persona": person}).json()
                params = {"appid": APPID, "secret": SECRET, "js_code": login["code"],
                          "grant_type": "authorization_code"}  # fmt: skip
                wechat.get("/sns/jscode2session", params=params).raise_for_status()
                wechat.post(
                    "/sandbox/subscribe/accept", json={"openid": login["openid"], "template_id": "TPL_CART"}
                )
                openids[person] = login["openid"]
        _publish_rules(bootstrap, LIVE_RULE)
        log_path = workdir / "live-worker.log"
        worker = _start_worker(bootstrap, partitions, sandbox_url, log_path, None,
                               SHOPLOOP_STREAMS_ALLOWED_LATENESS_S=str(lateness_s),
                               SHOPLOOP_STREAMS_AGENT_FLUSH_S=str(flush_s))  # fmt: skip
        try:
            _wait_for_ready(log_path)
            time.sleep(2)  # the rules and the (empty) tables are loaded on the first batch
            _say(
                f"live: {shoppers} carts at {shoppers / 20:.0f}/s for ~20 s, reminders due {LIVE_DELAY_S} s later"
            )
            asyncio.run(_live_traffic(bootstrap, partitions, openids, carts_per_s=shoppers / 20,
                                      tail_s=LIVE_DELAY_S + lateness_s + 5))  # fmt: skip
            lateness = sorted(asyncio.run(_send_lateness(bootstrap)))
        finally:
            stop_process(worker, grace_s=20)
    if not lateness:
        raise RuntimeError("live: no push was sent")
    cuts = statistics.quantiles(lateness, n=100, method="inclusive")
    return {"pushes": len(lateness), "carts": shoppers, "p50": cuts[49], "p99": cuts[98], "max": lateness[-1]}


async def _read_all(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every message on `topic` right now, from the start of each partition to its end."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        values: list[dict[str, Any]] = []
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            for records in (await consumer.getmany(*partitions, timeout_ms=500)).values():
                values += [orjson.loads(record.value) for record in records if record.value]
        return values
    finally:
        await consumer.stop()


def compare(shoppers: int, partitions: int, workdir: Path) -> dict[str, Any]:
    """A simulator log through the real worker, against the independent polars batch computation."""
    # This script is named like the `streams` package: find the package, not this file.
    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    from ingestion.simulator.catalogue import load_catalogue
    from ingestion.simulator.shoppers import simulate_journeys
    from streams.engine import batch

    start = datetime(2026, 3, 2, 13, 30, tzinfo=UTC)  # 21:30 in Shanghai: quiet hours are part of it
    log = simulate_journeys(load_catalogue(), shoppers=shoppers, seed=20260302, start=start)
    inputs = batch.replay_inputs(log)
    horizon = inputs[-1].at + timedelta(days=1)
    frame = batch.log_frame(log)
    expected_triggers, expected_attributions = (
        batch.batch_reminders(frame, horizon),
        batch.batch_attributions(frame),
    )
    _say(f"compare: {len(inputs):,} inputs; the batch computation expects {len(expected_triggers):,} reminders "
         f"and {len(expected_attributions):,} attributions")  # fmt: skip
    with embedded_broker() as bootstrap, serving(_sandbox()) as sandbox_url:
        ensure_topics(KafkaSettings(bootstrap_servers=bootstrap, default_partitions=partitions))
        rules = [orjson.loads(rule.model_dump_json()) for rule in (batch.CART_RULE, batch.SHARE_REWARD)]
        _publish_rules(bootstrap, *rules)
        asyncio.run(_produce(bootstrap, batch.as_messages(inputs)))
        # Event time reaches the horizon on every partition (past the default 30 s allowed lateness).
        asyncio.run(_tick_every_partition(bootstrap, horizon + timedelta(seconds=31), partitions, "end"))
        log_path = workdir / "compare-worker.log"
        worker = _start_worker(bootstrap, partitions, sandbox_url, log_path)
        try:
            ready = _wait_for_ready(log_path)
            deadline = time.perf_counter() + 900
            while True:
                triggers = asyncio.run(_read_all(bootstrap, Topics.TRIGGERS.name))
                attributions = asyncio.run(_read_all(bootstrap, Topics.ATTRIBUTIONS.name))
                if len(triggers) >= len(expected_triggers) and len(attributions) >= len(
                    expected_attributions
                ):
                    break
                if time.perf_counter() > deadline:
                    break
                time.sleep(1)
            done = time.perf_counter()
            time.sleep(2)
            triggers = asyncio.run(_read_all(bootstrap, Topics.TRIGGERS.name))
            attributions = asyncio.run(_read_all(bootstrap, Topics.ATTRIBUTIONS.name))
            dead_letters = asyncio.run(_read_all(bootstrap, Topics.STREAMS_DEAD_LETTER.name))
        finally:
            stop_process(worker, grace_s=20)
    found_triggers = batch.replayed_triggers(triggers)
    found_attributions = batch.replayed_attributions(attributions)
    return {
        "inputs": len(inputs),
        "seconds": done - ready,
        "triggers": len(found_triggers),
        "attributions": len(found_attributions),
        "triggers_equal": found_triggers == expected_triggers,
        "attributions_equal": found_attributions == expected_attributions,
        "missing": len(expected_triggers - found_triggers) + len(expected_attributions - found_attributions),
        "extra": len(found_triggers - expected_triggers) + len(found_attributions - expected_attributions),
        "dead_letters": len(dead_letters),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--profile", type=Path, help="write the worker's cProfile stats to this file")
    parser.add_argument(
        "--live-carts", type=int, default=400, help="shoppers in the live-mode phase (0: skip)"
    )
    parser.add_argument("--compare", type=int, default=0, metavar="SHOPPERS",
                        help="also replay a simulator log of this many shoppers (4000: >100k events) through the "
                        "worker and compare with the polars batch computation")  # fmt: skip
    parser.add_argument("--live-lateness", type=float, default=0.5, help="allowed_lateness_s in live mode")
    parser.add_argument("--live-flush", type=float, default=0.2, help="agent_flush_s in live mode")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        result = replay(args.events, args.partitions, Path(workdir), args.profile)
        print(
            f"replay: {result['inputs']:,.0f} inputs ({result['events_topic']:,.0f} on shoploop.events) in "
            f"{result['seconds']:.1f} s = {result['inputs_per_s']:,.0f} inputs/s through the streams worker; "
            f"raw aiokafka consume+parse of the same topic: {result['ceiling_per_s']:,.0f} events/s "
            f"({result['inputs_per_s'] / result['ceiling_per_s']:.1%} of it); until the worker produced the "
            f"final trigger: {result['produced_s']:.1f} s = {result['produced_per_s']:,.0f} inputs/s "
            f"({result['produced_per_s'] / result['ceiling_per_s']:.1%})"
        )
        if args.compare:
            found = compare(args.compare, args.partitions, Path(workdir))
            same = found["triggers_equal"] and found["attributions_equal"]
            print(
                f"compare: {found['inputs']:,} simulator inputs through the worker in {found['seconds']:.1f} s: "
                f"{found['triggers']:,} reminders, {found['attributions']:,} attributions, "
                f"{'identical to' if same else 'DIFFERENT from'} the polars batch computation "
                f"(missing {found['missing']}, extra {found['extra']}); dead letters {found['dead_letters']}"
            )
        if args.live_carts:
            found = live(args.live_carts, args.partitions, Path(workdir), lateness_s=args.live_lateness,
                         flush_s=args.live_flush)  # fmt: skip
            print(
                f"live: {found['pushes']} of {found['carts']} reminders sent; send time - due time "
                f"p50 {found['p50']:.2f} s, p99 {found['p99']:.2f} s, max {found['max']:.2f} s "
                f"(allowed_lateness_s={args.live_lateness}, agent_flush_s={args.live_flush})"
            )


if __name__ == "__main__":
    main()
