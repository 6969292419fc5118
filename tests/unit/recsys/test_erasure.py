"""Erasure (PIPL): `privacy forget` takes a shopper out of every saved model run and out of serving's memory."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from api.adapters.recommender import LiveRecommender
from recsys.dataset import build_interaction_matrix
from recsys.erasure import id_digest, without_people
from recsys.freshness import RecentInteraction, RecentInteractions, ShopperSegment, StreamedInteraction
from recsys.model import ALSModel, ALSParams, Recommender
from recsys.registry import ModelRegistry

Make = Callable[[list[tuple[str, str, str, int]]], pl.DataFrame]
MONDAY = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)
LILY = "u-lily"


@pytest.fixture
def shop(make_interactions: Make) -> Recommender:
    """Lily from Guangdong is the only one who bought the silk scarf; tea and coffee drinkers fill the shop."""
    rows = [(LILY, "silk-scarf", "purchase", 1), (LILY, "tea", "purchase", 2), (LILY, "coffee", "view", 3)]
    shoppers = [(LILY, "广东", "share_group_chat")]
    for person in range(6):
        rows += [(f"gd{person}", "tea", "purchase", 2), (f"gd{person}", "teapot", "view", 1)]
        shoppers.append((f"gd{person}", "广东", "search"))
        rows += [(f"sh{person}", "coffee", "purchase", 2), (f"sh{person}", "mug", "purchase", 1)]
        shoppers.append((f"sh{person}", "浙江", "share_group_chat"))
    matrix = build_interaction_matrix(make_interactions(rows))
    model = ALSModel(ALSParams(factors=3, iterations=5), num_threads=1).fit(matrix.user_items)
    frame = pl.DataFrame(
        {
            "person_id": [s[0] for s in shoppers],
            "region": [s[1] for s in shoppers],
            "channel": [s[2] for s in shoppers],
        }
    )
    return Recommender.from_training(matrix, model, shoppers=frame, min_segment_shoppers=2)


def traces_of(person_id: str, folder: Path) -> list[Path]:
    """Files under ``folder`` whose bytes hold the id (numpy stores strings as UTF-32, JSON as UTF-8)."""
    needles = [person_id.encode(), person_id.encode("utf-32-le")]
    return [
        path
        for path in folder.rglob("*")
        if path.is_file() and any(needle in path.read_bytes() for needle in needles)
    ]


def shown(recommender: Recommender, person_id: str) -> list[tuple[str, str]]:
    return [(r.product_id, r.why.code) for r in recommender.recommend_for(person_id, n=4)]


def test_an_erased_shopper_gets_the_non_personal_fallback_and_another_shoppers_list_is_unchanged(
    shop: Recommender,
) -> None:
    assert LILY in shop.person_index
    before_gd0 = shown(shop, "gd0")

    erased, rows = without_people(shop, ["phone-lily", LILY])

    assert rows == 1
    assert LILY not in erased.person_index
    assert LILY not in erased.shopper_segments
    assert erased.model.user_factors.shape[0] == shop.model.user_factors.shape[0] - 1
    assert erased.purchased.shape[0] == erased.interacted.shape[0] == erased.confidences.shape[0] == 12  # type: ignore[union-attr]
    assert {code for _, code in shown(erased, LILY)} == {"popular"}  # nothing personal, no region of hers
    assert shown(erased, "gd0") == before_gd0


def test_the_erased_shoppers_purchases_leave_the_popularity_and_the_hot_lists(shop: Recommender) -> None:
    scarf = shop.product_index["silk-scarf"]
    assert shop.popularity[scarf] > 0 and shop.region_popularity["广东"][scarf] > 0

    erased, _ = without_people(shop, [LILY])

    assert erased.popularity[scarf] == 0
    assert erased.region_popularity["广东"][scarf] == 0
    assert erased.channel_popularity["share_group_chat"][scarf] == 0
    assert erased.popularity[shop.product_index["mug"]] == shop.popularity[shop.product_index["mug"]]


def test_a_recommender_without_the_shopper_is_returned_as_is(shop: Recommender) -> None:
    same, rows = without_people(shop, ["someone-else"])

    assert same is shop and rows == 0


def test_every_saved_run_live_kept_for_rollback_or_rejected_loses_the_shopper_on_disk(
    tmp_path: Path, shop: Recommender
) -> None:
    registry = ModelRegistry(tmp_path / "models")
    runs = []
    for day, score in enumerate((0.10, 0.12, 0.15)):
        runs.append(registry.save_run(shop, validation_score=score, now=MONDAY + timedelta(days=day)).run_id)
        registry.promote_best()
    registry.rollback()  # the newest is rejected, an older one is live, the oldest is kept
    before_gd0 = shown(registry.load_live(), "gd0")
    assert traces_of(LILY, registry.root)
    generation = registry.erasure_log().generation

    removed = registry.erase_people([LILY, "phone-lily"])

    assert removed == dict.fromkeys(runs, 1)
    assert traces_of(LILY, registry.root) == []
    for card in registry.runs():
        assert LILY not in Recommender.load(card.model_path).person_index
    assert shown(registry.load_live(), "gd0") == before_gd0
    assert {code for _, code in shown(registry.load_live(), LILY)} == {"popular"}
    log = registry.erasure_log()
    assert log.generation == generation + 1
    assert id_digest(LILY) in log.id_digests


def test_forgetting_twice_rewrites_nothing_the_second_time(tmp_path: Path, shop: Recommender) -> None:
    registry = ModelRegistry(tmp_path / "models")
    run = registry.save_run(shop, validation_score=0.1, now=MONDAY)
    registry.erase_people([LILY])
    written_at = run.model_path.stat().st_mtime_ns

    assert registry.erase_people([LILY]) == {}
    assert run.model_path.stat().st_mtime_ns == written_at


def test_a_run_saved_after_the_erasure_from_data_read_before_it_does_not_bring_the_shopper_back(
    tmp_path: Path, shop: Recommender
) -> None:
    registry = ModelRegistry(tmp_path / "models")
    registry.erase_people([LILY])  # nothing saved yet: only the log

    card = registry.save_run(shop, validation_score=0.1, now=MONDAY)  # a training that read the old warehouse

    assert LILY not in Recommender.load(card.model_path).person_index
    assert traces_of(LILY, registry.root) == []


def test_the_freshness_store_drops_an_erased_shopper_and_refuses_her_late_events(shop: Recommender) -> None:
    store = RecentInteractions()
    viewed = RecentInteraction("coffee", "view", MONDAY)
    store.apply(StreamedInteraction((LILY, "phone-lily"), viewed, ShopperSegment(region="广东")))
    store.apply(StreamedInteraction(("gd0",), viewed, ShopperSegment()))

    assert store.forget({id_digest(LILY), id_digest("phone-lily")}) == 2
    store.apply(StreamedInteraction((LILY,), viewed, ShopperSegment()))  # already on Kafka at the erasure

    assert store.recent(LILY) == () and store.recent("phone-lily") == ()
    assert store.segment(LILY) == ShopperSegment()
    assert store.recent("gd0") == (viewed,)


def test_a_serving_process_drops_the_erased_shopper_at_its_next_registry_check(
    tmp_path: Path,
    shop: Recommender,
) -> None:
    registry = ModelRegistry(tmp_path / "models")
    registry.save_run(shop, validation_score=0.1, now=MONDAY)
    fresh = RecentInteractions()
    live = LiveRecommender(
        registry.load_live,
        live_version=lambda: registry.promote_best().run_id,
        erasures=registry.erasure_log,
        reload_after_s=0,
        fresh=fresh,
    )
    served = live.get()
    assert served is not None and LILY in served.person_index
    fresh.apply(
        StreamedInteraction((LILY,), RecentInteraction("mug", "view", MONDAY), ShopperSegment(region="广东"))
    )
    version = live.version

    registry.erase_people([LILY])
    deadline = time.monotonic() + 10
    while (current := live.get()) is served and time.monotonic() < deadline:
        time.sleep(0.02)  # the reload runs on a background thread

    assert current is not None and current is not served
    assert LILY not in current.person_index
    assert fresh.recent(LILY) == ()
    assert {r.why.code for r in current.recommend_for(LILY, n=3)} == {"popular"}
    assert live.version == version  # the same run, rewritten: the answers' model_version does not change
