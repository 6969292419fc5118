"""Seed the catalogue from the bundled Online Retail data: products by stock-code family, SKUs by variant."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from api.service_layer import catalogue
from api.service_layer.unit_of_work import UnitOfWork
from shoploop.online_retail import ONLINE_RETAIL_PATH, gbp_to_fen

ONLINE_RETAIL = ONLINE_RETAIL_PATH
COLOURS = (
    "RED",
    "BLUE",
    "PINK",
    "GREEN",
    "WHITE",
    "BLACK",
    "IVORY",
    "PURPLE",
    "YELLOW",
    "ORANGE",
    "SILVER",
    "GOLD",
)
CATEGORIES = {
    "Bags": ("BAG", "CASE", "PURSE"),
    "Candles & lights": ("CANDLE", "LIGHT", "LANTERN", "T-LIGHT"),
    "Kitchen": ("MUG", "CUP", "PLATE", "BOWL", "TEA", "CAKE", "JAR", "BOTTLE"),
    "Decoration": ("HEART", "SIGN", "DECORATION", "FRAME", "CLOCK", "HANGING"),
    "Stationery": ("CARD", "PAPER", "NOTEBOOK", "PEN", "WRAP", "STICKER"),
}
FAMILY = re.compile(r"^(\d{5})([A-Z]*)$")


def category_for(description: str) -> str:
    words = description.upper()
    for category, keywords in CATEGORIES.items():
        if any(keyword in words for keyword in keywords):
            return category
    return "Gifts"


def colour_of(description: str) -> str:
    words = description.upper().split()
    return next((colour.lower() for colour in COLOURS if colour in words), "")


def load_products(path: Path = ONLINE_RETAIL, *, limit: int = 200) -> list[dict[str, Any]]:
    """The `limit` best-selling stock-code families, each with its variants as SKUs (price: the median GBP
    price converted to fen at the same rate the simulator and the warehouse use)."""
    import polars as pl

    sales = (
        pl.read_parquet(path, columns=["StockCode", "Description", "Quantity", "UnitPrice"])
        .filter((pl.col("Quantity") > 0) & (pl.col("UnitPrice") > 0) & pl.col("Description").is_not_null())
        .with_columns(pl.col("StockCode").str.to_uppercase())
        .filter(pl.col("StockCode").str.contains(r"^\d{5}[A-Z]*$"))
        .group_by("StockCode")
        .agg(
            pl.col("Description").mode().first().alias("description"),
            pl.col("UnitPrice").median().alias("price"),
            pl.col("Quantity").sum().alias("units"),
        )
        .with_columns(pl.col("StockCode").str.slice(0, 5).alias("family"))
    )
    families = (
        sales.group_by("family")
        .agg(pl.col("units").sum())
        .sort(["units", "family"], descending=[True, False])
        .head(limit)
    )
    chosen = sales.join(families.select("family"), on="family").sort(["family", "StockCode"])
    products: dict[str, dict[str, Any]] = {}
    for row in chosen.iter_rows(named=True):
        family = row["family"]
        description = str(row["description"]).strip()
        product = products.setdefault(
            family,
            {
                "product_id": f"p{family}",
                "title": description.title()[:128],
                "category": category_for(description),
                "description": description,
                "skus": [],
            },
        )
        product["skus"].append(
            {
                "sku_id": f"k{row['StockCode']}",
                "colour": colour_of(description),
                "size": "",
                "price_fen": max(1, gbp_to_fen(float(row["price"]))),
                "stock": 50 + int(row["units"]) % 200,
            }
        )
    return list(products.values())


def seed_catalogue_if_empty(uow: UnitOfWork, *, now: datetime, limit: int = 200) -> int:
    if catalogue.has_products(uow) or not ONLINE_RETAIL.exists():
        return 0
    products = load_products(limit=limit)
    for product in products:
        catalogue.create_product(
            uow,
            product_id=product["product_id"],
            title=product["title"],
            category=product["category"],
            description=product["description"],
            skus=product["skus"],
            now=now,
        )
    return len(products)
