"""The recommender's input from the published warehouse: purchases, views and add-to-carts, products, shoppers.

Purchases come from ``fct_order_items`` (paid lines, basket = order), views and add-to-carts from
``stg_lake__events`` (Product Viewed / Product Added), names and categories from ``dim_products``, region
and acquisition channel from ``dim_users``. Shoppers are keyed by their order-core ``user_id`` when they
have logged in (the id the API serves by), else by their ``person_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

TABLES = ("fct_order_items", "stg_lake__events", "dim_products", "dim_users")


@dataclass(frozen=True)
class WarehouseData:
    """The three frames :func:`recsys.train.train` takes.

    Attributes
    ----------
    interactions : polars.DataFrame
        The interactions contract (see :mod:`recsys.dataset`), with ``basket_id`` on purchases.
    products : polars.DataFrame
        ``product_id``, ``name``, ``category``.
    shoppers : polars.DataFrame
        ``person_id``, ``region`` (province), ``channel`` (acquisition channel).
    """

    interactions: pl.DataFrame
    products: pl.DataFrame
    shoppers: pl.DataFrame

    @property
    def purchases(self) -> int:
        return self.interactions.filter(pl.col("kind") == "purchase").height


def read_warehouse(path: Path) -> WarehouseData:
    """Read the recommender's frames from the published DuckDB warehouse at ``path`` (read-only).

    Raises
    ------
    FileNotFoundError
        When there is no warehouse at ``path``.
    ValueError
        When a mart the recommender needs is missing.
    """
    import duckdb

    if not path.exists():
        raise FileNotFoundError(f"no published warehouse at {path}")
    with duckdb.connect(str(path), read_only=True) as connection:
        found = dict(
            connection.execute(
                "select table_name, table_schema from information_schema.tables where table_name in (?, ?, ?, ?)",
                list(TABLES),
            ).fetchall()
        )
        missing = [table for table in TABLES if table not in found]
        if missing:
            raise ValueError(f"the warehouse at {path} misses {missing}; build it with dbt first")
        # identifiers come from information_schema, never from input
        items, events, products, users = (f'"{found[t]}"."{t}"' for t in TABLES)
        who = "coalesce(users.user_id, {alias}.person_id)"
        interactions = connection.sql(
            f"""
            select {who.format(alias="items")} as person_id, items.product_id, 'purchase' as kind,
                   cast(items.placed_date as timestamp) at time zone 'UTC' + interval 12 hour as occurred_at,
                   greatest(items.quantity, 1) as quantity, items.order_id as basket_id
            from {items} as items left join {users} as users using (person_id)
            where items.is_paid and items.product_id is not null
            union all
            select {who.format(alias="events")},
                   events.product_id,
                   case events.event_name when 'Product Viewed' then 'view' else 'add_to_cart' end,
                   events.event_at, 1, null
            from {events} as events left join {users} as users using (person_id)
            where events.event_name in ('Product Viewed', 'Product Added') and events.product_id is not null
            """
        ).pl()
        catalogue = connection.sql(
            f"select product_id, name, category from {products} where product_id is not null"
        ).pl()
        shoppers = connection.sql(
            f"""
            select coalesce(user_id, person_id) as person_id, province as region, acquisition_channel as channel
            from {users}
            """
        ).pl()
    interactions = interactions.with_columns(
        pl.col("occurred_at").dt.replace_time_zone(None).dt.replace_time_zone("UTC")
        if getattr(interactions.schema["occurred_at"], "time_zone", None) is None
        else pl.col("occurred_at").dt.convert_time_zone("UTC"),
        pl.col("quantity").cast(pl.Int64),
    )
    return WarehouseData(
        interactions=interactions,
        products=catalogue,
        shoppers=shoppers.unique("person_id", keep="first", maintain_order=True),
    )
