from __future__ import annotations

from pathlib import Path

from recsys.dataset import InteractionWeights, RetailData
from recsys.evaluate import default_rankers, evaluate, format_table, time_split
from recsys.model import ALSParams
from recsys.registry import ModelRegistry
from recsys.settings import RecsysSettings
from recsys.train import train

PARAMS = ALSParams(
    factors=32, regularization=0.05, alpha=0.5, iterations=15, weighting="bm25", random_state=42
)
WEIGHTS = InteractionWeights(half_life_days=14)


def test_als_beats_global_popularity_on_the_busiest_online_retail_customers(
    online_retail_sample: RetailData,
) -> None:
    split = time_split(online_retail_sample.interactions, test_days=30)

    report = evaluate(default_rankers(PARAMS, num_threads=2), split, weights=WEIGHTS, k=10)

    print(
        f"\nOnline Retail, top 300 customers, test from {report.cutoff:%Y-%m-%d}, {report.n_users} shoppers"
    )
    print(format_table(report))
    assert report.n_users > 100
    assert report.result("ALS").ndcg > report.result("global popularity").ndcg
    assert report.result("ALS").coverage > report.result("global popularity").coverage


def test_a_training_run_lands_in_the_registry_and_serves_recommendations(
    online_retail_sample: RetailData, tmp_path: Path
) -> None:
    settings = RecsysSettings(registry_dir=tmp_path, search_trials=2, num_threads=2)

    run = train(
        settings,
        interactions=online_retail_sample.interactions,
        products=online_retail_sample.products,
        show_progress=False,
    )
    live = ModelRegistry(tmp_path).load_live()

    assert run.card.model_path.exists()
    assert len(run.search.trials) == 2
    assert run.card.data_window["end"] > run.card.data_window["test_cutoff"] > run.card.data_window["start"]
    assert run.card.metrics["models"]["ALS"]["ndcg@10"] > 0
    customer = str(live.person_ids[0])
    recommendations = live.recommend_for(customer, n=10)
    assert len(recommendations) == 10
    assert all(r.reason for r in recommendations)
    # WHITE HANGING HEART T-LIGHT HOLDER, the best seller: something is always bought with it
    assert live.complements("85123A", n=3)
