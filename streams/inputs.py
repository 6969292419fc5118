"""What the decision core consumes: tracked events and the order core's verified facts, as plain data.

Parsing is strict where a decision depends on the value and raises `BadInput` with a reason, so the agent can
dead-letter the message and go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import orjson


class BadInput(ValueError):
    """A message the streams cannot use; its text is the dead-letter reason."""


# Not frozen: a frozen dataclass's __init__ costs ~4x more, and the worker builds one per event. Treat as immutable.
@dataclass(slots=True)
class Activity:
    """One tracked event of a person, reduced to what the streams decide on."""

    message_id: str
    person_id: str
    at: datetime
    type: str
    event: str | None
    user_id: str | None = None
    scene: int | None = None
    openid: str | None = None
    device_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class OrderFact:
    """A fact from the order core's outbox (OrderPlaced, OrderPaid, StockLow …), checked server-side."""

    event_id: str
    name: str
    at: datetime
    user_id: str | None = None
    order_id: str | None = None
    total_fen: int = 0
    sku_id: str | None = None
    stock: int | None = None
    # OrderPlaced: the shipping address's province and city, when the order has an address.
    shipping_province: str | None = None
    shipping_city: str | None = None


Input = Activity | OrderFact


def _utc(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise BadInput(f"{what} is missing")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise BadInput(f"{what} is not an ISO timestamp: {value!r}") from error
    if moment.tzinfo is UTC:  # the common case: "+00:00" parses to UTC itself, nothing to convert
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# The fast path's types are narrow on purpose: a value of another type (an int user_id, a string scene …)
# fails to decode here and takes the general path, which reads it as it always has.
class _WeChat(msgspec.Struct):
    openid: str | None = None


class _Device(msgspec.Struct):
    id: str | None = None


class _Context(msgspec.Struct):
    wechat: _WeChat | None = None
    device: _Device | None = None


# A scene outside int64 takes the general path (orjson reads some of those as floats).
_Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class _Event(msgspec.Struct, gc=False):
    """The fields of a TrackedEvent the streams read; msgspec skips the rest (anonymous_id, most of context).

    properties and traits are decoded whole. msgspec reads an integer beyond 64 bits as an int where orjson
    reads a float, but the collector writes `shoploop.events` with orjson, which cannot write one.
    """

    message_id: str = ""
    person_id: str = ""
    timestamp: str | None = None
    type: str = ""
    event: str | None = None
    user_id: str | None = None
    scene: _Int64 | None = None
    properties: Any = None
    traits: Any = None
    context: _Context | None = None


_decode_event = msgspec.json.Decoder(_Event).decode


def activity_from_json(raw: bytes) -> Activity:
    """Parse one enriched TrackedEvent from `shoploop.events`.

    The worker parses every event: the common shape is decoded by msgspec into only the fields used; any
    other shape (a missing id, a null type, a context that is not an object …) takes the general path below,
    which gives the same Activity or the same `BadInput`.
    """
    try:
        data = _decode_event(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return _activity_from_any_json(raw)
    if not data.message_id or not data.person_id:
        return _activity_from_any_json(raw)
    context = data.context
    wechat = context.wechat if context is not None else None
    device = context.device if context is not None else None
    return Activity(
        data.message_id,
        data.person_id,
        _utc(data.timestamp, "timestamp"),
        data.type,
        data.event,
        data.user_id or None,
        data.scene,
        (wechat.openid or None) if wechat is not None else None,
        (device.id or None) if device is not None else None,
        data.properties or {},
        data.traits or {},
    )


def _activity_from_any_json(raw: bytes) -> Activity:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadInput(f"not JSON: {error}") from error
    if not isinstance(data, dict) or not data.get("person_id") or not data.get("message_id"):
        raise BadInput("an event needs message_id and person_id")
    context = data.get("context") or {}
    wechat = context.get("wechat")
    wechat = wechat if isinstance(wechat, dict) else {}
    device = context.get("device")
    device = device if isinstance(device, dict) else {}
    scene = data.get("scene")
    return Activity(
        message_id=str(data["message_id"]),
        person_id=str(data["person_id"]),
        at=_utc(data.get("timestamp"), "timestamp"),
        type=str(data.get("type") or ""),
        event=data.get("event"),
        user_id=data.get("user_id") or None,
        scene=scene if isinstance(scene, int) else None,
        openid=wechat.get("openid") or None,
        device_id=device.get("id") or None,
        properties=data.get("properties") or {},
        traits=data.get("traits") or {},
    )


def order_fact_from_json(raw: bytes) -> OrderFact | None:
    """Parse one order-core domain event; None for the kinds the streams do not use."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadInput(f"not JSON: {error}") from error
    if not isinstance(data, dict):
        raise BadInput("an order event must be an object")
    name = data.get("name") or data.get("type") or data.get("event")
    if name not in ("OrderPlaced", "OrderPaid", "StockLow"):
        return None
    event_id = data.get("event_id") or f"{name}:{data.get('order_id') or data.get('sku_id')}"
    total = data.get("total_fen", 0)
    if not isinstance(total, int) or isinstance(total, bool):
        raise BadInput(f"{name}: total_fen must be integer fen")
    if name in ("OrderPlaced", "OrderPaid") and not (data.get("user_id") and data.get("order_id")):
        raise BadInput(f"{name}: user_id and order_id are required")
    stock = data.get("stock")
    province, city = data.get("shipping_province"), data.get("shipping_city")
    return OrderFact(
        event_id=str(event_id),
        name=str(name),
        at=_utc(data.get("occurred_at"), f"{name}.occurred_at"),
        user_id=data.get("user_id"),
        order_id=data.get("order_id"),
        total_fen=total,
        sku_id=data.get("sku_id"),
        stock=stock if isinstance(stock, int) else None,
        shipping_province=province if isinstance(province, str) else None,
        shipping_city=city if isinstance(city, str) else None,
    )
