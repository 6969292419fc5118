from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ingestion.contract.event import (
    TrackedEvent,
    bundle_event_values,
    corrected_timestamp,
    enrich,
    event_values,
)
from ingestion.contract.scenes import channel_for_scene
from ingestion.contract.segment import SegmentMessage

RECEIVED = datetime(2026, 11, 22, 4, 0, 0, 123456, tzinfo=UTC)


def _viewed(**overrides: object) -> SegmentMessage:
    message = {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": "device-lily",
        "messageId": "m-1",
        "timestamp": "2026-11-22T11:59:58.500+08:00",
        "properties": {"product_id": "85123A", "price": 22.95},
        "context": {"wechat": {"scene": 1007}},
    }
    message.update(overrides)
    return SegmentMessage.model_validate(message)


def test_a_message_without_any_person_is_refused() -> None:
    with pytest.raises(ValidationError, match="userId or anonymousId"):
        SegmentMessage.model_validate({"type": "track", "event": "Product Viewed"})


def test_a_track_call_without_an_event_name_is_refused() -> None:
    with pytest.raises(ValidationError, match="event name"):
        SegmentMessage.model_validate({"type": "track", "anonymousId": "a"})


def test_null_fields_and_numeric_user_ids_are_accepted_as_official_clients_send_them() -> None:
    message = SegmentMessage.model_validate(
        {
            "type": "page",
            "anonymousId": None,
            "userId": 42,
            "name": None,
            "category": None,
            "properties": None,
        }
    )
    assert message.user_id == "42"


def test_clock_skew_is_corrected_with_the_batch_sent_at() -> None:
    # The phone's clock is 10 minutes fast: it says it sent at 12:10 an event it recorded at 12:09:58.
    original = datetime(2026, 11, 22, 4, 9, 58, tzinfo=UTC)
    sent = datetime(2026, 11, 22, 4, 10, 0, tzinfo=UTC)
    assert corrected_timestamp(received_at=RECEIVED, sent_at=sent, original=original) == RECEIVED - timedelta(
        seconds=2
    )


def test_a_clock_skew_beyond_the_calendar_falls_back_to_the_server_receive_time() -> None:
    # A phone whose clock says it sent in the year 9999 an event it recorded today.
    original = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
    sent = datetime(9999, 10, 12, 8, 0, tzinfo=UTC)
    assert corrected_timestamp(received_at=RECEIVED, sent_at=sent, original=original) == RECEIVED


def test_enrich_keeps_the_original_timestamp_in_utc_and_names_the_channel_from_the_scene() -> None:
    event = enrich(
        _viewed(), received_at=RECEIVED, batch_sent_at=None, batch_context=None, source="miniprogram"
    )
    assert event.original_timestamp == datetime(2026, 11, 22, 3, 59, 58, 500000, tzinfo=UTC)
    assert event.timestamp == event.original_timestamp
    assert event.scene == 1007
    assert event.channel == "share_single_chat"
    assert event.person_id == "device-lily"


def test_batch_context_is_merged_into_each_message_and_the_message_wins() -> None:
    event = enrich(
        _viewed(context={"wechat": {"scene": 1058}, "locale": "zh_CN"}),
        received_at=RECEIVED,
        batch_sent_at=None,
        batch_context={"locale": "en_GB", "app": {"name": "mall"}},
        source="miniprogram",
    )
    assert event.context == {"wechat": {"scene": 1058}, "locale": "zh_CN", "app": {"name": "mall"}}
    assert event.channel == "official_account_article"


def test_an_event_survives_the_trip_through_json_unchanged() -> None:
    event = enrich(
        _viewed(), received_at=RECEIVED, batch_sent_at=RECEIVED, batch_context=None, source="miniprogram"
    )
    assert TrackedEvent.from_json(event.to_json()) == event


@pytest.mark.parametrize(
    ("scene", "channel"),
    [
        (1007, "share_single_chat"),
        (1008, "share_group_chat"),
        (1044, "share_group_chat"),
        (1011, "qr_code"),
        (1047, "mini_program_code"),
        (1107, "subscribe_message"),
        (1053, "search"),
        (1058, "official_account_article"),
        (1045, "ads"),
        (9999, "other"),
        (None, "direct"),
    ],
)
def test_each_wechat_scene_maps_to_its_acquisition_channel(scene: int | None, channel: str) -> None:
    assert channel_for_scene(scene) == channel


def test_a_bundled_record_gives_back_each_event_in_order() -> None:
    lily = enrich(_viewed(), received_at=RECEIVED, batch_sent_at=None, batch_context=None, source="mp")
    lucy = enrich(
        _viewed(anonymousId="device-lucy", messageId="m-2"),
        received_at=RECEIVED,
        batch_sent_at=None,
        batch_context=None,
        source="mp",
    )

    record = bundle_event_values([lily.to_json(), lucy.to_json()])

    assert [TrackedEvent.from_json(value) for value in event_values(record)] == [lily, lucy]


def test_a_record_of_one_event_is_read_as_that_event() -> None:
    lily = enrich(_viewed(), received_at=RECEIVED, batch_sent_at=None, batch_context=None, source="mp")

    assert event_values(lily.to_json()) == [lily.to_json()]
