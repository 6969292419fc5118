"""The simulator's product catalogue, read from the bundled UCI Online Retail data (CC BY 4.0).

Each product is one real StockCode with its real description and its typical (most frequent) selling
price, converted from GBP to integer fen at a fixed, documented rate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import polars as pl

from shoploop.online_retail import gbp_to_fen

# Real products have a five-digit stock code (optionally with a letter suffix); the other codes are
# postage, fees, manual adjustments and bank charges (POST, DOT, M, C2, AMAZONFEE, BANK CHARGES …).
PRODUCT_CODE_PATTERN: Final = r"^\d{5}"

_PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent.parent


def default_catalogue_path() -> Path:
    """The bundled UCI Online Retail parquet, found from this package rather than the working directory."""
    return _PROJECT_ROOT / "datasets" / "online_retail" / "online_retail.parquet"


@dataclass(frozen=True, slots=True)
class Category:
    slug: str
    label: str


OTHER: Final = Category("other", "其他")

# First match wins, so seasonal words come before the object words they are usually combined with
# ("CHRISTMAS CANDLE" is a festive decoration, "HEART T-LIGHT HOLDER" is lighting before home decor).
_CATEGORY_RULES: Final[tuple[tuple[Category, frozenset[str]], ...]] = (
    (
        Category("festive_decor", "节日装饰"),
        frozenset({"CHRISTMAS", "XMAS", "ADVENT", "EASTER", "HALLOWEEN"}),
    ),
    (
        Category("bags", "箱包"),
        frozenset({"BAG", "HANDBAG", "PURSE", "TOTE", "SHOPPER", "RUCKSACK", "BACKPACK"}),
    ),
    (
        Category("lighting_fragrance", "灯饰香薰"),
        frozenset({"CANDLE", "LIGHT", "LIGHTS", "LANTERN", "LAMP", "INCENSE", "OIL", "DIFFUSER", "T-LIGHT"}),
    ),
    (
        Category("kitchen_dining", "餐厨"),
        frozenset(
            {
                "MUG",
                "CUP",
                "CUPS",
                "TEA",
                "TEACUP",
                "PLATE",
                "BOWL",
                "JUG",
                "SPOON",
                "CAKE",
                "BAKING",
                "LUNCH",
                "BOTTLE",
                "NAPKINS",
                "KITCHEN",
                "JAR",
                "TRAY",
                "COASTER",
                "COFFEE",
                "CUTLERY",
                "TEAPOT",
                "GLASS",
                "APRON",
                "TOWEL",
                "CASE",
                "TIN",
                "CAKESTAND",
                "COOKIE",
                "CUTTER",
                "JAM",
                "SPICE",
                "PANTRY",
                "SNACK",
                "MOULD",
                "BREAD",
                "OVEN",
                "SAUCER",
                "RECIPE",
                "CONTAINER",
                "JELLY",
            }
        ),
    ),
    (
        Category("stationery_gifts", "文具礼品"),
        frozenset(
            {
                "CARD",
                "CARDS",
                "WRAP",
                "PAPER",
                "NOTEBOOK",
                "PEN",
                "PENCIL",
                "PENCILS",
                "STICKER",
                "STICKERS",
                "ENVELOPE",
                "TAPE",
                "RIBBON",
                "RIBBONS",
                "GIFT",
                "DIARY",
                "BOOK",
                "STAMP",
                "ERASER",
                "STATIONERY",
                "TISSUE",
                "CHALKBOARD",
                "MEMO",
                "MAGNETIC",
                "SEWING",
                "KNITTING",
                "FELTCRAFT",
            }
        ),
    ),
    (
        Category("toys_kids", "玩具童趣"),
        frozenset(
            {
                "TOY",
                "TOYS",
                "GAME",
                "DOLL",
                "DOLLY",
                "CHILDRENS",
                "CHILDREN'S",
                "PLAYHOUSE",
                "JIGSAW",
                "SPACEBOY",
                "DOMINOES",
                "MARBLES",
                "PUPPET",
                "SKIPPING",
                "BALLOONS",
                "CRAYONS",
                "TEDDY",
                "KIDS",
                "SKITTLES",
                "SPINNING",
                "COLOURING",
                "BLOCK",
                "SOLDIER",
            }
        ),
    ),
    (
        Category("accessories", "饰品配件"),
        frozenset(
            {
                "NECKLACE",
                "EARRINGS",
                "BRACELET",
                "RING",
                "HAIR",
                "JEWEL",
                "JEWELLERY",
                "BROOCH",
                "CHARM",
                "UMBRELLA",
                "SCARF",
                "GLOVE",
                "HAT",
                "KEYRING",
                "WALLET",
                "MIRROR",
                "WARMER",
                "PARASOL",
                "FAN",
                "HOTTIE",
            }
        ),
    ),
    (
        Category("garden", "园艺"),
        frozenset({"GARDEN", "PLANT", "PLANTER", "WATERING", "FLOWER", "BIRD", "POT"}),
    ),
    (
        Category("home_decor", "家居装饰"),
        frozenset(
            {
                "FRAME",
                "CLOCK",
                "CUSHION",
                "SIGN",
                "HOOK",
                "HOOKS",
                "DOORSTOP",
                "HANGING",
                "BUNTING",
                "GARLAND",
                "VASE",
                "WREATH",
                "BOX",
                "BASKET",
                "DRAWER",
                "HOLDER",
                "DOORMAT",
                "STORAGE",
                "ORNAMENT",
                "DECORATION",
                "QUILT",
                "THROW",
                "BLANKET",
                "SHELF",
                "CABINET",
                "WICKER",
                "RACK",
                "CHEST",
                "BELL",
                "STAR",
                "HEART",
                "PEG",
                "BIN",
            }
        ),
    ),
)


CATEGORIES: Final[tuple[Category, ...]] = (*(category for category, _ in _CATEGORY_RULES), OTHER)

COLOURS: Final = frozenset(
    {
        "RED",
        "BLUE",
        "PINK",
        "WHITE",
        "GREEN",
        "BLACK",
        "IVORY",
        "CREAM",
        "PURPLE",
        "YELLOW",
        "ORANGE",
        "GREY",
        "GOLD",
        "SILVER",
        "BROWN",
        "TURQUOISE",
        "LILAC",
        "AQUA",
        "NATURAL",
    }
)
SIZES: Final = frozenset({"MINI", "SMALL", "MEDIUM", "LARGE", "JUMBO", "GIANT"})

_WORD = re.compile(r"[A-Z0-9'\-]+")
# Words too common to be a search query a shopper would type.
_NOT_A_QUERY: Final = (
    COLOURS | SIZES | {"SET", "OF", "THE", "AND", "WITH", "IN", "DESIGN", "VINTAGE", "RETROSPOT"}
)


def words_of(name: str) -> list[str]:
    return _WORD.findall(name.upper())


def category_for(name: str) -> Category:
    """Derive a shop category from the product name's words; names that match no rule are 其他 (other)."""
    words = set(words_of(name))
    # T-LIGHT is one token to the regex; also look at its parts so "T-LIGHT HOLDER" matches LIGHT.
    words |= {part for word in words for part in word.split("-") if part}
    words |= {word[:-1] for word in words if word.endswith("S")}
    for category, keywords in _CATEGORY_RULES:
        if words & keywords:
            return category
    return OTHER


def variant_of(name: str) -> tuple[str | None, str | None]:
    """The colour and the size the name mentions, if any (the first of each)."""
    words = words_of(name)
    colour = next((word.lower() for word in words if word in COLOURS), None)
    size = next((word.lower() for word in words if word in SIZES), None)
    return colour, size


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    name: str
    price_fen: int
    category: Category
    colour: str | None
    size: str | None
    # Sold order lines in the source data; shoppers see popular products more often, as in a real shop.
    popularity: int
    # The order core's SKU id when the catalogue comes from the order core; None: derived from the name.
    sku_id: str | None = None

    @property
    def sku(self) -> str:
        """One SKU per product: the order core's, else the stock code suffixed with colour and size."""
        if self.sku_id is not None:
            return self.sku_id
        parts = [self.product_id, *(part.upper() for part in (self.colour, self.size) if part)]
        return "-".join(parts)

    @property
    def variant(self) -> str | None:
        parts = [part for part in (self.colour, self.size) if part]
        return " ".join(parts) or None


@dataclass(frozen=True)
class Catalogue:
    """Products ordered by popularity (most sold first), with lookups by id, category and search word."""

    products: tuple[Product, ...]
    _by_id: dict[str, Product] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.products:
            raise ValueError("a catalogue needs at least one product")
        object.__setattr__(self, "_by_id", {product.product_id: product for product in self.products})

    def __len__(self) -> int:
        return len(self.products)

    def get(self, product_id: str) -> Product:
        return self._by_id[product_id]

    def __contains__(self, product_id: object) -> bool:
        return product_id in self._by_id

    @cached_property
    def by_category(self) -> dict[str, tuple[Product, ...]]:
        grouped: dict[str, list[Product]] = {}
        for product in self.products:
            grouped.setdefault(product.category.slug, []).append(product)
        return {slug: tuple(products) for slug, products in grouped.items()}

    @cached_property
    def categories(self) -> tuple[Category, ...]:
        """The categories that hold at least one product, in the fixed CATEGORIES order."""
        return tuple(category for category in CATEGORIES if category.slug in self.by_category)

    @cached_property
    def by_search_word(self) -> dict[str, tuple[Product, ...]]:
        """Lower-case word → products whose name holds it, most popular first (what a search returns)."""
        index: dict[str, list[Product]] = {}
        for product in self.products:
            for word in dict.fromkeys(words_of(product.name)):
                if len(word) >= 4 and word.isalpha() and word not in _NOT_A_QUERY:
                    index.setdefault(word.lower(), []).append(product)
        return {word: tuple(products) for word, products in index.items()}

    def search(self, query: str, *, limit: int = 10) -> tuple[Product, ...]:
        return self.by_search_word.get(query.strip().lower(), ())[:limit]


def products_from_rows(rows: Iterable[tuple[str, str, float, int]]) -> list[Product]:
    """Build products from (stock code, name, typical GBP price, sold lines) rows, skipping unusable ones."""
    products = []
    for product_id, name, unit_price_gbp, sold_lines in rows:
        if not name or not name.strip() or unit_price_gbp <= 0:
            continue
        price_fen = gbp_to_fen(unit_price_gbp)
        if price_fen <= 0:
            continue
        clean_name = " ".join(name.split())
        colour, size = variant_of(clean_name)
        products.append(
            Product(
                product_id=product_id,
                name=clean_name,
                price_fen=price_fen,
                category=category_for(clean_name),
                colour=colour,
                size=size,
                popularity=sold_lines,
            )
        )
    return products


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """Read the catalogue from the UCI Online Retail parquet (the bundled copy unless a path is given).

    Only sold lines count: cancellations (invoice "C…"), returns (quantity ≤ 0), free or negative prices
    and lines without a description are skipped, and so are service codes such as postage. A product's
    name is its most frequent description and its price its most frequent unit price (ties: the lower).
    """
    lines = (
        pl.scan_parquet(path or default_catalogue_path())
        .filter(
            pl.col("Description").is_not_null()
            & (pl.col("UnitPrice") > 0)
            & (pl.col("Quantity") > 0)
            & ~pl.col("InvoiceNo").str.starts_with("C")
            & pl.col("StockCode").str.contains(PRODUCT_CODE_PATTERN)
        )
        .select(
            pl.col("StockCode").str.to_uppercase().alias("product_id"),
            pl.col("Description").str.strip_chars().alias("name"),
            pl.col("UnitPrice").alias("unit_price"),
        )
    )
    names = (
        lines.group_by("product_id", "name")
        .agg(pl.len().alias("n"))
        .sort(["product_id", "n", "name"], descending=[False, True, False])
        .group_by("product_id", maintain_order=True)
        .first()
        .select("product_id", "name")
    )
    prices = (
        lines.group_by("product_id", "unit_price")
        .agg(pl.len().alias("n"))
        .sort(["product_id", "n", "unit_price"], descending=[False, True, False])
        .group_by("product_id", maintain_order=True)
        .first()
        .select("product_id", "unit_price")
    )
    popularity = lines.group_by("product_id").agg(pl.len().alias("sold_lines"))
    table = (
        names.join(prices, on="product_id")
        .join(popularity, on="product_id")
        .sort(["sold_lines", "product_id"], descending=[True, False])
        .collect()
    )
    rows: Sequence[tuple[str, str, float, int]] = table.select(
        "product_id", "name", "unit_price", "sold_lines"
    ).rows()
    return Catalogue(tuple(products_from_rows(rows)))


def catalogue_from_order_core(
    products: Iterable[Mapping[str, Any]], *, popularity: Mapping[str, int] | None = None
) -> Catalogue:
    """The order core's products (`GET /v1/products/{id}` answers) as the simulator's catalogue.

    Each product is offered through its first SKU that has stock, at the order core's price, so that what
    shoppers track and what the order core charges agree to the fen. `popularity` (stock code → sold lines,
    e.g. from `load_catalogue`) weights what shoppers look at; the order core's SKU ids are "k" + stock code.
    """
    popularity = popularity or {}
    chosen = []
    for product in products:
        skus = [sku for sku in product.get("skus", []) if int(sku.get("stock", 0)) > 0]
        if not skus or not str(product.get("title", "")).strip():
            continue
        sku = skus[0]
        name = " ".join(str(product["title"]).split())
        colour, size = variant_of(name)
        stock_code = str(sku["sku_id"]).removeprefix("k")
        chosen.append(
            Product(
                product_id=str(product["product_id"]),
                name=name,
                price_fen=int(sku["price_fen"]),
                category=category_for(name),
                colour=str(sku.get("colour") or "") or colour,
                size=str(sku.get("size") or "") or size,
                popularity=max(1, popularity.get(stock_code, 0) + int(product.get("sales_count", 0))),
                sku_id=str(sku["sku_id"]),
            )
        )
    chosen.sort(key=lambda product: (-product.popularity, product.product_id))
    return Catalogue(tuple(chosen))
