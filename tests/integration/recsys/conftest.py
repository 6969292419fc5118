"""Online Retail, cut to a deterministic sample small enough for `make test`."""

from __future__ import annotations

import polars as pl
import pytest

from recsys.dataset import RetailData, load_online_retail

SAMPLE_CUSTOMERS = 300


@pytest.fixture(scope="session")
def online_retail_sample() -> RetailData:
    """The 300 customers with the most invoices (ties by id), and every purchase they made."""
    data = load_online_retail()
    top = (
        data.interactions.group_by("person_id")
        .agg(pl.col("basket_id").n_unique().alias("invoices"))
        .sort(["invoices", "person_id"], descending=[True, False])
        .head(SAMPLE_CUSTOMERS)
    )
    interactions = data.interactions.join(top.select("person_id"), on="person_id", how="semi")
    return RetailData(interactions=interactions, products=data.products, dropped=data.dropped)
