"""The bundled UCI Online Retail catalogue: real codes, names and prices, converted to integer fen."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from ingestion.simulator.catalogue import (
    Catalogue,
    category_for,
    default_catalogue_path,
    load_catalogue,
    products_from_rows,
)
from shoploop.online_retail import CNY_PER_GBP, gbp_to_fen


def test_the_white_hanging_heart_t_light_holder_costs_its_typical_2_95_gbp_in_fen(
    catalogue: Catalogue,
) -> None:
    holder = catalogue.get("85123A")
    assert holder.name == "WHITE HANGING HEART T-LIGHT HOLDER"
    assert Decimal("9.10") == CNY_PER_GBP
    assert holder.price_fen == 2685  # 2.95 GBP × 9.10 = 26.845 CNY, rounded half up to the fen
    assert holder.category.label == "灯饰香薰"
    assert holder.category.slug == "lighting_fragrance"
    assert holder.sku == "85123A-WHITE"


def test_every_product_has_a_name_and_a_positive_integer_price_in_fen(catalogue: Catalogue) -> None:
    assert len(catalogue) > 3_000
    for product in catalogue.products:
        assert product.name.strip() == product.name and product.name
        assert isinstance(product.price_fen, int) and product.price_fen > 0
        assert product.popularity > 0


def test_postage_fees_and_manual_adjustments_are_not_products(catalogue: Catalogue) -> None:
    for code in ("POST", "DOT", "M", "C2", "BANK CHARGES", "AMAZONFEE", "D"):
        assert code not in catalogue


def test_the_most_sold_products_come_first(catalogue: Catalogue) -> None:
    popularity = [product.popularity for product in catalogue.products]
    assert popularity == sorted(popularity, reverse=True)
    assert catalogue.products[0].product_id == "85123A"


def test_gbp_prices_convert_to_fen_exactly_rounding_half_up() -> None:
    assert gbp_to_fen(0.85) == 774  # 7.735 CNY
    assert gbp_to_fen(1.0) == 910
    assert gbp_to_fen(0.001) == 1
    assert gbp_to_fen(649.5) == 591_045


def test_rows_without_a_name_or_with_a_non_positive_price_are_skipped_on_purpose() -> None:
    products = products_from_rows(
        [
            ("22423", "REGENCY CAKESTAND 3 TIER", 12.75, 10),
            ("90000", None, 1.0, 3),  # type: ignore[list-item]
            ("90001", "   ", 1.0, 3),
            ("90002", "FREE SAMPLE", 0.0, 3),
            ("90003", "ADJUSTMENT", -11062.06, 1),
            ("90004", "TINY SPOON", 0.0001, 1),  # rounds to 0 fen
        ]
    )
    assert [product.product_id for product in products] == ["22423"]


def test_a_product_takes_its_most_sold_name_and_price_and_ignores_cancellations(tmp_path: Path) -> None:
    when = datetime(2011, 5, 1, 10, 0)
    rows = [
        ("536365", "21730", "GLASS STAR FROSTED T-LIGHT HOLDER", 6, when, 4.25, 17850, "United Kingdom"),
        ("536366", "21730", "GLASS STAR FROSTED T-LIGHT HOLDER", 6, when, 4.25, 17851, "United Kingdom"),
        ("536367", "21730", "GLASS STAR FROSTED T-LIGHT HOLDER", 2, when, 4.95, 17852, "France"),
        ("C536368", "21730", "GLASS STAR FROSTED T-LIGHT HOLDER", -9, when, 1.00, 17853, "France"),
        ("536369", "21730", "wrongly marked", -30, when, 0.0, None, "United Kingdom"),
        ("536370", "22633", None, 5, when, 2.10, 17850, "United Kingdom"),
        ("536371", "POST", "POSTAGE", 1, when, 18.0, 12583, "France"),
    ]
    table = pl.DataFrame(
        rows,
        schema={
            "InvoiceNo": pl.String,
            "StockCode": pl.String,
            "Description": pl.String,
            "Quantity": pl.Int64,
            "InvoiceDate": pl.Datetime("us"),
            "UnitPrice": pl.Float64,
            "CustomerID": pl.Int64,
            "Country": pl.String,
        },
        orient="row",
    )
    path = tmp_path / "retail.parquet"
    table.write_parquet(path)

    catalogue = load_catalogue(path)

    assert [product.product_id for product in catalogue.products] == ["21730"]
    holder = catalogue.get("21730")
    assert holder.name == "GLASS STAR FROSTED T-LIGHT HOLDER"
    assert holder.price_fen == gbp_to_fen(4.25)
    assert holder.popularity == 3


@pytest.mark.parametrize(
    ("name", "label", "slug"),
    [
        ("JUMBO BAG RED RETROSPOT", "箱包", "bags"),
        ("ROSES REGENCY TEACUP AND SAUCER", "餐厨", "kitchen_dining"),
        ("HOMEMADE JAM SCENTED CANDLES", "灯饰香薰", "lighting_fragrance"),
        ("PAPER CHAIN KIT 50'S CHRISTMAS", "节日装饰", "festive_decor"),
        ("CHRISTMAS LIGHTS 10 REINDEER", "节日装饰", "festive_decor"),
        ("PACK OF 12 HEARTS DESIGN TISSUES", "文具礼品", "stationery_gifts"),
        ("SPACEBOY BIRTHDAY CARD", "文具礼品", "stationery_gifts"),
        ("WOODEN PICTURE FRAME WHITE FINISH", "家居装饰", "home_decor"),
        ("PIGGY BANK RETROSPOT", "其他", "other"),
    ],
)
def test_a_category_is_derived_from_the_words_of_the_product_name(name: str, label: str, slug: str) -> None:
    category = category_for(name)
    assert (category.label, category.slug) == (label, slug)


def test_colour_and_size_named_in_the_description_make_the_sku_variant(catalogue: Catalogue) -> None:
    bag = catalogue.get("85099B")
    assert bag.name == "JUMBO BAG RED RETROSPOT"
    assert (bag.colour, bag.size) == ("red", "jumbo")
    assert bag.sku == "85099B-RED-JUMBO"
    assert bag.variant == "red jumbo"


def test_a_search_finds_products_whose_name_holds_the_word_most_sold_first(catalogue: Catalogue) -> None:
    results = catalogue.search("Lantern")
    assert results
    assert all("LANTERN" in product.name for product in results)
    assert [product.popularity for product in results] == sorted(
        (product.popularity for product in results), reverse=True
    )


def test_the_bundled_catalogue_is_found_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = default_catalogue_path()
    assert path.is_absolute() and path.is_file()
    assert path.name == "online_retail.parquet"
