"""The enriched event the collector hands to Kafka, and the pure rules that turn a Segment message into it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ingestion.contract.scenes import channel_for_scene
from ingestion.contract.segment import MessageFields, SegmentMessage

# Personal identifiers (openid, unionid, phone) reach Kafka only as this prefix + a keyed HMAC (PIPL).
PSEUDONYM_PREFIX = "pn_"

# A `shoploop.events` record carries one or more events as JSON lines: the collector bundles the events of one
# request that go to the same partition (their persons hash there), so that Kafka's per-record cost is paid once
# per partition and request instead of once per event. A record of one event is one line, as before.
EVENT_SEPARATOR = b"\n"


def bundle_event_values(values: list[bytes]) -> bytes:
    """One record value carrying these events (each a JSON object without a newline, as orjson writes it)."""
    return EVENT_SEPARATOR.join(values)


def event_values(record_value: bytes) -> list[bytes]:
    """The events a `shoploop.events` record carries, one JSON object each, in the order they were accepted."""
    return [line for line in record_value.split(EVENT_SEPARATOR) if line.strip()]


@dataclass(frozen=True, slots=True)
class TrackedEvent:
    """One accepted event, as it travels on Kafka and lands in the lake. All times are UTC."""

    message_id: str
    type: str
    event: str | None
    person_id: str
    anonymous_id: str | None
    user_id: str | None
    timestamp: datetime
    original_timestamp: datetime
    sent_at: datetime | None
    received_at: datetime
    scene: int | None
    channel: str
    source: str
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        # orjson writes aware datetimes as RFC 3339 natively (and fast); every time here is UTC. A dict, not the
        # dataclass itself: orjson reads a dict's items faster than a dataclass's fields.
        return orjson.dumps(
            {
                "message_id": self.message_id,
                "type": self.type,
                "event": self.event,
                "person_id": self.person_id,
                "anonymous_id": self.anonymous_id,
                "user_id": self.user_id,
                "timestamp": self.timestamp,
                "original_timestamp": self.original_timestamp,
                "sent_at": self.sent_at,
                "received_at": self.received_at,
                "scene": self.scene,
                "channel": self.channel,
                "source": self.source,
                "properties": self.properties,
                "traits": self.traits,
                "context": self.context,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> TrackedEvent:
        data = orjson.loads(raw)
        return cls(
            message_id=data["message_id"],
            type=data["type"],
            event=data.get("event"),
            person_id=data["person_id"],
            anonymous_id=data.get("anonymous_id"),
            user_id=data.get("user_id"),
            timestamp=datetime.fromisoformat(data["timestamp"]),
            original_timestamp=datetime.fromisoformat(data["original_timestamp"]),
            sent_at=datetime.fromisoformat(data["sent_at"]) if data.get("sent_at") else None,
            received_at=datetime.fromisoformat(data["received_at"]),
            scene=data.get("scene"),
            channel=data["channel"],
            source=data["source"],
            properties=data.get("properties") or {},
            traits=data.get("traits") or {},
            context=data.get("context") or {},
        )


def _tracked_event_maker() -> Callable[..., TrackedEvent]:
    """A function that makes a TrackedEvent from its field values in order, setting each slot directly: what the
    frozen dataclass's __init__ does, without its per-field lookups. Generated, as dataclasses generates __init__,
    so that each field is one direct call rather than a turn of a loop (the collector makes one event per message;
    this halves the cost of making one)."""
    names = list(TrackedEvent.__dataclass_fields__)
    arguments = [f"value_{index}" for index in range(len(names))]
    lines = [f"def make({', '.join(arguments)}):", "    made = new(TrackedEvent)"]
    lines += [f"    set_{index}(made, {argument})" for index, argument in enumerate(arguments)]
    lines.append("    return made")
    namespace: dict[str, Any] = {"new": object.__new__, "TrackedEvent": TrackedEvent}
    namespace.update(
        {f"set_{index}": getattr(TrackedEvent, name).__set__ for index, name in enumerate(names)}
    )
    exec("\n".join(lines), namespace)  # the source is built above from the dataclass's own field names
    make: Callable[..., TrackedEvent] = namespace["make"]
    return make


_new_tracked_event = _tracked_event_maker()


def as_utc(moment: datetime) -> datetime:
    """Read a naive timestamp as UTC (clients that omit the offset mean UTC) and normalise aware ones."""
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def corrected_timestamp(
    *, received_at: datetime, sent_at: datetime | None, original: datetime | None
) -> datetime:
    """Segment's clock-skew correction: timestamp = receivedAt − (sentAt − originalTimestamp).

    A skew so large that the corrected time falls outside the calendar (a client clock in the year 9999)
    says nothing about when the event happened; the server's receivedAt is used instead.
    """
    if original is None:
        return received_at
    if sent_at is None:
        return as_utc(original)
    try:
        return received_at - (as_utc(sent_at) - as_utc(original))
    except OverflowError:
        return received_at


def scene_of(context: dict[str, Any], properties: dict[str, Any]) -> int | None:
    """The WeChat scene of the visit: the SDK puts it in context.wechat.scene, launch/show events in properties."""
    wechat = context.get("wechat")
    candidates = (wechat.get("scene") if isinstance(wechat, dict) else None, properties.get("scene"))
    for candidate in candidates:
        if isinstance(candidate, int) and not isinstance(candidate, bool):
            return candidate
        if isinstance(candidate, str) and candidate.isdigit():
            return int(candidate)
    return None


def enrich(
    message: SegmentMessage,
    *,
    received_at: datetime,
    batch_sent_at: datetime | None,
    batch_context: dict[str, Any] | None,
    source: str,
) -> TrackedEvent:
    """Turn one accepted Segment message into the event that goes on Kafka."""
    return enrich_fields(
        message.fields(),
        received_at=received_at,
        batch_sent_at=batch_sent_at,
        batch_context=batch_context,
        source=source,
    )


def enrich_fields(
    fields: MessageFields,
    *,
    received_at: datetime,
    batch_sent_at: datetime | None,
    batch_context: dict[str, Any] | None,
    source: str,
) -> TrackedEvent:
    """Turn the fields of one accepted Segment message into the event that goes on Kafka."""
    (
        message_type,
        message_id,
        anonymous_id,
        user_id,
        timestamp,
        message_sent_at,
        event,
        name,
        category,
        message_properties,
        message_traits,
        message_context,
        group_id,
        previous_id,
    ) = fields
    # The message's own documents are taken as they are (an event is never changed once made), copied only to
    # add to them: one request's parse owns them, and copying three dicts per event was measurable.
    context = {**batch_context, **(message_context or {})} if batch_context else (message_context or {})
    properties = message_properties if message_properties is not None else {}
    if message_type in ("page", "screen") and category is not None and "category" not in properties:
        properties = {**properties, "category": category}
    if message_type == "alias" and previous_id and "previous_id" not in properties:
        properties = {**properties, "previous_id": previous_id}
    if message_type == "group" and group_id and "group_id" not in properties:
        properties = {**properties, "group_id": group_id}
    traits = message_traits if message_traits is not None else {}
    declared_sent_at = batch_sent_at or message_sent_at
    # as_utc, without its call for the times that are UTC already (the usual case: clients write UTC times)
    if declared_sent_at is None or declared_sent_at.tzinfo is UTC:
        sent_at = declared_sent_at
    else:
        sent_at = as_utc(declared_sent_at)
    if timestamp is None:
        original = received_at
    elif timestamp.tzinfo is UTC:
        original = timestamp
    else:
        original = as_utc(timestamp)
    # scene_of, without its call for the usual case: the SDK's context.wechat.scene, a number
    wechat = context.get("wechat")
    scene = wechat.get("scene") if type(wechat) is dict else None
    if type(scene) is not int:
        scene = scene_of(context, properties)
    return _new_tracked_event(
        message_id or str(uuid.uuid4()),
        message_type,
        event if message_type == "track" else name,
        anonymous_id or user_id or "",  # the device's key until the identity graph says whose it is
        anonymous_id,
        user_id,
        corrected_timestamp(received_at=received_at, sent_at=sent_at, original=original),
        original,
        sent_at,
        received_at,
        scene,
        channel_for_scene(scene),
        source,
        properties,
        traits,
        context,
    )
