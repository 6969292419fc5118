"""Interactions → a weighted user × item matrix with id maps, and the UCI Online Retail loader.

The interactions frame is the contract between the warehouse and the recommender. Its columns:

============  =============================================================
person_id     str, the shopper
product_id    str, the product
kind          str, one of ``view``, ``add_to_cart``, ``purchase``
occurred_at   datetime, timezone-aware UTC
quantity      int ≥ 1 (units; 1 for views)
basket_id     str, optional: the order/invoice, used for "bought together"
============  =============================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
import scipy.sparse as sp
import structlog
from numpy.typing import NDArray

log = structlog.get_logger(__name__)

KINDS = ("view", "add_to_cart", "purchase")
REQUIRED_COLUMNS = ("person_id", "product_id", "kind", "occurred_at", "quantity")
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class InteractionWeights:
    """How much each kind of interaction says about a shopper's taste, and how fast it fades.

    Parameters
    ----------
    view, add_to_cart, purchase : float
        Weight of one interaction of that kind.
    half_life_days : float or None
        An interaction ``half_life_days`` old counts half as much; ``None`` disables time decay.
    quantity : {"ignore", "log"}
        ``"log"`` multiplies a line's weight by ``1 + log(quantity)``; ``"ignore"`` counts lines.
    repeats : {"sum", "last"}
        ``"sum"`` adds up every interaction of a shopper with a product; ``"last"`` keeps only the latest one
        of each kind, so a wholesaler's twentieth reorder of a product weighs no more than their first and
        the decay counts from the last time they showed the interest.
    """

    view: float = 1.0
    add_to_cart: float = 3.0
    purchase: float = 5.0
    half_life_days: float | None = 90.0
    quantity: Literal["ignore", "log"] = "ignore"
    repeats: Literal["sum", "last"] = "sum"

    def __post_init__(self) -> None:
        for kind in KINDS:
            if getattr(self, kind) < 0:
                raise ValueError(f"weight for {kind!r} must be >= 0, got {getattr(self, kind)}")
        if self.half_life_days is not None and self.half_life_days <= 0:
            raise ValueError(f"half_life_days must be > 0 or None, got {self.half_life_days}")
        if self.quantity not in ("ignore", "log"):
            raise ValueError(f"quantity must be 'ignore' or 'log', got {self.quantity!r}")
        if self.repeats not in ("sum", "last"):
            raise ValueError(f"repeats must be 'sum' or 'last', got {self.repeats!r}")


@dataclass(frozen=True)
class InteractionMatrix:
    """A weighted user × item matrix with the ids of its rows and columns.

    Attributes
    ----------
    user_items : scipy.sparse.csr_matrix
        float32 confidences, rows are ``person_ids``, columns are ``product_ids``.
    purchased : scipy.sparse.csr_matrix
        1 where the shopper bought the product in the window (views and carts do not count).
    person_ids, product_ids : numpy.ndarray
        Unicode arrays of ids, sorted, one per row / column.
    window_start, window_end : datetime or None
        The first interaction and the reference time for decay (exclusive end of the window).
    """

    user_items: sp.csr_matrix
    purchased: sp.csr_matrix
    person_ids: NDArray[np.str_]
    product_ids: NDArray[np.str_]
    window_start: datetime | None = None
    window_end: datetime | None = None

    @cached_property
    def person_index(self) -> dict[str, int]:
        """Person id → row."""
        return {str(person_id): row for row, person_id in enumerate(self.person_ids)}

    @cached_property
    def product_index(self) -> dict[str, int]:
        """Product id → column."""
        return {str(product_id): column for column, product_id in enumerate(self.product_ids)}

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.person_ids), len(self.product_ids))


def validate_interactions(frame: pl.DataFrame) -> None:
    """Raise ``ValueError`` naming the problem when ``frame`` breaks the interactions contract."""
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"interactions frame is missing columns {missing}; it has {frame.columns}")
    unknown = frame.filter(~pl.col("kind").is_in(KINDS))["kind"].unique().to_list()
    if unknown:
        raise ValueError(f"unknown interaction kinds {sorted(map(str, unknown))}; expected one of {KINDS}")
    if not isinstance(frame.schema["occurred_at"], pl.Datetime):
        raise ValueError(f"occurred_at must be a datetime column, got {frame.schema['occurred_at']}")
    if frame.height and frame["quantity"].min() < 1:  # type: ignore[operator]
        raise ValueError("quantity must be >= 1 on every interaction (returns are not interactions)")


def build_interaction_matrix(
    interactions: pl.DataFrame,
    *,
    weights: InteractionWeights | None = None,
    as_of: datetime | None = None,
    person_ids: NDArray[np.str_] | None = None,
    product_ids: NDArray[np.str_] | None = None,
) -> InteractionMatrix:
    """Sum weighted, time-decayed interactions into a user × item matrix.

    Parameters
    ----------
    interactions : polars.DataFrame
        The interactions frame (see the module docstring).
    weights : InteractionWeights, optional
        Kind weights, half-life, quantity and repeat handling; defaults to ``InteractionWeights()``.
    as_of : datetime, optional
        Reference time for decay, normally the end of the training window; defaults to the latest
        interaction. Interactions at or after ``as_of`` raise ``ValueError`` (they would be the future).
    person_ids, product_ids : numpy.ndarray, optional
        Fixed id maps (for example the training maps when building a test matrix); interactions of
        other people or products are dropped. By default the ids present in ``interactions``, sorted.

    Returns
    -------
    InteractionMatrix
    """
    validate_interactions(interactions)
    weights = weights or InteractionWeights()
    frame = interactions.select(
        pl.col("person_id").cast(pl.String),
        pl.col("product_id").cast(pl.String),
        "kind",
        "occurred_at",
        pl.col("quantity").cast(pl.Float64),
    )
    if as_of is None:
        latest = frame["occurred_at"].max() if frame.height else None
        as_of = latest if isinstance(latest, datetime) else None
    elif frame.height and frame.filter(pl.col("occurred_at") > as_of).height:
        raise ValueError(
            f"interactions after as_of={as_of.isoformat()} would leak the future into the matrix"
        )

    people = _ids(frame["person_id"]) if person_ids is None else person_ids
    products = _ids(frame["product_id"]) if product_ids is None else product_ids
    frame = frame.join(_index_frame(people, "person_id", "row"), on="person_id", how="inner").join(
        _index_frame(products, "product_id", "column"), on="product_id", how="inner"
    )

    if weights.repeats == "last":
        # ties on the time go to the larger quantity, so the result does not depend on the input order
        frame = frame.sort("occurred_at", "quantity").unique(["row", "column", "kind"], keep="last")

    kind_weight = (
        pl.when(pl.col("kind") == "view")
        .then(weights.view)
        .when(pl.col("kind") == "add_to_cart")
        .then(weights.add_to_cart)
        .otherwise(weights.purchase)
    )
    weight = kind_weight
    if weights.quantity == "log":
        weight = weight * (1.0 + pl.col("quantity").log())
    if weights.half_life_days is not None and as_of is not None:
        age_days = (pl.lit(as_of) - pl.col("occurred_at")).dt.total_seconds() / SECONDS_PER_DAY
        weight = weight * (0.5 ** (age_days / weights.half_life_days))
    cells = (
        frame.with_columns(weight.alias("weight"), (pl.col("kind") == "purchase").alias("is_purchase"))
        .group_by("row", "column")
        .agg(pl.col("weight").sum(), pl.col("is_purchase").any())
        .sort("row", "column")
    )
    shape = (len(people), len(products))
    rows = cells["row"].to_numpy()
    columns = cells["column"].to_numpy()
    user_items = sp.csr_matrix(
        (cells["weight"].to_numpy().astype(np.float32), (rows, columns)), shape=shape, dtype=np.float32
    )
    bought = cells["is_purchase"].to_numpy()
    purchased = sp.csr_matrix(
        (np.ones(int(bought.sum()), dtype=np.float32), (rows[bought], columns[bought])), shape=shape
    )
    window_start = frame["occurred_at"].min() if frame.height else None
    return InteractionMatrix(
        user_items=user_items,
        purchased=purchased,
        person_ids=people,
        product_ids=products,
        window_start=window_start if isinstance(window_start, datetime) else None,
        window_end=as_of,
    )


def basket_matrix(interactions: pl.DataFrame, product_ids: NDArray[np.str_]) -> sp.csr_matrix:
    """Baskets × products, 1 where the basket holds the product: the input of "bought together".

    Only purchases with a ``basket_id`` count; products outside ``product_ids`` are dropped.
    """
    if "basket_id" not in interactions.columns:
        raise ValueError("interactions need a basket_id column (order or invoice) to find complements")
    lines = (
        interactions.filter((pl.col("kind") == "purchase") & pl.col("basket_id").is_not_null())
        .select(pl.col("basket_id").cast(pl.String), pl.col("product_id").cast(pl.String))
        .join(_index_frame(product_ids, "product_id", "column"), on="product_id", how="inner")
        .unique(["basket_id", "column"])
        .with_columns(pl.col("basket_id").rank("dense").cast(pl.Int64).alias("row") - 1)
    )
    n_baskets = int(lines["row"].max() + 1) if lines.height else 0  # type: ignore[operator]
    return sp.csr_matrix(
        (np.ones(lines.height, dtype=np.float32), (lines["row"].to_numpy(), lines["column"].to_numpy())),
        shape=(n_baskets, len(product_ids)),
    )


def _ids(column: pl.Series) -> NDArray[np.str_]:
    return np.asarray(column.unique().sort().to_list(), dtype=np.str_)


def _index_frame(ids: NDArray[np.str_], id_column: str, index_column: str) -> pl.DataFrame:
    return pl.DataFrame(
        {id_column: [str(i) for i in ids], index_column: np.arange(len(ids), dtype=np.int64)},
        schema={id_column: pl.String, index_column: pl.Int64},
    )


@dataclass(frozen=True)
class RetailData:
    """Online Retail as ShopLoop frames.

    Attributes
    ----------
    interactions : polars.DataFrame
        Purchases in the interactions contract, with ``basket_id`` = invoice and UTC ``occurred_at``.
    products : polars.DataFrame
        ``product_id``, ``name`` (the most frequent description) and ``category`` (null: the data has none).
    dropped : dict[str, int]
        Rows dropped per reason, in the order the rules were applied.
    """

    interactions: pl.DataFrame
    products: pl.DataFrame
    dropped: dict[str, int]


def load_online_retail(path: Path | None = None) -> RetailData:
    """Read the UCI Online Retail file and clean its dirt deliberately, logging what each rule drops.

    Dropped, in this order: cancellations (invoice starts with ``C``), non-positive quantities
    (returns and stock adjustments), non-positive prices (free samples, bad-debt write-offs),
    rows without a customer (they cannot be personalised), and non-merchandise stock codes
    (postage, bank charges, manual adjustments: codes that do not start with five digits).
    Invoice times are UK local time and become UTC.

    Parameters
    ----------
    path : pathlib.Path, optional
        Defaults to the copy bundled with the project.
    """
    from recsys.settings import ONLINE_RETAIL_PATH

    raw = pl.read_parquet(path or ONLINE_RETAIL_PATH)
    rules: list[tuple[str, pl.Expr]] = [
        ("cancellation", pl.col("InvoiceNo").str.starts_with("C")),
        ("non_positive_quantity", pl.col("Quantity") <= 0),
        ("non_positive_price", pl.col("UnitPrice") <= 0),
        ("missing_customer", pl.col("CustomerID").is_null()),
        ("non_merchandise_code", ~pl.col("StockCode").str.to_uppercase().str.contains(r"^\d{5}")),
    ]
    dropped: dict[str, int] = {}
    frame = raw
    for reason, is_dirty in rules:
        before = frame.height
        frame = frame.filter(~is_dirty.fill_null(False))
        dropped[reason] = before - frame.height
    log.info("online_retail_cleaned", raw_rows=raw.height, kept_rows=frame.height, **dropped)

    frame = frame.with_columns(pl.col("StockCode").str.to_uppercase().str.strip_chars().alias("product_id"))
    interactions = frame.select(
        pl.col("CustomerID").cast(pl.String).alias("person_id"),
        "product_id",
        pl.lit("purchase").alias("kind"),
        pl.col("InvoiceDate")
        .dt.replace_time_zone("Europe/London", ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .alias("occurred_at"),
        pl.col("Quantity").alias("quantity"),
        pl.col("InvoiceNo").alias("basket_id"),
    ).drop_nulls("occurred_at")
    products = (
        frame.filter(pl.col("Description").is_not_null())
        .group_by("product_id", "Description")
        .len()
        .sort(["product_id", "len", "Description"], descending=[False, True, False])
        .unique("product_id", keep="first", maintain_order=True)
        .select("product_id", pl.col("Description").str.strip_chars().alias("name"))
        .with_columns(pl.lit(None, dtype=pl.String).alias("category"))
    )
    return RetailData(interactions=interactions, products=products, dropped=dropped)
