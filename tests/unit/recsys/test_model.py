from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.model import ALSModel, ALSParams, complement_table

SMALL = ALSParams(
    factors=4, regularization=0.1, iterations=20, weighting="confidence", alpha=1.0, random_state=7
)


def test_the_model_learns_the_checkerboard_and_recommends_only_from_the_shoppers_own_block(
    checkerboard: sp.csr_matrix,
) -> None:
    model = ALSModel(SMALL, num_threads=1).fit(checkerboard)
    users = np.arange(40)

    ids, _ = model.recommend(users, checkerboard[users], n=2)

    for user, items in zip(users, ids, strict=True):
        block = range(0, 10) if user < 20 else range(10, 20)
        assert set(items.tolist()) <= set(block), f"shopper {user} got {items} outside their block"
        assert not set(items.tolist()) & set(checkerboard[user].indices.tolist())


def test_similar_items_stay_inside_the_block_and_never_return_the_item_itself(
    checkerboard: sp.csr_matrix,
) -> None:
    model = ALSModel(SMALL, num_threads=1).fit(checkerboard)

    ids, scores = model.similar_items(3, n=5)

    assert 3 not in ids.tolist()
    assert set(ids.tolist()) <= set(range(10))
    assert np.all(np.diff(scores) <= 1e-6)


def test_the_same_seed_on_the_same_matrix_gives_the_same_factors(checkerboard: sp.csr_matrix) -> None:
    first = ALSModel(SMALL, num_threads=1).fit(checkerboard)
    second = ALSModel(SMALL, num_threads=1).fit(checkerboard)

    np.testing.assert_allclose(first.item_factors, second.item_factors, rtol=1e-5, atol=1e-6)


def test_filtered_items_are_never_recommended(checkerboard: sp.csr_matrix) -> None:
    model = ALSModel(SMALL, num_threads=1).fit(checkerboard)
    unfiltered, _ = model.recommend(0, checkerboard[0], n=2)

    filtered, _ = model.recommend(0, checkerboard[0], n=2, filter_items=np.asarray([unfiltered[0]]))

    assert unfiltered[0] not in filtered.tolist()


def test_bad_input_is_refused_with_a_precise_reason(checkerboard: sp.csr_matrix) -> None:
    with pytest.raises(ValueError, match="factors must be >= 1"):
        ALSParams(factors=0)
    with pytest.raises(ValueError, match="weighting must be"):
        ALSParams(weighting="tfidf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="CSR"):
        ALSModel(SMALL).fit(checkerboard.tocoo())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no interactions"):
        ALSModel(SMALL).fit(sp.csr_matrix((3, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="not fitted"):
        ALSModel(SMALL).recommend(0, checkerboard[0])
    model = ALSModel(SMALL, num_threads=1).fit(checkerboard)
    with pytest.raises(ValueError, match="userid out of range"):
        model.recommend(40, checkerboard[0])
    with pytest.raises(ValueError, match="itemid 20 out of range"):
        model.similar_items(20)


def test_complements_are_what_shoppers_put_in_the_same_basket() -> None:
    # products: 0 coffee, 1 creamer, 2 umbrella, 3 raincoat
    baskets = [[0, 1]] * 4 + [[2, 3]] * 3 + [[0, 2]] + [[0]] * 2
    rows = [b for b, items in enumerate(baskets) for _ in items]
    columns = [item for items in baskets for item in items]
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(len(baskets), 4))

    table = complement_table(matrix, k=2, min_baskets=2)

    assert table[0].indices.tolist() == [1]  # coffee → creamer; coffee + umbrella was seen once only
    assert table[2].indices.tolist() == [3]
    assert table[0, 0] == 0


def test_save_writes_plain_arrays(tmp_path: Path, checkerboard: sp.csr_matrix) -> None:
    model = ALSModel(SMALL, num_threads=1).fit(checkerboard)
    np.savez(tmp_path / "factors.npz", items=model.item_factors)

    with np.load(tmp_path / "factors.npz", allow_pickle=False) as data:
        assert data["items"].dtype == np.float32
