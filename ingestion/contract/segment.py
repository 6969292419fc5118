"""The Segment HTTP Tracking API wire format, as official clients send it.

Lenient where real clients differ (nulls for unset fields, offsets and microseconds in timestamps,
unknown fields kept), strict where the meaning would be lost (a message needs a type and a person).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MessageType = Literal["track", "identify", "page", "screen", "group", "alias"]

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 2500


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


class SegmentBatch(BaseModel):
    """The body of POST /v1/batch: messages plus batch-level fields merged into each."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    # Items are checked one by one (a bad item is dead-lettered, not the whole batch), so any JSON value here.
    batch: list[Any] = Field(max_length=MAX_BATCH_EVENTS)
    sent_at: datetime | None = Field(default=None, alias="sentAt")
    write_key: str | None = Field(default=None, alias="writeKey")
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
