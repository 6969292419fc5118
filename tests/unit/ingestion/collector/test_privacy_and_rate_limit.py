from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from ingestion.collector.app import create_app
from ingestion.collector.privacy import Pseudonymiser
from ingestion.collector.rate_limit import RateLimiter
from ingestion.collector.settings import CollectorSettings
from ingestion.contract.event import enrich
from ingestion.contract.segment import SegmentMessage

RECEIVED = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
KEY = b"a-test-key-of-32-bytes-exactly!!"


def _login_event() -> SegmentMessage:
    return SegmentMessage.model_validate(
        {
            "type": "identify",
            "anonymousId": "device-lily",
            "userId": "u-lily",
            "traits": {"phone": "13800138000", "city": "广州", "openid": "o16wA0b4lily"},
            "context": {"wechat": {"scene": 1007, "openid": "o16wA0b4lily", "unionid": "or4zX05hlily"}},
        }
    )


def test_openid_unionid_and_phone_never_leave_the_collector_in_clear() -> None:
    event = enrich(_login_event(), received_at=RECEIVED, batch_sent_at=None, batch_context=None, source="mp")
    private = Pseudonymiser(KEY).apply(event)
    text = private.to_json().decode()
    for secret in ("o16wA0b4lily", "or4zX05hlily", "13800138000"):
        assert secret not in text
    assert private.traits["city"] == "广州"
    assert private.context["wechat"]["scene"] == 1007


def test_the_same_openid_always_gets_the_same_pseudonym_and_another_key_gives_another() -> None:
    assert Pseudonymiser(KEY).pseudonym("o16wA0b4lily") == Pseudonymiser(KEY).pseudonym("o16wA0b4lily")
    assert Pseudonymiser(KEY).pseudonym("o16wA0b4lily") != Pseudonymiser(
        b"another-key-of-enough-bytes"
    ).pseudonym("o16wA0b4lily")


def test_a_pseudonym_is_not_pseudonymised_twice_when_an_event_is_replayed() -> None:
    pseudonymiser = Pseudonymiser(KEY)
    once = pseudonymiser.pseudonym("13800138000")
    assert pseudonymiser.pseudonym(once) == once


def test_settings_refuse_the_development_pseudonym_key_in_production() -> None:
    with pytest.raises(ValueError, match="development placeholder"):
        CollectorSettings(environment="production")


def test_a_source_over_its_rate_gets_a_retry_after_that_elapses() -> None:
    now = [100.0]
    limiter = RateLimiter(default_per_s=2.0, per_source={}, clock=lambda: now[0])
    assert [limiter.retry_after_s("mp") for _ in range(2)] == [0, 0]
    assert limiter.retry_after_s("mp") == 1
    now[0] += 0.5
    assert limiter.retry_after_s("mp") == 0


def test_the_collector_answers_429_with_retry_after_when_a_write_key_exceeds_its_rate() -> None:
    class NullPublisher:
        async def start(self) -> None: ...

        async def stop(self) -> None: ...

        async def publish(self, topic: str, records: object, *, bundle: bool = False) -> None: ...

    settings = CollectorSettings(write_keys={"mp": "k"}, rate_limit_per_source={"mp": 1.0})
    message = {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": "a",
        "properties": {"product_id": "1"},
    }
    with TestClient(create_app(settings, NullPublisher())) as client:
        first = client.post("/v1/batch", json={"batch": [message], "writeKey": "k"})
        second = client.post("/v1/batch", json={"batch": [message], "writeKey": "k"})
    assert first.status_code == 200
    assert second.status_code == 429
    assert second.json()["code"] == "rate_limited"
    assert int(second.headers["Retry-After"]) >= 1
