"""The collector's HTTP contract, with a recording publisher at the Kafka port."""

from __future__ import annotations

import base64
import gzip
import time
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from ingestion.collector.app import create_app
from ingestion.collector.errors import PublishFailed
from ingestion.collector.identity import IdentityGraph
from ingestion.collector.intake import MAX_BODY_BYTES_WITHOUT_EVENT_SIZE_CHECK
from ingestion.collector.settings import CollectorSettings
from ingestion.contract.event import TrackedEvent
from ingestion.contract.segment import MAX_EVENT_BYTES
from shoploop.kafka import Topics

WRITE_KEY = "sl_test_key"


class RecordingPublisher:
    """Honours the EventPublisher contract: keeps what it was given, or fails like a broker that is down."""

    def __init__(self) -> None:
        self.records: dict[str, list[tuple[bytes, bytes]]] = {}
        self.is_down = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(
        self, topic: str, records: Sequence[tuple[bytes, bytes]], *, bundle: bool = False
    ) -> None:
        # Bundling is how the Kafka adapter packs records; the events kept are the same either way.
        if self.is_down and records:
            raise PublishFailed("the events could not be handed to Kafka; retry later")
        self.records.setdefault(topic, []).extend(records)

    def events(self) -> list[dict[str, object]]:
        return [orjson.loads(value) for _, value in self.records.get(Topics.EVENTS.name, [])]

    def dead_letters(self) -> list[dict[str, object]]:
        return [orjson.loads(value) for _, value in self.records.get(Topics.EVENTS_DEAD_LETTER.name, [])]


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def client(publisher: RecordingPublisher) -> TestClient:
    settings = CollectorSettings(write_keys={"miniprogram": WRITE_KEY})
    with TestClient(create_app(settings, publisher)) as test_client:
        yield test_client  # type: ignore[misc]


def _viewed(message_id: str, person: str = "device-lily") -> dict[str, object]:
    return {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": person,
        "messageId": message_id,
        "timestamp": "2026-11-22T03:59:58.123456+00:00",
        "properties": {"product_id": "85123A"},
    }


def test_a_batch_with_the_write_key_in_the_body_is_accepted_and_published(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    response = client.post(
        "/v1/batch", json={"batch": [_viewed("m-1"), _viewed("m-2")], "writeKey": WRITE_KEY}
    )
    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert [event["message_id"] for event in publisher.events()] == ["m-1", "m-2"]


def test_events_are_keyed_by_the_person_so_their_stream_state_is_co_partitioned(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    client.post("/v1/batch", json={"batch": [_viewed("m-1", person="device-ming")], "writeKey": WRITE_KEY})
    assert publisher.records[Topics.EVENTS.name][0][0] == b"device-ming"


def test_a_gzipped_batch_with_basic_auth_is_accepted(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    body = gzip.compress(orjson.dumps({"batch": [_viewed("m-gz")]}))
    response = client.post(
        "/v1/batch",
        content=body,
        headers={
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode(),
        },
    )
    assert response.status_code == 200
    assert [event["message_id"] for event in publisher.events()] == ["m-gz"]


def test_an_unknown_write_key_is_refused_with_401_and_nothing_is_published(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    response = client.post("/v1/batch", json={"batch": [_viewed("m-1")], "writeKey": "not-ours"})
    assert response.status_code == 401
    assert response.json()["code"] == "unknown_write_key"
    assert publisher.events() == []


def test_invalid_json_is_refused_with_400_and_a_code(client: TestClient) -> None:
    response = client.post("/v1/batch", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
    assert response.json()["message"]


def test_a_batch_over_500_kb_is_refused_with_400(client: TestClient) -> None:
    padding = "x" * 1000
    events = [dict(_viewed(f"m-{i}"), properties={"padding": padding}) for i in range(600)]
    response = client.post("/v1/batch", json={"batch": events, "writeKey": WRITE_KEY})
    assert response.status_code == 400
    assert response.json()["code"] == "payload_too_large"


def test_an_invalid_message_goes_to_the_dead_letter_topic_and_the_rest_of_its_batch_is_accepted(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    nameless = {"type": "track", "event": "Product Viewed", "messageId": "m-nobody"}
    oversized = dict(_viewed("m-big"), properties={"blob": "x" * 40_000})
    response = client.post(
        "/v1/batch", json={"batch": [_viewed("m-ok"), nameless, oversized], "writeKey": WRITE_KEY}
    )
    assert response.status_code == 200
    assert [event["message_id"] for event in publisher.events()] == ["m-ok"]
    letters = publisher.dead_letters()
    assert [letter["reason_code"] for letter in letters] == ["invalid_message", "event_too_large"]
    assert letters[0]["payload"] == nameless


def _body_of_numbers_that_grow_when_rewritten(body_bytes: int) -> bytes:
    """A batch of one event whose `1e15`s come back 4.5 times as long from orjson (`1000000000000000.0`),
    padded to exactly `body_bytes` with spaces."""
    event = dict(_viewed("m-numbers"), properties={"product_id": "85123A", "n": []})
    head = orjson.dumps({"writeKey": WRITE_KEY, "batch": [event]})
    numbers = b",".join([b"1e15"] * ((body_bytes - len(head)) // 5))
    body = head.replace(b'"n":[]', b'"n":[' + numbers + b"]")
    assert len(body) <= body_bytes
    return body + b" " * (body_bytes - len(body))


def test_an_event_that_grows_over_32_kb_when_rewritten_is_dead_lettered_even_in_a_body_under_32_kb(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    body = _body_of_numbers_that_grow_when_rewritten(9_000)  # 1,770 numbers, rewritten as 33.6 KB
    response = client.post("/v1/batch", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert publisher.events() == []
    assert [letter["reason_code"] for letter in publisher.dead_letters()] == ["event_too_large"]


def test_no_event_of_a_body_small_enough_to_skip_the_size_check_can_exceed_32_kb(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    body = _body_of_numbers_that_grow_when_rewritten(MAX_BODY_BYTES_WITHOUT_EVENT_SIZE_CHECK)
    [item] = orjson.loads(body)["batch"]
    assert len(orjson.dumps(item)) <= MAX_EVENT_BYTES
    response = client.post("/v1/batch", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert [event["message_id"] for event in publisher.events()] == ["m-numbers"]


def test_in_a_large_batch_only_the_event_that_grows_over_32_kb_is_dead_lettered(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    grower = _body_of_numbers_that_grow_when_rewritten(9_000)
    [item] = orjson.loads(grower)["batch"]
    small = [_viewed(f"m-small-{index}") for index in range(40)]
    body = orjson.dumps({"writeKey": WRITE_KEY, "batch": [*small[:20], item, *small[20:]]})
    response = client.post("/v1/batch", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert [event["message_id"] for event in publisher.events()] == [
        f"m-small-{index}" for index in range(40)
    ]
    assert [letter["reason_code"] for letter in publisher.dead_letters()] == ["event_too_large"]


def test_a_batch_key_given_twice_is_size_checked_as_the_batch_that_is_read(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    """JSON keeps the last of duplicated keys (written here with an escape); the size check must measure that
    batch's items, not the first one's."""
    grower = _body_of_numbers_that_grow_when_rewritten(9_000)
    [item] = orjson.loads(grower)["batch"]
    first = orjson.dumps({"batch": [_viewed("m-first")]})[1:-1]
    last = orjson.dumps({"batch": [item], "writeKey": WRITE_KEY})[1:-1].replace(
        b'"batch"', b'"b\\u0061tch"', 1
    )
    body = b"{" + first + b"," + last + b"}"
    response = client.post("/v1/batch", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert publisher.events() == []
    assert [letter["reason_code"] for letter in publisher.dead_letters()] == ["event_too_large"]


def test_the_collector_answers_503_never_200_when_kafka_does_not_take_the_events(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    publisher.is_down = True
    response = client.post("/v1/batch", json={"batch": [_viewed("m-1")], "writeKey": WRITE_KEY})
    assert response.status_code == 503
    assert response.json()["code"] == "kafka_unavailable"


def test_single_calls_are_accepted_on_their_own_endpoints(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    identify = {
        "userId": "u-lily",
        "anonymousId": "device-lily",
        "traits": {"city": "广州"},
        "writeKey": WRITE_KEY,
    }
    assert client.post("/v1/identify", json=identify).status_code == 200
    page = {"anonymousId": "device-lily", "name": "pages/index/index", "writeKey": WRITE_KEY}
    assert client.post("/v1/page", json=page).status_code == 200
    types = [(event["type"], event["event"]) for event in publisher.events()]
    assert types == [("identify", None), ("page", "pages/index/index")]


def test_after_login_server_side_events_are_keyed_by_the_shoppers_person(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    login = {"type": "identify", "anonymousId": "device-hua", "userId": "u-hua", "traits": {"city": "深圳"}}
    paid = {"type": "track", "event": "Coupon Applied", "userId": "u-hua", "properties": {"coupon_id": "c-5"}}
    assert client.post("/v1/batch", json={"batch": [login], "writeKey": WRITE_KEY}).status_code == 200
    assert client.post("/v1/batch", json={"batch": [paid], "writeKey": WRITE_KEY}).status_code == 200
    keys = [key for key, _ in publisher.records[Topics.EVENTS.name]]
    assert keys == [b"device-hua", b"device-hua"]
    assert [event["person_id"] for event in publisher.events()] == ["device-hua", "device-hua"]


def test_a_running_collector_stops_keying_by_a_forgotten_shoppers_login(
    tmp_path: Path, publisher: RecordingPublisher
) -> None:
    url = f"sqlite:///{tmp_path / 'identity.db'}"
    settings = CollectorSettings(
        write_keys={"miniprogram": WRITE_KEY}, identity_database_url=url, identity_forget_poll_s=0.05
    )
    login = {"type": "identify", "anonymousId": "device-hua", "userId": "u-hua"}
    paid = {"type": "track", "event": "Coupon Applied", "userId": "u-hua", "properties": {"coupon_id": "c-5"}}
    with TestClient(create_app(settings, publisher)) as client:
        assert (
            client.post("/v1/batch", json={"batch": [login, paid], "writeKey": WRITE_KEY}).status_code == 200
        )

        # `shoploop privacy forget` runs in a process of its own, on the same identity graph.
        IdentityGraph.from_url(url).forget("device-hua")
        time.sleep(0.5)

        assert client.post("/v1/batch", json={"batch": [paid], "writeKey": WRITE_KEY}).status_code == 200
    # The collector no longer knows that u-hua logged in on device-hua: her new event is a person of its own.
    assert [key for key, _ in publisher.records[Topics.EVENTS.name]] == [
        b"device-hua",
        b"device-hua",
        b"u-hua",
    ]


class ErasedDuringTheLookup(IdentityGraph):
    """The real graph, on which `shoploop privacy forget` of one shopper runs (and reaches this worker's cache) while
    a request's lookup is in the database."""

    erase_during_next_lookup: str | None = None

    def assign_people(self, events: list[TrackedEvent]) -> list[TrackedEvent]:
        people = super().assign_people(events)
        if self.erase_during_next_lookup is not None:
            self.forget(self.erase_during_next_lookup)
            self.erase_during_next_lookup = None
        return people


def test_events_of_a_shopper_erased_while_their_request_was_in_flight_do_not_reach_kafka(
    tmp_path: Path, publisher: RecordingPublisher
) -> None:
    url = f"sqlite:///{tmp_path / 'identity.db'}"
    settings = CollectorSettings(write_keys={"miniprogram": WRITE_KEY}, identity_database_url=url)
    login = {"type": "identify", "anonymousId": "device-hua", "userId": "u-hua"}
    paid = {"type": "track", "event": "Coupon Applied", "userId": "u-hua", "properties": {"coupon_id": "c-5"}}
    with TestClient(create_app(settings, publisher)) as client:
        graph = ErasedDuringTheLookup(create_engine(url))
        client.app.state.identity_graph = graph  # type: ignore[attr-defined]
        assert client.post("/v1/batch", json={"batch": [login], "writeKey": WRITE_KEY}).status_code == 200

        # Ming is new, so the request goes to the database; Hua's erasure is applied while it is there.
        graph.erase_during_next_lookup = "device-hua"
        response = client.post(
            "/v1/batch",
            json={"batch": [paid, _viewed("m-ming", person="device-ming")], "writeKey": WRITE_KEY},
        )
    assert response.status_code == 200
    assert [key for key, _ in publisher.records[Topics.EVENTS.name]] == [b"device-hua", b"device-ming"]
    assert [event["message_id"] for event in publisher.events()][1:] == ["m-ming"]


def test_the_api_docs_still_describe_every_endpoint_the_fast_path_serves(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for call in ("batch", "track", "identify", "page", "screen", "group", "alias"):
        assert "post" in paths[f"/v1/{call}"]


def test_requests_the_fast_path_does_not_serve_get_the_apps_own_answers(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    assert client.get("/v1/batch").status_code == 405
    assert client.post("/v1/unknown", json={"writeKey": WRITE_KEY}).status_code == 404
    assert client.get("/health").json() == {"status": "ok"}
    assert publisher.records == {}


def test_a_failure_of_the_identity_graph_answers_500_and_accepts_nothing(
    publisher: RecordingPublisher, tmp_path: Path
) -> None:
    settings = CollectorSettings(
        write_keys={"miniprogram": WRITE_KEY},
        identity_database_url=f"sqlite:///{tmp_path / 'identity.db'}",
    )
    with TestClient(create_app(settings, publisher), raise_server_exceptions=False) as client:
        with create_engine(settings.identity_database_url).begin() as connection:
            connection.execute(text("DROP TABLE identities"))  # gone under the running collector
        response = client.post("/v1/batch", json={"batch": [_viewed("m-1")], "writeKey": WRITE_KEY})
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert publisher.records.get(Topics.EVENTS.name, []) == []
