"""The recommender reads purchases, views, add-to-carts, products and shoppers from a published warehouse."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from recsys.dataset import build_interaction_matrix
from recsys.warehouse import read_warehouse


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """The four marts the recommender reads, as dbt publishes them (staging models in their own schema)."""
    path = tmp_path / "shoploop.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema staging")
        connection.execute(
            """
            create table fct_order_items as select * from (values
                ('o1-1', 'o1', 1, 'anon-ana', 'p-coffee', 2, 2500, 5000, true, date '2026-05-01'),
                ('o1-2', 'o1', 2, 'anon-ana', 'p-creamer', 1, 900, 900, true, date '2026-05-01'),
                ('o2-1', 'o2', 1, 'anon-bo', 'p-tea', 1, 3000, 3000, false, date '2026-05-02')
            ) as t(order_item_id, order_id, line_number, person_id, product_id, quantity, unit_price_fen,
                   line_fen, is_paid, placed_date)
            """
        )
        connection.execute(
            """
            create table staging.stg_lake__events as select * from (values
                ('anon-bo', 'Product Viewed', 'p-tea', timestamptz '2026-05-02 08:00:00+00'),
                ('anon-bo', 'Product Added', 'p-tea', timestamptz '2026-05-02 08:01:00+00'),
                ('anon-bo', 'Order Completed', null, timestamptz '2026-05-02 08:02:00+00')
            ) as t(person_id, event_name, product_id, event_at)
            """
        )
        connection.execute(
            """
            create table dim_products as select * from (values
                ('p-coffee', '挂耳咖啡', '咖啡'), ('p-creamer', '奶球', '咖啡'), ('p-tea', '乌龙茶', '茶')
            ) as t(product_id, name, category)
            """
        )
        connection.execute(
            """
            create table dim_users as select * from (values
                ('anon-ana', 'u-ana', '广东', 'share_group_chat'), ('anon-bo', null, null, 'search')
            ) as t(person_id, user_id, province, acquisition_channel)
            """
        )
    return path


def test_paid_order_lines_views_and_add_to_carts_become_interactions_keyed_by_the_logged_in_user(
    warehouse: Path,
) -> None:
    data = read_warehouse(warehouse)

    rows = sorted(data.interactions.select("person_id", "product_id", "kind", "basket_id").iter_rows())
    assert rows == [
        ("anon-bo", "p-tea", "add_to_cart", None),
        ("anon-bo", "p-tea", "view", None),
        ("u-ana", "p-coffee", "purchase", "o1"),
        ("u-ana", "p-creamer", "purchase", "o1"),
    ]  # the unpaid order line is not a purchase
    assert data.purchases == 2
    assert data.interactions["occurred_at"].min() == datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert build_interaction_matrix(data.interactions).shape == (2, 3)


def test_products_and_shoppers_come_with_their_names_regions_and_channels(warehouse: Path) -> None:
    data = read_warehouse(warehouse)

    assert dict(zip(data.products["product_id"], data.products["name"], strict=True))["p-creamer"] == "奶球"
    assert sorted(data.shoppers.iter_rows()) == [
        ("anon-bo", None, "search"),
        ("u-ana", "广东", "share_group_chat"),
    ]


def test_a_missing_warehouse_or_mart_is_named(tmp_path: Path, warehouse: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no published warehouse"):
        read_warehouse(tmp_path / "nowhere.duckdb")
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("drop table dim_users")
    with pytest.raises(ValueError, match=r"misses \['dim_users'\]"):
        read_warehouse(warehouse)
