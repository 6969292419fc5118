"""Pure request handling: decode, authenticate, split a batch into accepted events and dead letters."""

from __future__ import annotations

import base64
import binascii
import gzip
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import orjson
from pydantic import ValidationError

from ingestion.collector.errors import InvalidBatch, InvalidJson, PayloadTooLarge, UnknownWriteKey
from ingestion.contract.event import TrackedEvent, as_utc, enrich_fields
from ingestion.contract.segment import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    SegmentBatch,
    SegmentMessage,
    read_plain_message,
)
from ingestion.contract.tracking_plan import check_against_plan


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event that could not be accepted, kept with why, exactly what was sent, and its batch's fields.

    Kept whole so that `shoploop dlq replay` can accept it later exactly as if it had been accepted the
    first time (same messageId, same receivedAt, same clock-skew correction).
    """

    reason_code: str
    reason: str
    payload: Any
    source: str
    received_at: datetime
    batch_sent_at: datetime | None = None
    batch_context: dict[str, Any] | None = None

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "reason_code": self.reason_code,
                "reason": self.reason,
                "payload": self.payload,
                "source": self.source,
                "received_at": self.received_at.isoformat(timespec="microseconds"),
                "batch_sent_at": self.batch_sent_at.isoformat(timespec="microseconds")
                if self.batch_sent_at
                else None,
                "batch_context": self.batch_context,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> DeadLetter:
        data = orjson.loads(raw)
        return cls(
            reason_code=data["reason_code"],
            reason=data["reason"],
            payload=data["payload"],
            source=data["source"],
            received_at=datetime.fromisoformat(data["received_at"]),
            batch_sent_at=datetime.fromisoformat(data["batch_sent_at"])
            if data.get("batch_sent_at")
            else None,
            batch_context=data.get("batch_context"),
        )


@dataclass(frozen=True, slots=True)
class Intake:
    source: str
    accepted: list[TrackedEvent]
    dead_letters: list[DeadLetter]


# Re-serialising a parsed JSON value never makes it more than 4.5 times as long as its text: strings, keys and
# literals come out no longer (escapes are decoded, whitespace dropped), and the most a number grows is `1e15`
# (4 bytes) written back as `1000000000000000.0` (18 bytes). A messageId given to a message without one adds
# `,"messageId":"<uuid4>"` (51 bytes). So no item of a body of at most this many bytes can exceed MAX_EVENT_BYTES,
# and `split_batch` skips the per-item size check for such bodies. (A larger one can: a 9,000-byte body of 1,770
# `1e15`s comes back as 33.6 KB.)
MAX_BODY_BYTES_WITHOUT_EVENT_SIZE_CHECK = int((MAX_EVENT_BYTES - 51) / 4.5)


class _BatchItemTexts(msgspec.Struct):
    """A /v1/batch body read only for where each item's JSON text begins and ends (msgspec skims the rest)."""

    batch: list[msgspec.Raw]


_read_batch_item_texts = msgspec.json.Decoder(_BatchItemTexts).decode


def batch_item_bytes(text: bytes, items: int) -> list[int] | None:
    """The length of each item's own JSON text in a /v1/batch body, in order, or None when it cannot be told.

    The bound behind MAX_BODY_BYTES_WITHOUT_EVENT_SIZE_CHECK holds for each item on its own: an item whose text is at
    most that long cannot exceed MAX_EVENT_BYTES when re-serialised, so `split_batch` checks only the longer ones
    (an SDK's or a server's batch of hundreds of small events then costs no `orjson.dumps` per event). The body was
    parsed by orjson already; this reads the same text again, and both keep the last of duplicated keys, so the
    lengths belong to the items orjson read (None, and every item checked, if the counts disagree all the same).
    """
    try:
        texts = _read_batch_item_texts(text).batch
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if len(texts) != items:
        return None
    return [len(item_text) for item_text in texts]


def decode_body(raw: bytes, content_encoding: str | None) -> dict[str, Any]:
    """Gunzip if asked to, enforce the batch size limit on what was sent, and parse the JSON object."""
    return parse_body(read_body(raw, content_encoding))


def read_body(raw: bytes, content_encoding: str | None) -> bytes:
    """The body as JSON text: gunzipped if asked to, within the batch size limit."""
    if content_encoding and content_encoding.strip().lower() == "gzip":
        try:
            # Read one byte past the limit so a decompression bomb is refused without inflating it all.
            decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            raw = decompressor.decompress(raw, MAX_BATCH_BYTES + 1)
        except (zlib.error, gzip.BadGzipFile) as error:
            raise InvalidJson("the body is not valid gzip") from error
    if len(raw) > MAX_BATCH_BYTES:
        raise PayloadTooLarge(f"a batch may hold at most {MAX_BATCH_BYTES} bytes")
    return raw


def parse_body(raw: bytes) -> dict[str, Any]:
    """The body's JSON object."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InvalidJson(f"the body is not valid JSON: {error}") from error
    if not isinstance(body, dict):
        raise InvalidJson("the body must be a JSON object")
    return body


def write_key_from_basic_auth(authorization: str | None) -> str | None:
    """Segment clients send the write key as the Basic-auth username with an empty password."""
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.split(":", 1)[0] or None


def authenticate(body: dict[str, Any], authorization: str | None, write_keys: dict[str, str]) -> str:
    """Name the source whose write key the request carries, in the Basic-auth header or the body."""
    candidates = (write_key_from_basic_auth(authorization), body.get("writeKey"))
    for candidate in candidates:
        if isinstance(candidate, str):
            for source, key in write_keys.items():
                if key == candidate:
                    return source
    raise UnknownWriteKey("the write key is missing or unknown")


def as_batch(body: dict[str, Any], message_type: str | None) -> SegmentBatch:
    """Read a /v1/batch body, or wrap a single-call body (/v1/track, …) as a batch of one."""
    if message_type is not None:
        message = {key: value for key, value in body.items() if key != "writeKey"}
        message.setdefault("type", message_type)
        body = {"batch": [message], "sentAt": body.get("sentAt"), "writeKey": body.get("writeKey")}
    try:
        return SegmentBatch.model_validate(body)
    except ValidationError as error:
        raise InvalidBatch(f"not a Segment batch: {error.errors()[0]['msg']}") from error


def split_batch(
    batch: SegmentBatch,
    *,
    source: str,
    received_at: datetime,
    pseudonymise: Callable[[TrackedEvent], TrackedEvent] | None = None,
    body_bytes: int | None = None,
    item_bytes: Sequence[int] | None = None,
) -> Intake:
    """Accept every valid message of the batch; every other one becomes a dead letter with its reason.

    `body_bytes`, the size of the JSON text the batch was read from, lets a small body skip the per-item size
    check (see MAX_BODY_BYTES_WITHOUT_EVENT_SIZE_CHECK); `item_bytes`, the size of each item's own text
    (`batch_item_bytes`), lets each small item skip it; without either every item is checked.
    """
    accepted: list[TrackedEvent] = []
    dead_letters: list[DeadLetter] = []
    # Read once for the whole batch: pydantic gives the batch's sentAt its own tzinfo, which enrichment would
    # otherwise convert to UTC again for every event.
    batch_sent_at = as_utc(batch.sent_at) if batch.sent_at is not None else None
    is_size_checked = body_bytes is None or body_bytes > MAX_BODY_BYTES_WITHOUT_EVENT_SIZE_CHECK
    if item_bytes is not None and len(item_bytes) != len(batch.batch):
        item_bytes = None

    def dead(reason_code: str, reason: str, payload: Any) -> None:
        dead_letters.append(
            DeadLetter(reason_code, reason, payload, source, received_at, batch.sent_at, batch.context)
        )

    for index, item in enumerate(batch.batch):
        if not isinstance(item, dict):
            dead("not_an_object", "a batch item must be a JSON object", item)
            continue
        if not item.get("messageId"):
            # A replayed dead letter must keep one identity, so one is given before it can be dead-lettered.
            item = {**item, "messageId": str(uuid.uuid4())}
        if (
            is_size_checked
            and (item_bytes is None or item_bytes[index] > MAX_BODY_BYTES_WITHOUT_EVENT_SIZE_CHECK)
            and len(orjson.dumps(item)) > MAX_EVENT_BYTES
        ):
            dead("event_too_large", f"an event may hold at most {MAX_EVENT_BYTES} bytes", item)
            continue
        fields = read_plain_message(item)
        if fields is None:
            try:
                fields = SegmentMessage.model_validate(item).fields()
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(part) for part in first["loc"]) or "message"
                dead("invalid_message", f"{where}: {first['msg']}", item)
                continue
        violation = check_against_plan(fields.type, fields.event, fields.properties)
        if violation is not None:
            dead(violation.reason_code, violation.reason, item)
            continue
        event = enrich_fields(
            fields,
            received_at=received_at,
            batch_sent_at=batch_sent_at,
            batch_context=batch.context,
            source=source,
        )
        accepted.append(pseudonymise(event) if pseudonymise else event)
    return Intake(source=source, accepted=accepted, dead_letters=dead_letters)
