"""Shared recsys fixtures: a checkerboard shop whose right answers are known, and an interactions frame factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

START = datetime(2024, 3, 1, tzinfo=UTC)
InteractionsFactory = Callable[[list[tuple[str, str, str, int]]], pl.DataFrame]


@pytest.fixture
def checkerboard() -> sp.csr_matrix:
    """40 shoppers × 20 products in two blocks: shoppers 0-19 buy products 0-9, shoppers 20-39 buy 10-19.

    Each shopper misses two products of their own block (a diagonal pattern), which the model must find.
    """
    rows, columns = [], []
    for user in range(40):
        block = 0 if user < 20 else 10
        missing = {block + user % 10, block + (user + 5) % 10}
        for item in range(block, block + 10):
            if item not in missing:
                rows.append(user)
                columns.append(item)
    return sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(40, 20))


@pytest.fixture
def make_interactions() -> InteractionsFactory:
    """Build an interactions frame from (person_id, product_id, kind, day) rows; day 0 is 2024-03-01 UTC."""

    def make(rows: list[tuple[str, str, str, int]]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "person_id": [r[0] for r in rows],
                "product_id": [r[1] for r in rows],
                "kind": [r[2] for r in rows],
                "occurred_at": [START + timedelta(days=r[3]) for r in rows],
                "quantity": [1] * len(rows),
                "basket_id": [f"{r[0]}-{r[3]}" for r in rows],
            },
            schema={
                "person_id": pl.String,
                "product_id": pl.String,
                "kind": pl.String,
                "occurred_at": pl.Datetime("us", "UTC"),
                "quantity": pl.Int64,
                "basket_id": pl.String,
            },
        )

    return make
