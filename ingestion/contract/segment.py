"""The Segment HTTP Tracking API wire format, as official clients send it.

Lenient where real clients differ (nulls for unset fields, offsets and microseconds in timestamps,
unknown fields kept), strict where the meaning would be lost (a message needs a type and a person).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

MessageType = Literal["track", "identify", "page", "screen", "group", "alias"]

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 2500


class MessageFields(NamedTuple):
    """What ShopLoop reads of one valid Segment message (from `SegmentMessage` or `read_plain_message`)."""

    type: str
    message_id: str | None
    anonymous_id: str | None
    user_id: str | None
    timestamp: datetime | None
    sent_at: datetime | None
    event: str | None
    name: str | None
    category: str | None
    properties: dict[str, Any] | None
    traits: dict[str, Any] | None
    context: dict[str, Any] | None
    group_id: str | None
    previous_id: str | None


class SegmentMessage(BaseModel):
    """One call of the Segment spec: track, identify, page, screen, group or alias."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True)

    type: MessageType
    message_id: str | None = Field(default=None, alias="messageId", max_length=100)
    anonymous_id: str | None = Field(default=None, alias="anonymousId")
    user_id: str | None = Field(default=None, alias="userId")
    timestamp: datetime | None = None
    sent_at: datetime | None = Field(default=None, alias="sentAt")
    event: str | None = None
    name: str | None = None
    category: str | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
    group_id: str | None = Field(default=None, alias="groupId")
    previous_id: str | None = Field(default=None, alias="previousId")

    @model_validator(mode="after")
    def _names_a_person_and_an_event(self) -> SegmentMessage:
        # userId or anonymousId may be a number in some clients; either one must be present.
        if not self.user_id and not self.anonymous_id:
            raise ValueError("either userId or anonymousId is required")
        if self.type == "track" and not self.event:
            raise ValueError("a track call needs an event name")
        if self.type == "alias" and not self.previous_id:
            raise ValueError("an alias call needs previousId")
        return self

    def fields(self) -> MessageFields:
        return MessageFields(
            self.type,
            self.message_id,
            self.anonymous_id,
            self.user_id,
            self.timestamp,
            self.sent_at,
            self.event,
            self.name,
            self.category,
            self.properties,
            self.traits,
            self.context,
            self.group_id,
            self.previous_id,
        )


_MESSAGE_TYPES = frozenset(get_args(MessageType))
# SegmentMessage also takes its fields by their Python names (populate_by_name); such a message is left to it.
_PYTHON_NAMES = frozenset(
    name for name, field in SegmentMessage.model_fields.items() if field.alias and field.alias != name
)
_MAX_MESSAGE_ID = 100
# RFC 3339 as clients write it (JavaScript's toISOString, Python's isoformat) with every part in range, so that
# datetime.fromisoformat and pydantic read it alike; anything else is left to pydantic.
_PLAIN_TIME = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?"
    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
)


_TEXT_TYPES = frozenset((str, type(None)))
_DOCUMENT_TYPES = frozenset((dict, type(None)))
# The named tuple made from its values directly: its generated __new__ is a Python call per message.
_new_fields: Callable[[type[MessageFields], tuple[Any, ...]], MessageFields] = tuple.__new__


class _NotPlain:
    """A value `read_plain_message` leaves to pydantic."""


_NOT_PLAIN = _NotPlain()


def _plain_time(value: Any) -> datetime | _NotPlain | None:
    """The moment a plain timestamp names, None when unset."""
    if value is None:
        return None
    if type(value) is not str or _PLAIN_TIME.fullmatch(value) is None:
        return _NOT_PLAIN
    try:
        return datetime.fromisoformat(value)
    except ValueError:  # 31 November and the like: pydantic words the error
        return _NOT_PLAIN


def read_plain_message(item: dict[str, Any]) -> MessageFields | None:
    """The fields of a message in the shape clients send — strings, RFC 3339 times, objects, the Segment
    names — read without pydantic and exactly as `SegmentMessage` reads them; None for any other message
    (numbers for ids, other time formats, missing parts, …): `SegmentMessage` then decides and words the error.

    The collector's hot path: one pass of plain Python per message instead of building a pydantic model.
    """
    if not _PYTHON_NAMES.isdisjoint(item):
        return None
    get = item.get
    message_type = get("type")
    if type(message_type) is not str or message_type not in _MESSAGE_TYPES:
        return None
    message_id, anonymous_id, user_id = get("messageId"), get("anonymousId"), get("userId")
    event, name, category = get("event"), get("name"), get("category")
    group_id, previous_id = get("groupId"), get("previousId")
    for text in (message_id, anonymous_id, user_id, event, name, category, group_id, previous_id):
        if type(text) not in _TEXT_TYPES:
            return None
    if message_id is not None and len(message_id) > _MAX_MESSAGE_ID:
        return None
    properties, traits, context = get("properties"), get("traits"), get("context")
    for document in (properties, traits, context, get("integrations")):
        if type(document) not in _DOCUMENT_TYPES:
            return None
    timestamp, sent_at = _plain_time(get("timestamp")), _plain_time(get("sentAt"))
    if isinstance(timestamp, _NotPlain) or isinstance(sent_at, _NotPlain):
        return None
    if not (anonymous_id or user_id):
        return None
    if (message_type == "track" and not event) or (message_type == "alias" and not previous_id):
        return None
    return _new_fields(
        MessageFields,
        (
            message_type,
            message_id,
            anonymous_id,
            user_id,
            timestamp,
            sent_at,
            event,
            name,
            category,
            properties,
            traits,
            context,
            group_id,
            previous_id,
        ),
    )


class SegmentBatch(BaseModel):
    """The body of POST /v1/batch: messages plus batch-level fields merged into each."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    # Items are checked one by one (a bad item is dead-lettered, not the whole batch), so any JSON value here.
    batch: list[Any] = Field(max_length=MAX_BATCH_EVENTS)
    sent_at: datetime | None = Field(default=None, alias="sentAt")
    write_key: str | None = Field(default=None, alias="writeKey")
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
