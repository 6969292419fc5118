"""The walking skeleton, every link real: collector → Kafka → Faust sink → Parquet lake → dbt → funnel mart.

Breaking any link (the collector does not publish, the broker loses events, the sink does not write,
dbt does not build, the mart miscounts) makes this test fail.
"""

from __future__ import annotations

import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import httpx
import pytest
import segment.analytics as segment_analytics

from ingestion.collector.app import create_app
from ingestion.collector.settings import CollectorSettings
from ingestion.contract.scenes import channel_for_scene
from ingestion.simulator.catalogue import default_catalogue_path, load_catalogue
from ingestion.simulator.shoppers import simulate_journeys
from shoploop.broker import embedded_broker
from shoploop.kafka import KafkaSettings, ensure_topics
from shoploop.serving import serving
from tests.support import stack
from warehouse.lake import events_glob
from warehouse.publish import WarmDbt, build_and_publish
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration

WRITE_KEY = "sl_chain_test_key"
SERVER_SIDE_VIEW_AT = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
SHOP_TZ = ZoneInfo("Asia/Shanghai")
FUNNEL_STEPS = {
    "Product Viewed": "viewed_shoppers",
    "Product Added": "added_shoppers",
    "Checkout Started": "checkout_shoppers",
    "Order Completed": "paid_shoppers",
}


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    with embedded_broker() as address:
        yield address


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shoploop-var")


@pytest.fixture(scope="module")
def sink_worker(bootstrap: str, data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    ensure_topics(KafkaSettings(bootstrap_servers=bootstrap, default_partitions=2))
    with stack.sink_worker(bootstrap, data_dir, log=data_dir / "sink.log") as worker:
        yield worker


def _expected_funnel(messages: list[dict[str, Any]]) -> dict[tuple[str, str, int | None], dict[str, int]]:
    """Count the funnel independently of the pipeline.

    Per shop day, channel and scene, a shopper reaches a step when they did it at or after reaching the
    step before it (event time), so each step counts a subset of the shoppers of the step before.
    """
    times: dict[tuple[str, str, int | None, str], dict[str, list[datetime]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for message in messages:
        column = FUNNEL_STEPS.get(message.get("event") or "")
        if message["type"] != "track" or column is None:
            continue
        moment = datetime.fromisoformat(message["timestamp"])
        scene = message["context"]["wechat"]["scene"]
        day = moment.astimezone(SHOP_TZ).date().isoformat()
        times[(day, channel_for_scene(scene), scene, message["anonymousId"])][column].append(moment)

    funnel: dict[tuple[str, str, int | None], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(FUNNEL_STEPS.values(), 0)
    )
    for (day, channel, scene, _person), steps in times.items():
        reached_at: datetime | None = None
        for column in FUNNEL_STEPS.values():
            later = [moment for moment in steps.get(column, []) if reached_at is None or moment >= reached_at]
            if not later:
                break
            reached_at = min(later)
            funnel[(day, channel, scene)][column] += 1
    return {key: row for key, row in funnel.items() if any(row.values())}


def _lake_message_count(data_dir: Path) -> int:
    glob = events_glob(WarehouseSettings(data_dir=data_dir).events_dir)
    try:
        with duckdb.connect() as connection:
            row = connection.execute(
                "select count(distinct message_id) from read_parquet(?)", [glob]
            ).fetchone()
    except duckdb.IOException:
        return 0
    return int(row[0]) if row else 0


@pytest.fixture(scope="module")
def published(
    bootstrap: str, data_dir: Path, sink_worker: subprocess.Popen[bytes], warm_dbt: WarmDbt
) -> Iterator[tuple[list[dict[str, Any]], list[str], Path]]:
    """Simulated shoppers and an unmodified Segment client send through the real chain; one published build."""
    catalogue = load_catalogue(default_catalogue_path())
    messages = simulate_journeys(
        catalogue, shoppers=40, seed=11, start=datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    )
    settings = CollectorSettings(
        write_keys={"miniprogram": WRITE_KEY}, kafka=KafkaSettings(bootstrap_servers=bootstrap)
    )
    batches = [messages[start : start + 100] for start in range(0, len(messages), 100)]
    with serving(create_app(settings)) as collector_url:
        for batch in batches:
            response = httpx.post(f"{collector_url}/v1/batch", json={"batch": batch, "writeKey": WRITE_KEY})
            assert response.status_code == 200, response.text
        # A client that never saw the first answer retries: the warehouse must still count each event once.
        retry = httpx.post(f"{collector_url}/v1/batch", json={"batch": batches[0], "writeKey": WRITE_KEY})
        assert retry.status_code == 200

        # segment-analytics-python, unmodified: it posts to host + /v1/batch with writeKey in the body.
        client = segment_analytics.Client(write_key=WRITE_KEY, host=collector_url, sync_mode=True)
        segment_ids = []
        for product_id in ("85123A", "71053"):
            _, message = client.track(
                user_id="u-server-side",
                event="Product Viewed",
                properties={"product_id": product_id, "price": 26.85},
                timestamp=SERVER_SIDE_VIEW_AT,
            )
            segment_ids.append(message["messageId"])
        client.flush()

    expected_count = len(messages) + len(segment_ids)
    deadline = time.monotonic() + 120
    while _lake_message_count(data_dir) < expected_count:
        assert sink_worker.poll() is None, f"the sink died: {stack.log_tail(data_dir / 'sink.log', 2000)}"
        assert time.monotonic() < deadline, (
            f"the lake has {_lake_message_count(data_dir)} of {expected_count}"
        )
        time.sleep(0.5)

    warehouse = WarehouseSettings(data_dir=data_dir)
    assert build_and_publish(warehouse, warm_dbt=warm_dbt) == 0
    yield messages, segment_ids, warehouse.warehouse_path


def test_tracked_shoppers_travel_from_the_collector_to_the_funnel_mart_exactly_once(
    published: tuple[list[dict[str, Any]], list[str], Path],
) -> None:
    messages, _, warehouse_path = published
    expected = _expected_funnel(messages)
    assert sum(row["paid_shoppers"] for row in expected.values()) > 0, (
        "the sample must include paying shoppers"
    )

    with duckdb.connect(str(warehouse_path), read_only=True) as connection:
        rows = connection.execute(
            "select cast(event_date as varchar), channel, scene, "
            "viewed_shoppers, added_shoppers, checkout_shoppers, paid_shoppers from fct_funnel_daily"
        ).fetchall()
        staged = connection.execute(
            "select count(*), count(distinct message_id) from staging.stg_lake__events where source_name = ? "
            "and user_id is distinct from 'u-server-side'",
            ["miniprogram"],
        ).fetchone()
    assert staged == (len(messages), len(messages)), "each event must reach the warehouse exactly once"
    actual = {
        (event_date, channel, scene): {
            "viewed_shoppers": viewed,
            "added_shoppers": added,
            "checkout_shoppers": checkout,
            "paid_shoppers": paid,
        }
        for event_date, channel, scene, viewed, added, checkout, paid in rows
        if viewed or added or checkout or paid
    }
    # The Segment client's server-side views: one shopper, no WeChat scene.
    server_side = actual.pop((SERVER_SIDE_VIEW_AT.astimezone(SHOP_TZ).date().isoformat(), "direct", 0))
    assert server_side == {
        "viewed_shoppers": 1,
        "added_shoppers": 0,
        "checkout_shoppers": 0,
        "paid_shoppers": 0,
    }
    assert actual == expected


def test_an_unmodified_segment_analytics_python_client_reaches_the_warehouse(
    published: tuple[list[dict[str, Any]], list[str], Path],
) -> None:
    _, segment_ids, warehouse_path = published
    with duckdb.connect(str(warehouse_path), read_only=True) as connection:
        rows = connection.execute(
            "select message_id, event_name, product_id, price_fen, channel from staging.stg_lake__events "
            "where user_id = 'u-server-side' order by product_id"
        ).fetchall()
    assert sorted(row[0] for row in rows) == sorted(segment_ids)
    assert [row[1:] for row in rows] == [
        ("Product Viewed", "71053", 2685, "direct"),
        ("Product Viewed", "85123A", 2685, "direct"),
    ]
