from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recsys.dataset import basket_matrix, build_interaction_matrix
from recsys.model import ALSModel, ALSParams, Recommender

Make = Callable[[list[tuple[str, str, str, int]]], pl.DataFrame]
PARAMS = ALSParams(
    factors=4, regularization=0.1, iterations=20, weighting="confidence", alpha=1.0, random_state=7
)
COFFEE = [f"coffee-{i}" for i in range(10)]
TEA = [f"tea-{i}" for i in range(10)]


def build_shop(make_interactions: Make, *, repurchasable: tuple[str, ...] = ()) -> Recommender:
    """Twenty coffee drinkers and twenty tea drinkers; each skipped two products of their own kind.

    Each shopper buys three products per day, so products 0-2, 3-5 and 6-8 share baskets.
    """
    rows = []
    for person in range(40):
        shelf = COFFEE if person < 20 else TEA
        skipped = {person % 10, (person + 5) % 10}
        rows += [(f"p{person:02d}", shelf[i], "purchase", i // 3) for i in range(10) if i not in skipped]
    rows += [("p00", "tea-9", "view", 12)]  # ana once looked at a tea
    frame = make_interactions(rows)
    matrix = build_interaction_matrix(frame)
    products = pl.DataFrame(
        {
            "product_id": COFFEE + TEA,
            "name": [f"Coffee No.{i}" for i in range(10)] + [f"Tea No.{i}" for i in range(10)],
            "category": ["coffee"] * 10 + ["tea"] * 10,
        }
    )
    model = ALSModel(PARAMS, num_threads=1).fit(matrix.user_items)
    return Recommender.from_training(
        matrix,
        model,
        baskets=basket_matrix(frame, matrix.product_ids),
        products=products,
        repurchasable_categories=repurchasable,
        metadata={"data_window": {"start": "2024-03-01"}},
    )


@pytest.fixture
def shop(make_interactions: Make) -> Recommender:
    return build_shop(make_interactions)


def ids(recommendations: list[object]) -> list[str]:
    return [r.product_id for r in recommendations]  # type: ignore[attr-defined]


def test_a_coffee_drinker_is_offered_the_coffees_they_have_not_bought_yet(shop: Recommender) -> None:
    recommendations = shop.recommend_for("p00", n=2)

    assert set(ids(recommendations)) == {"coffee-0", "coffee-5"}


def test_already_purchased_products_are_not_recommended_again(make_interactions: Make) -> None:
    shop = build_shop(make_interactions)
    consumables_shop = build_shop(make_interactions, repurchasable=("coffee",))
    bought = {f"coffee-{i}" for i in (1, 2, 3, 4, 6, 7, 8, 9)}

    recommended = set(ids(shop.recommend_for("p00", n=10)))
    recommended_again = set(ids(consumables_shop.recommend_for("p00", n=10)))

    assert not recommended & bought
    # the same scores put bought coffees at the top when coffee is a consumable: the rule is what removes them
    assert recommended_again & bought


def test_a_product_bought_since_the_training_is_not_recommended_unless_it_is_a_consumable(
    make_interactions: Make,
) -> None:
    shop = build_shop(make_interactions)
    consumables_shop = build_shop(make_interactions, repurchasable=("coffee",))
    favourite = shop.recommend_for("p00", n=1)[0].product_id

    assert favourite not in ids(shop.recommend_for("p00", n=5, purchased={favourite}))
    assert favourite in ids(consumables_shop.recommend_for("p00", n=10, purchased={favourite}))


def test_a_sold_out_set_reused_across_requests_follows_its_content(shop: Recommender) -> None:
    favourite = shop.recommend_for("p00", n=1)[0].product_id
    sold_out = frozenset({favourite})

    assert favourite not in ids(shop.recommend_for("p00", n=5, out_of_stock=sold_out))
    assert favourite not in ids(shop.recommend_for("p00", n=5, out_of_stock=sold_out))
    assert favourite in ids(shop.recommend_for("p00", n=5, out_of_stock=frozenset()))


def test_a_product_the_shopper_hid_is_never_shown_to_them(shop: Recommender) -> None:
    favourite = shop.recommend_for("p00", n=1)[0].product_id

    recommended = ids(shop.recommend_for("p00", n=5, hidden=[favourite, "no-such-product"]))

    assert favourite not in recommended
    assert len(recommended) == 5


def test_out_of_stock_products_are_left_out_everywhere(shop: Recommender) -> None:
    favourite = shop.recommend_for("p00", n=1)[0].product_id
    best_partner = shop.complements("coffee-1", n=1)[0].product_id
    most_similar = shop.similar("coffee-1", n=1)[0].product_id
    most_popular = shop.recommend_for("newcomer", n=1)[0].product_id

    assert favourite not in ids(shop.recommend_for("p00", n=5, out_of_stock=[favourite]))
    assert best_partner not in ids(shop.complements("coffee-1", n=5, out_of_stock=[best_partner]))
    assert most_similar not in ids(shop.similar("coffee-1", n=5, out_of_stock=[most_similar]))
    assert most_popular not in ids(shop.recommend_for("newcomer", n=5, out_of_stock=[most_popular]))


def test_a_category_filter_keeps_only_that_category(shop: Recommender) -> None:
    recommended = ids(shop.recommend_for("p00", n=5, category="tea"))

    assert len(recommended) == 5
    assert all(product_id.startswith("tea-") for product_id in recommended)
    assert "tea-9" in recommended  # viewed, not bought: still allowed


def test_every_recommendation_says_why_it_is_shown(shop: Recommender) -> None:
    personal = shop.recommend_for("p00", n=2)
    cold = shop.recommend_for("newcomer", n=2)
    similar = shop.similar("coffee-1", n=2)
    partners = shop.complements("coffee-1", n=2)

    assert len(personal) == len(cold) == len(similar) == len(partners) == 2
    assert all(r.reason.startswith("because you bought Coffee No.") for r in personal)
    assert all(r.reason == "popular right now" for r in cold)
    assert all(r.reason == "similar to Coffee No.1" for r in similar)
    assert all(r.reason == "often bought with Coffee No.1" for r in partners)


def test_a_viewed_product_is_given_as_the_reason_with_the_word_viewed(shop: Recommender) -> None:
    reasons = {r.reason for r in shop.recommend_for("p00", n=3, category="tea")}

    assert "because you viewed Tea No.9" in reasons


def test_a_new_shopper_gets_the_most_popular_products(shop: Recommender) -> None:
    popularity = dict(zip(shop.product_ids.tolist(), shop.popularity.tolist(), strict=True))

    recommended = ids(shop.recommend_for("newcomer", n=3))

    assert recommended == sorted(popularity, key=lambda p: (-popularity[p], p))[:3]


def test_unknown_products_and_bad_list_lengths_are_refused(shop: Recommender) -> None:
    with pytest.raises(ValueError, match="unknown product_id 'kettle'"):
        shop.similar("kettle")
    with pytest.raises(ValueError, match="n must be >= 1"):
        shop.recommend_for("p00", n=0)


def test_save_then_load_gives_identical_recommendations(shop: Recommender, tmp_path: Path) -> None:
    path = shop.save(tmp_path / "model")

    loaded = Recommender.load(path)

    assert path.name == "model.npz"
    for person in [f"p{i:02d}" for i in range(40)] + ["newcomer"]:
        assert loaded.recommend_for(person, n=5) == shop.recommend_for(person, n=5)
    for product in COFFEE + TEA:
        assert loaded.similar(product, n=5) == shop.similar(product, n=5)
        assert loaded.complements(product, n=5) == shop.complements(product, n=5)
    assert loaded.metadata == {"data_window": {"start": "2024-03-01"}}
    assert loaded.model.params == PARAMS


def test_loading_refuses_pickled_content(shop: Recommender, tmp_path: Path) -> None:
    path = shop.save(tmp_path / "model.npz")
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["metadata"] = np.asarray([{"run": "evil"}], dtype=object)
    np.savez(tmp_path / "pickled.npz", allow_pickle=True, **arrays)

    with pytest.raises(ValueError, match="pickled objects"):
        Recommender.load(tmp_path / "pickled.npz")


def test_loading_refuses_a_file_that_is_not_a_recommender(tmp_path: Path) -> None:
    np.savez(tmp_path / "other.npz", item_factors=np.zeros((2, 2), dtype=np.float32))

    with pytest.raises(ValueError, match="not a shoploop-recsys/1 artifact"):
        Recommender.load(tmp_path / "other.npz")
