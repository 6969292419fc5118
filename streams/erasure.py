"""`privacy forget` reaches the streams: the erasure travels on `shoploop.privacy.erasures`, which the decisions
task reads beside its inputs (its offsets checkpointed with the state, so a restart neither loses an erasure
nor applies it twice) and applies with `Engine.forget`; the next checkpoint rewrites the rows that held her.

One message per erasure: the erased person ids, every id of the person (anonymousIds, userIds), the erasure time
and the end of the person window — the lake tombstone's content (`warehouse/erasure.py`), so the streams drop
her late inputs by the same rules. A re-run of `forget` sends it again: applying it twice removes nothing more.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from datetime import datetime, timedelta

import orjson
import structlog

from shoploop.kafka import KafkaSettings, Topics
from shoploop.tombstone import Tombstone
from streams.engine.core import Engine, Output
from streams.inputs import BadInput

log = structlog.get_logger(__name__)

# How long `forget` waits for the cluster to take the erasure before it reports that the streams were not told.
ANNOUNCE_TIMEOUT_S = 10.0


def erasure_message(erasure: Tombstone) -> bytes:
    return orjson.dumps(erasure.to_dict())


def erasure_from_json(raw: bytes) -> Tombstone:
    try:
        data = orjson.loads(raw)
        erasure = Tombstone.from_dict(data)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise BadInput(f"not an erasure: {error!r}") from error
    if not erasure.person_ids:
        raise BadInput("an erasure needs at least one person id")
    return erasure


def announce_erasure(
    *,
    person_ids: Iterable[str],
    ids: Iterable[str],
    erased_at: datetime,
    person_window: timedelta,
    kafka: KafkaSettings,
    timeout_s: float = ANNOUNCE_TIMEOUT_S,
) -> str | None:
    """Put the erasure on the erasures topic, acknowledged by every in-sync replica: None once it is there,
    else why it is not (the cluster unreachable, the send refused) — for `forget` to report, and re-run."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from shoploop.kafka import ensure_topics

    erasure = Tombstone(
        person_ids=frozenset(person_ids),
        ids=frozenset(ids),
        erased_at=erased_at,
        people_until=erased_at + person_window,
    )
    if not _is_listening(kafka.bootstrap_servers, timeout_s=min(timeout_s, 2.0)):
        # Refused at once: no reason to wait for the producer's bootstrap to give up.
        return f"the streams were not told (Kafka at {kafka.bootstrap_servers}: no broker answers)"
    producer = None
    try:
        # The producer's bootstrap is bounded by `timeout_s` (the admin client's is not): it checks first
        # that the cluster answers. An older cluster may not have the topic yet.
        producer = KafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers,
            acks="all",
            max_block_ms=int(timeout_s * 1000),
            request_timeout_ms=int(timeout_s * 1000),
            bootstrap_timeout_ms=int(timeout_s * 1000),
            delivery_timeout_ms=int(2 * timeout_s * 1000),
        )
        ensure_topics(kafka, (Topics.PRIVACY_ERASURES,), timeout_s=timeout_s)
        key = min(erasure.person_ids).encode()
        producer.send(Topics.PRIVACY_ERASURES.name, erasure_message(erasure), key).get(timeout=timeout_s)
    except (KafkaError, OSError) as error:
        return f"the streams were not told (Kafka at {kafka.bootstrap_servers}: {error!r})"
    finally:
        if producer is not None:
            producer.close(timeout=timeout_s)
    return None


def _is_listening(bootstrap_servers: str, *, timeout_s: float) -> bool:
    """Whether any bootstrap server accepts a TCP connection (a refused one fails at once)."""
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False


def apply_erasure(engine: Engine, raw: bytes) -> list[Output]:
    """Apply one message of the erasures topic to the engine (a bad one is dead-lettered with its reason)."""
    try:
        erasure = erasure_from_json(raw)
    except BadInput as error:
        return [
            Output(
                "dead_letters",
                Topics.PRIVACY_ERASURES.name,
                {"reason_code": "bad_erasure", "reason": str(error), "payload": raw.decode(errors="replace")},
            )
        ]
    forgotten = engine.forget(erasure.person_ids, erasure.ids, guard=erasure)
    # Counts only: the log must not name the person it erased.
    log.info("streams_erasure_applied", erased_at=erasure.erased_at.isoformat(), **forgotten.as_counts())
    return []
