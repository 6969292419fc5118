"""Implicit ALS by matrix index (:class:`ALSModel`), basket complements, and the serving :class:`Recommender`.

Artifacts are a single ``.npz`` of plain arrays, read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
import scipy.sparse as sp
from numpy.typing import NDArray

from recsys.dataset import InteractionMatrix, InteractionWeights
from recsys.freshness import FreshSource, RecentInteraction, ShopperSegment
from recsys.reasons import Reason, ReasonCode

Weighting = Literal["bm25", "confidence", "log"]
Measure = Literal["cosine", "lift"]
FORMAT_VERSION = "shoploop-recsys/1"
COLD_START_REASON = Reason.of("popular")


@dataclass(frozen=True)
class ALSParams:
    """Hyperparameters of :class:`ALSModel`.

    Parameters
    ----------
    factors : int
        Latent dimensions.
    regularization : float
        L2 penalty on the factors.
    alpha : float
        Confidence scaling: implicit fits with ``C = 1 + alpha * weight``.
    iterations : int
        ALS sweeps.
    weighting : {"bm25", "confidence"}
        ``"bm25"`` reweights the matrix with BM25 (``bm25_k1``, ``bm25_b``) before the fit, damping
        very popular items and very busy shoppers; ``"confidence"`` uses the weights as they are;
        ``"log"`` uses ``log(1 + weight)``, so a shopper's hundredth purchase of an item adds little.
    random_state : int
        Seed for the initial factors: the same seed on the same matrix gives the same model.
    """

    factors: int = 64
    regularization: float = 0.05
    alpha: float = 1.0
    iterations: int = 15
    weighting: Weighting = "bm25"
    bm25_k1: float = 100.0
    bm25_b: float = 0.8
    random_state: int = 42

    def __post_init__(self) -> None:
        if self.factors < 1:
            raise ValueError(f"factors must be >= 1, got {self.factors}")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if self.regularization < 0:
            raise ValueError(f"regularization must be >= 0, got {self.regularization}")
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        if self.weighting not in ("bm25", "confidence", "log"):
            raise ValueError(f"weighting must be 'bm25', 'confidence' or 'log', got {self.weighting!r}")
        if not 0 <= self.bm25_b <= 1:
            raise ValueError(f"bm25_b must be in [0, 1], got {self.bm25_b}")


def weight_matrix(user_items: sp.csr_matrix, params: ALSParams) -> sp.csr_matrix:
    """The matrix ALS is fitted on: BM25-weighted or unchanged, float32 CSR."""
    from implicit.nearest_neighbours import bm25_weight

    if params.weighting == "bm25":
        return sp.csr_matrix(bm25_weight(user_items, K1=params.bm25_k1, B=params.bm25_b), dtype=np.float32)
    weighted = sp.csr_matrix(user_items, dtype=np.float32, copy=True)
    if params.weighting == "log":
        weighted.data = np.log1p(weighted.data)
    return weighted


class ALSModel:
    """Implicit-feedback ALS (``implicit.cpu.als.AlternatingLeastSquares``) addressed by matrix index.

    Parameters
    ----------
    params : ALSParams, optional
    num_threads : int
        implicit's threads. BLAS is limited to one thread during the fit, as implicit recommends.
    """

    def __init__(self, params: ALSParams | None = None, *, num_threads: int = 2) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        self.params = params or ALSParams()
        self.num_threads = num_threads
        # implicit checks the BLAS thread pool when the model is built: limit it here as well as in fit
        with threadpool_limits(limits=1, user_api="blas"):
            self._als = AlternatingLeastSquares(
                factors=self.params.factors,
                regularization=self.params.regularization,
                alpha=self.params.alpha,
                iterations=self.params.iterations,
                num_threads=num_threads,
                random_state=self.params.random_state,
            )

    @property
    def is_fitted(self) -> bool:
        return self._als.item_factors is not None

    @property
    def user_factors(self) -> NDArray[np.float32]:
        self._require_fitted()
        return np.asarray(self._als.user_factors)

    @property
    def item_factors(self) -> NDArray[np.float32]:
        self._require_fitted()
        return np.asarray(self._als.item_factors)

    def fit(self, user_items: sp.csr_matrix) -> ALSModel:
        """Factorise ``user_items`` (users × items confidences, before weighting).

        Returns
        -------
        ALSModel
            ``self``, fitted.
        """
        from threadpoolctl import threadpool_limits

        if not sp.issparse(user_items) or user_items.format != "csr":
            raise ValueError(f"user_items must be a scipy CSR matrix, got {type(user_items).__name__}")
        if user_items.nnz == 0:
            raise ValueError("user_items has no interactions; there is nothing to learn from")
        if user_items.data.min() < 0:
            raise ValueError("user_items must not hold negative weights")
        weighted = weight_matrix(user_items, self.params)
        self._als.user_factors = None
        self._als.item_factors = None
        with threadpool_limits(limits=1, user_api="blas"):
            self._als.fit(weighted, show_progress=False)
        return self

    def recommend(
        self,
        userid: int | NDArray[np.integer[Any]],
        user_items: sp.csr_matrix,
        n: int = 10,
        *,
        filter_already_liked_items: bool = True,
        filter_items: NDArray[np.integer[Any]] | None = None,
    ) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """Top ``n`` items for one user or an array of users.

        Parameters
        ----------
        userid : int or numpy.ndarray
            Row(s) of the training matrix.
        user_items : scipy.sparse.csr_matrix
            One row per user in ``userid``: the items to leave out when ``filter_already_liked_items``.
        n : int
        filter_already_liked_items : bool
        filter_items : numpy.ndarray, optional
            Item columns never to recommend (hidden, out of stock, other categories).

        Returns
        -------
        (ids, scores)
            Arrays of shape ``(n,)`` or ``(len(userid), n)``; when fewer than ``n`` items are allowed the
            tail has score ``-inf`` (drop it).
        """
        self._require_fitted()
        n_users, n_items = self._als.user_factors.shape[0], self._als.item_factors.shape[0]
        rows = np.atleast_1d(np.asarray(userid))
        if rows.size and (rows.min() < 0 or rows.max() >= n_users):
            raise ValueError(f"userid out of range: the model has {n_users} users")
        if user_items.shape[1] != n_items:
            raise ValueError(f"user_items has {user_items.shape[1]} columns, the model has {n_items} items")
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        ids, scores = self._als.recommend(
            userid,
            user_items,
            N=min(n, n_items),
            filter_already_liked_items=filter_already_liked_items,
            filter_items=filter_items if filter_items is not None and len(filter_items) else None,
        )
        return np.asarray(ids, dtype=np.int32), np.asarray(scores, dtype=np.float32)

    def recalculate_user(self, user_items: sp.csr_matrix) -> NDArray[np.float32]:
        """One shopper's factors solved against the fitted item factors (implicit's ``recalculate_user``).

        Parameters
        ----------
        user_items : scipy.sparse.csr_matrix
            One row, already weighted as the model's training matrix was (see :func:`weight_matrix`).

        Returns
        -------
        numpy.ndarray
            Shape ``(factors,)``; ``item_factors @ vector`` scores every item for this shopper.
        """
        self._require_fitted()
        n_items = self._als.item_factors.shape[0]
        if user_items.shape != (1, n_items):
            raise ValueError(f"user_items must have shape (1, {n_items}), got {user_items.shape}")
        # implicit's own recalculate_user solves the same system but costs ~25 ms here (its thread pool per
        # call); one 64×64 solve in numpy is ~0.1 ms. Confidence c = alpha × weight, as in implicit's fit:
        # (YᵀY + Yᵤᵀ(Cᵤ − I)Yᵤ + λI) x = Yᵤᵀ Cᵤ 1.
        row = sp.csr_matrix(user_items, dtype=np.float32)
        item_factors = self._als.item_factors
        factors = item_factors[row.indices].astype(np.float64)
        confidence = self.params.alpha * row.data.astype(np.float64)
        system = np.asarray(self._als.YtY, dtype=np.float64) + self.params.regularization * np.eye(
            item_factors.shape[1]
        )
        system += factors.T @ ((confidence - 1.0)[:, None] * factors)
        return np.linalg.solve(system, factors.T @ confidence).astype(np.float32)

    def similar_items(
        self, itemid: int, n: int = 10, *, filter_items: NDArray[np.integer[Any]] | None = None
    ) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """The ``n`` items whose factors are closest (cosine) to ``itemid``'s, the item itself excluded."""
        self._require_fitted()
        n_items = self._als.item_factors.shape[0]
        if not 0 <= itemid < n_items:
            raise ValueError(f"itemid {itemid} out of range: the model has {n_items} items")
        excluded = np.union1d(np.asarray([itemid]), filter_items if filter_items is not None else [])
        ids, scores = self._als.similar_items(
            itemid, N=min(n, n_items), filter_items=excluded.astype(np.int32)
        )
        keep = np.isfinite(scores)
        return np.asarray(ids[keep], dtype=np.int32), np.asarray(scores[keep], dtype=np.float32)

    @classmethod
    def from_factors(
        cls,
        user_factors: NDArray[np.float32],
        item_factors: NDArray[np.float32],
        params: ALSParams,
        *,
        num_threads: int = 2,
    ) -> ALSModel:
        """A fitted model from saved factors."""
        if user_factors.ndim != 2 or item_factors.ndim != 2 or user_factors.shape[1] != item_factors.shape[1]:
            raise ValueError(
                f"factor shapes do not match: users {user_factors.shape}, items {item_factors.shape}"
            )
        model = cls(params, num_threads=num_threads)
        model._als.user_factors = np.ascontiguousarray(user_factors, dtype=np.float32)
        model._als.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
        return model

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise ValueError("the model is not fitted: call fit() or load() first")


def complement_table(
    baskets: sp.csr_matrix, *, k: int = 20, min_baskets: int = 3, measure: Measure = "cosine"
) -> sp.csr_matrix:
    """Items × items, the ``k`` strongest "bought together" partners of each item.

    Parameters
    ----------
    baskets : scipy.sparse.csr_matrix
        Baskets × items, 1 where the basket holds the item (see :func:`recsys.dataset.basket_matrix`).
    k : int
        Partners kept per item.
    min_baskets : int
        Pairs seen together in fewer baskets are noise and dropped.
    measure : {"cosine", "lift"}
        ``cosine`` = together / sqrt(baskets_a × baskets_b); ``lift`` = together × baskets / (baskets_a × baskets_b).
    """
    if measure not in ("cosine", "lift"):
        raise ValueError(f"measure must be 'cosine' or 'lift', got {measure!r}")
    if k < 1 or min_baskets < 1:
        raise ValueError(f"k and min_baskets must be >= 1, got k={k}, min_baskets={min_baskets}")
    binary = sp.csr_matrix(baskets, dtype=np.float32)
    binary.data[:] = 1.0
    together = (binary.T @ binary).tocsr()
    together.setdiag(0)
    together.data[together.data < min_baskets] = 0
    together.eliminate_zeros()
    per_item = np.asarray(binary.sum(axis=0)).ravel()
    coo = together.tocoo()
    if measure == "cosine":
        strength = coo.data / np.sqrt(per_item[coo.row] * per_item[coo.col])
    else:
        strength = coo.data * binary.shape[0] / (per_item[coo.row] * per_item[coo.col])
    scored = sp.csr_matrix((strength.astype(np.float32), (coo.row, coo.col)), shape=together.shape)
    return _top_k_per_row(scored, k)


def _top_k_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    rows, columns, values = [], [], []
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        if start == end:
            continue
        data, indices = matrix.data[start:end], matrix.indices[start:end]
        # ties broken by column so the table is deterministic
        order = np.lexsort((indices, -data))[:k]
        rows.append(np.full(len(order), row))
        columns.append(indices[order])
        values.append(data[order])
    if not rows:
        return sp.csr_matrix(matrix.shape, dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))),
        shape=matrix.shape,
        dtype=np.float32,
    )


def bm25_idf(user_items: sp.csr_matrix) -> NDArray[np.float32]:
    """Per item, the BM25 weight implicit's ``bm25_weight`` gives it on ``user_items``: log(N) - log1p(df)."""
    n_users = max(user_items.shape[0], 1)
    document_frequency = np.bincount(sp.csr_matrix(user_items).indices, minlength=user_items.shape[1])
    return np.asarray(np.log(float(n_users)) - np.log1p(document_frequency), dtype=np.float32)


def weigh_row(
    row: sp.csr_matrix, params: ALSParams, *, item_idf: NDArray[np.float32], average_length: float
) -> sp.csr_matrix:
    """One shopper's confidences weighted exactly as :func:`weight_matrix` weighted the training matrix.

    BM25 needs the training matrix's item weights (:func:`bm25_idf`) and mean row sum; confidence
    weighting leaves the row as it is.
    """
    if params.weighting == "log":
        logged = sp.csr_matrix(row, dtype=np.float32, copy=True)
        logged.data = np.log1p(logged.data)
        return logged
    if params.weighting != "bm25":
        return row
    length_norm = (1.0 - params.bm25_b) + params.bm25_b * float(row.data.sum()) / (average_length or 1.0)
    weighted = sp.csr_matrix(row, dtype=np.float32, copy=True)
    weighted.data = (
        weighted.data
        * (params.bm25_k1 + 1.0)
        / (params.bm25_k1 * length_norm + weighted.data)
        * item_idf[weighted.indices]
    ).astype(np.float32)
    return weighted


def segments_from_frame(shoppers: pl.DataFrame) -> dict[str, ShopperSegment]:
    """``person_id``, ``region``, ``channel`` rows (nulls allowed) → person id → segment."""
    missing = [column for column in ("person_id", "region", "channel") if column not in shoppers.columns]
    if missing:
        raise ValueError(f"shoppers frame is missing columns {missing}; it has {shoppers.columns}")
    return {
        str(person_id): ShopperSegment(region=region or None, channel=channel or None)
        for person_id, region, channel in shoppers.select("person_id", "region", "channel").iter_rows()
        if person_id is not None and (region or channel)
    }


def segment_popularity(
    matrix: InteractionMatrix, segment_of: Mapping[str, str | None], min_shoppers: int
) -> dict[str, NDArray[np.float32]]:
    """Segment → time-decayed popularity among its shoppers (those with ``min_shoppers`` or more)."""
    rows_by_segment: dict[str, list[int]] = {}
    for person_id, segment in segment_of.items():
        row = matrix.person_index.get(person_id)
        if segment and row is not None:
            rows_by_segment.setdefault(segment, []).append(row)
    return {
        segment: np.asarray(matrix.user_items[sorted(rows)].sum(axis=0), dtype=np.float32).ravel()
        for segment, rows in sorted(rows_by_segment.items())
        if len(rows) >= min_shoppers
    }


@dataclass(frozen=True)
class Recommendation:
    """One recommended product and why it is shown."""

    product_id: str
    score: float
    why: Reason

    @property
    def reason(self) -> str:
        """The reason in English (:meth:`Reason.text` renders it in another language)."""
        return self.why.text("en")


@dataclass
class Recommender:
    """The serving object: recommendations by person and product id, with business rules and reasons.

    Build it with :meth:`from_training`, persist it with :meth:`save` / :meth:`load`.

    Attributes
    ----------
    model : ALSModel
    person_ids, product_ids : numpy.ndarray
        The training matrix's id maps.
    purchased : scipy.sparse.csr_matrix
        Who bought what in the training window: these items are not recommended again.
    interacted : scipy.sparse.csr_matrix
        Who viewed, carted or bought what: used for reasons.
    popularity : numpy.ndarray
        Recent, time-decayed popularity per product: the cold-start list.
    complement_scores : scipy.sparse.csr_matrix
        Items × items "bought together" strengths (see :func:`complement_table`).
    product_names, product_categories : numpy.ndarray
        Per product; empty string when unknown.
    repurchasable_categories : frozenset[str]
        Categories of consumables that may be recommended again after a purchase.
    metadata : dict
        JSON-serialisable facts about the run (data window, metrics, interaction weights), kept in the
        artifact.
    interaction_weights : InteractionWeights
        The kind weights the training matrix was built with; fresh interactions get the same.
    confidences : scipy.sparse.csr_matrix, optional
        The training matrix before weighting: the base a shopper's fresh interactions are added to.
    item_idf : numpy.ndarray, optional
        BM25 item weights of the training matrix and (``bm25_average_length``) its mean row sum, so one
        fresh row is weighted as training rows were.
    region_popularity, channel_popularity : dict of str → numpy.ndarray
        Time-decayed popularity among the shoppers of one region / acquisition channel: the hot lists
        new shoppers start from.
    shopper_segments : dict of str → ShopperSegment
        Region and acquisition channel of shoppers the warehouse knows, including those without
        interactions yet.
    fresh : FreshSource, optional
        Recent interactions from the stream (see :mod:`recsys.freshness`); not saved.
    """

    model: ALSModel
    person_ids: NDArray[np.str_]
    product_ids: NDArray[np.str_]
    purchased: sp.csr_matrix
    interacted: sp.csr_matrix
    popularity: NDArray[np.float32]
    complement_scores: sp.csr_matrix
    product_names: NDArray[np.str_]
    product_categories: NDArray[np.str_]
    repurchasable_categories: frozenset[str] = frozenset()
    metadata: dict[str, Any] = field(default_factory=dict)
    interaction_weights: InteractionWeights = field(default_factory=InteractionWeights)
    confidences: sp.csr_matrix | None = None
    bm25_average_length: float = 1.0
    item_idf: NDArray[np.float32] | None = None
    region_popularity: dict[str, NDArray[np.float32]] = field(default_factory=dict)
    channel_popularity: dict[str, NDArray[np.float32]] = field(default_factory=dict)
    shopper_segments: dict[str, ShopperSegment] = field(default_factory=dict)
    fresh: FreshSource | None = None

    @classmethod
    def from_training(
        cls,
        matrix: InteractionMatrix,
        model: ALSModel,
        *,
        baskets: sp.csr_matrix | None = None,
        products: pl.DataFrame | None = None,
        repurchasable_categories: Collection[str] = (),
        metadata: Mapping[str, Any] | None = None,
        weights: InteractionWeights | None = None,
        shoppers: pl.DataFrame | None = None,
        min_segment_shoppers: int = 3,
    ) -> Recommender:
        """Assemble a recommender from a training matrix and the model fitted on it.

        Parameters
        ----------
        matrix : InteractionMatrix
        model : ALSModel
            Fitted on ``matrix.user_items``.
        baskets : scipy.sparse.csr_matrix, optional
            Baskets × ``matrix.product_ids`` for complements; without it there are none.
        products : polars.DataFrame, optional
            ``product_id``, ``name``, ``category``: used for reasons and category filters.
        weights : InteractionWeights, optional
            The kind weights the matrix was built with; fresh interactions are weighted the same way.
        shoppers : polars.DataFrame, optional
            ``person_id``, ``region``, ``channel`` (nulls allowed), e.g. from ``dim_users``: builds the
            hot list per region and per acquisition channel for cold start.
        min_segment_shoppers : int
            A region or channel needs this many shoppers with interactions to get its own hot list.
        """
        if min_segment_shoppers < 1:
            raise ValueError(f"min_segment_shoppers must be >= 1, got {min_segment_shoppers}")
        if model.item_factors.shape[0] != matrix.shape[1] or model.user_factors.shape[0] != matrix.shape[0]:
            raise ValueError(
                f"model factors ({model.user_factors.shape[0]} users, {model.item_factors.shape[0]} items) "
                f"do not match the matrix {matrix.shape}"
            )
        names = np.full(matrix.shape[1], "", dtype=object)
        categories = np.full(matrix.shape[1], "", dtype=object)
        if products is not None:
            index = matrix.product_index
            for product_id, name, category in products.select("product_id", "name", "category").iter_rows():
                column = index.get(str(product_id))
                if column is not None:
                    names[column] = name or ""
                    categories[column] = category or ""
        interacted = sp.csr_matrix(matrix.user_items, dtype=np.float32, copy=True)
        interacted.data[:] = 1.0
        segments: dict[str, ShopperSegment] = {}
        regions: dict[str, NDArray[np.float32]] = {}
        channels: dict[str, NDArray[np.float32]] = {}
        if shoppers is not None:
            segments = segments_from_frame(shoppers)
            regions = segment_popularity(
                matrix, {p: s.region for p, s in segments.items()}, min_segment_shoppers
            )
            channels = segment_popularity(
                matrix, {p: s.channel for p, s in segments.items()}, min_segment_shoppers
            )
        confidences = sp.csr_matrix(matrix.user_items, dtype=np.float32)
        return cls(
            model=model,
            person_ids=matrix.person_ids,
            product_ids=matrix.product_ids,
            purchased=sp.csr_matrix(matrix.purchased, dtype=np.float32),
            interacted=interacted,
            popularity=np.asarray(matrix.user_items.sum(axis=0), dtype=np.float32).ravel(),
            complement_scores=(
                complement_table(baskets) if baskets is not None else sp.csr_matrix((matrix.shape[1],) * 2)
            ),
            product_names=np.asarray(names.tolist(), dtype=np.str_),
            product_categories=np.asarray(categories.tolist(), dtype=np.str_),
            repurchasable_categories=frozenset(repurchasable_categories),
            metadata=dict(metadata or {}),
            interaction_weights=weights or InteractionWeights(),
            bm25_average_length=float(confidences.sum(axis=1).mean()) if matrix.shape[0] else 1.0,
            confidences=confidences,
            item_idf=bm25_idf(confidences),
            region_popularity=regions,
            channel_popularity=channels,
            shopper_segments=segments,
        )

    def with_fresh(self, fresh: FreshSource | None) -> Recommender:
        """This recommender reading recent interactions from ``fresh`` (the model is shared, not copied)."""
        return replace(self, fresh=fresh)

    @cached_property
    def person_index(self) -> dict[str, int]:
        return {str(person_id): row for row, person_id in enumerate(self.person_ids)}

    @cached_property
    def product_index(self) -> dict[str, int]:
        return {str(product_id): column for column, product_id in enumerate(self.product_ids)}

    @cached_property
    def _unit_item_factors(self) -> NDArray[np.float32]:
        factors = self.model.item_factors
        norms = np.linalg.norm(factors, axis=1, keepdims=True)
        return np.asarray(factors / np.where(norms == 0, 1.0, norms), dtype=np.float32)

    def recommend_for(
        self,
        person_id: str,
        n: int = 10,
        *,
        hidden: Collection[str] = (),
        out_of_stock: Collection[str] = (),
        category: str | None = None,
        purchased: Collection[str] = (),
        recent: Sequence[RecentInteraction] | None = None,
        segment: ShopperSegment | None = None,
    ) -> list[Recommendation]:
        """ "猜你喜欢": the shopper's top ``n`` products, each with a reason.

        Already purchased products (except in repurchasable categories), products already in the cart
        (a recent add-to-cart), products the shopper hid and out-of-stock products are never returned;
        ``category`` keeps only that category.

        When the shopper has recent interactions (``recent``, else :attr:`fresh`), their vector is
        recomputed from the item factors and their training history plus those interactions, without
        retraining. A shopper with neither history nor recent interactions gets the hot lists of their
        region and acquisition channel, interleaved, then overall recent popularity.

        Parameters
        ----------
        person_id : str
        n : int
        hidden, out_of_stock : collection of str
            Product ids; ids the model does not know are ignored.
        category : str, optional
        purchased : collection of str
            Products the shopper bought since the model was trained (e.g. from the order core's paid
            orders); excluded like the training window's purchases, repurchasable categories aside.
        recent : sequence of RecentInteraction, optional
            Overrides :attr:`fresh` for this call.
        segment : ShopperSegment, optional
            Region and channel of a new shopper; by default from :attr:`fresh`, then
            :attr:`shopper_segments`.
        """
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        person_id = str(person_id)
        row = self.person_index.get(person_id)
        if recent is None:
            recent = self.fresh.recent(person_id) if self.fresh is not None else ()
        fresh_columns = self._fresh_columns(recent)
        blocked = self._blocked(hidden, out_of_stock, category)
        blocked |= self._already_purchased(row, purchased)
        blocked[[column for column, kind in fresh_columns.items() if kind == "add_to_cart"]] = True
        if blocked.all():
            return []
        if fresh_columns:
            scores = self.model.item_factors @ self._fresh_vector(row, recent)
            result = self._top(scores, n, blocked, row, fresh_columns)
        elif row is not None:
            # one shopper's scores over the catalogue is a single mat-vec: no call into implicit's thread pool
            scores = self.model.item_factors @ self.model.user_factors[row]
            result = self._top(scores, n, blocked, row, {})
        else:
            return self._cold_start(n, blocked, segment or self._segment_of(person_id))
        if len(result) < n:
            blocked[[self.product_index[r.product_id] for r in result]] = True
            result += self._popular(n - len(result), blocked)
        return result

    def similar(
        self, product_id: str, n: int = 10, *, out_of_stock: Collection[str] = (), category: str | None = None
    ) -> list[Recommendation]:
        """Products shoppers treat alike (close ALS item factors), most similar first."""
        column = self._column(product_id)
        blocked = self._blocked((), out_of_stock, category)
        blocked[column] = True
        # cosine of unit factors in numpy: implicit's similar_items starts its thread pool on every call
        unit = self._unit_item_factors
        scores = unit @ unit[column]
        allowed = np.flatnonzero(~blocked)
        if len(allowed) > n:
            allowed = allowed[np.argpartition(-scores[allowed], n - 1)[:n]]
        best = allowed[np.lexsort((allowed, -scores[allowed]))]
        reason = Reason.of("similar_to", product=self._name(column), product_id=product_id)
        return [Recommendation(str(self.product_ids[i]), float(scores[i]), reason) for i in best.tolist()]

    def complements(
        self, product_id: str, n: int = 10, *, out_of_stock: Collection[str] = (), category: str | None = None
    ) -> list[Recommendation]:
        """ "搭配推荐": products most often bought in the same basket as ``product_id``."""
        column = self._column(product_id)
        blocked = self._blocked((), out_of_stock, category)
        start, end = self.complement_scores.indptr[column], self.complement_scores.indptr[column + 1]
        partners, strengths = (
            self.complement_scores.indices[start:end],
            self.complement_scores.data[start:end],
        )
        order = np.lexsort((partners, -strengths))
        reason = Reason.of("bought_with", product=self._name(column), product_id=product_id)
        return [
            Recommendation(str(self.product_ids[partners[i]]), float(strengths[i]), reason)
            for i in order
            if not blocked[partners[i]]
        ][:n]

    def save(self, path: str | Path) -> Path:
        """Write the recommender to ``path`` (a ``.npz`` of plain arrays; no pickle).

        Returns
        -------
        pathlib.Path
            The file written (``.npz`` is appended when missing).
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays: dict[str, NDArray[Any]] = {
            "format_version": np.asarray(FORMAT_VERSION),
            "params": np.asarray(
                json.dumps({**asdict(self.model.params), "num_threads": self.model.num_threads})
            ),
            "metadata": np.asarray(json.dumps(self.metadata, default=str)),
            "user_factors": self.model.user_factors,
            "item_factors": self.model.item_factors,
            "person_ids": np.asarray(self.person_ids, dtype=np.str_),
            "product_ids": np.asarray(self.product_ids, dtype=np.str_),
            "product_names": np.asarray(self.product_names, dtype=np.str_),
            "product_categories": np.asarray(self.product_categories, dtype=np.str_),
            "popularity": np.asarray(self.popularity, dtype=np.float32),
            "repurchasable_categories": np.asarray(sorted(self.repurchasable_categories), dtype=np.str_),
            "interaction_weights": np.asarray(json.dumps(asdict(self.interaction_weights))),
            "bm25_average_length": np.asarray(self.bm25_average_length, dtype=np.float64),
            "segment_person_ids": np.asarray(list(self.shopper_segments), dtype=np.str_),
            "segment_regions": np.asarray(
                [s.region or "" for s in self.shopper_segments.values()], dtype=np.str_
            ),
            "segment_channels": np.asarray(
                [s.channel or "" for s in self.shopper_segments.values()], dtype=np.str_
            ),
        }
        n_items = len(self.product_ids)
        for kind, hot in (("region", self.region_popularity), ("channel", self.channel_popularity)):
            arrays[f"{kind}_names"] = np.asarray(list(hot), dtype=np.str_)
            arrays[f"{kind}_popularity"] = (
                np.vstack(list(hot.values())).astype(np.float32)
                if hot
                else np.zeros((0, n_items), np.float32)
            )
        if self.item_idf is not None:
            arrays["item_idf"] = np.asarray(self.item_idf, dtype=np.float32)
        matrices = [
            ("purchased", self.purchased),
            ("interacted", self.interacted),
            ("complements", self.complement_scores),
        ]
        if self.confidences is not None:
            matrices.append(("confidences", self.confidences))
        for name, matrix in matrices:
            matrix = sp.csr_matrix(matrix, dtype=np.float32)
            arrays |= {
                f"{name}_data": matrix.data,
                f"{name}_indices": matrix.indices,
                f"{name}_indptr": matrix.indptr,
                f"{name}_shape": np.asarray(matrix.shape, dtype=np.int64),
            }
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, allow_pickle=False, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Read a recommender written by :meth:`save`.

        Raises
        ------
        ValueError
            When the file holds pickled objects, is not a ShopLoop artifact, or misses arrays.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except ValueError as error:
            raise ValueError(f"{path} holds pickled objects; model artifacts must be plain arrays") from error
        version = str(arrays["format_version"]) if "format_version" in arrays else None
        if version != FORMAT_VERSION:
            raise ValueError(f"{path} is not a {FORMAT_VERSION} artifact (format_version={version!r})")
        required = {"params", "metadata", "user_factors", "item_factors", "person_ids", "product_ids"}
        missing = sorted(required - arrays.keys())
        if missing:
            raise ValueError(f"{path} misses arrays {missing}")
        params = json.loads(str(arrays["params"]))
        num_threads = int(params.pop("num_threads"))
        model = ALSModel.from_factors(
            arrays["user_factors"], arrays["item_factors"], ALSParams(**params), num_threads=num_threads
        )

        def csr(name: str) -> sp.csr_matrix:
            shape = tuple(int(v) for v in arrays[f"{name}_shape"])
            return sp.csr_matrix(
                (arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"]), shape=shape
            )

        return cls(
            model=model,
            person_ids=arrays["person_ids"],
            product_ids=arrays["product_ids"],
            purchased=csr("purchased"),
            interacted=csr("interacted"),
            popularity=arrays["popularity"],
            complement_scores=csr("complements"),
            product_names=arrays["product_names"],
            product_categories=arrays["product_categories"],
            repurchasable_categories=frozenset(str(c) for c in arrays["repurchasable_categories"]),
            metadata=json.loads(str(arrays["metadata"])),
            # artifacts from before freshness and segment cold start lack these; they load without them
            interaction_weights=InteractionWeights(
                **(json.loads(str(arrays["interaction_weights"])) if "interaction_weights" in arrays else {})
            ),
            confidences=csr("confidences") if "confidences_data" in arrays else None,
            bm25_average_length=float(arrays.get("bm25_average_length", 1.0)),
            item_idf=arrays.get("item_idf"),
            region_popularity=_hot_lists(arrays, "region"),
            channel_popularity=_hot_lists(arrays, "channel"),
            shopper_segments={
                str(person_id): ShopperSegment(region=str(region) or None, channel=str(channel) or None)
                for person_id, region, channel in zip(
                    arrays.get("segment_person_ids", ()),
                    arrays.get("segment_regions", ()),
                    arrays.get("segment_channels", ()),
                    strict=True,
                )
            },
        )

    def _column(self, product_id: str) -> int:
        column = self.product_index.get(str(product_id))
        if column is None:
            raise ValueError(
                f"unknown product_id {product_id!r}: the model has {len(self.product_ids)} products"
            )
        return column

    def _name(self, column: int) -> str:
        return str(self.product_names[column]) or str(self.product_ids[column])

    def _blocked(
        self, hidden: Collection[str], out_of_stock: Collection[str], category: str | None
    ) -> NDArray[np.bool_]:
        blocked = self._columns_mask(hidden)
        blocked |= self._columns_mask(out_of_stock)
        if category is not None:
            blocked |= self._category_mask(category)
        return blocked

    def _columns_mask(self, product_ids: Collection[str]) -> NDArray[np.bool_]:
        """Products as a mask over the columns; a frozenset (the order core's shelf snapshot, the same object
        for thousands of requests) is looked up once and remembered."""
        if isinstance(product_ids, frozenset):
            cached = self._mask_cache.get(product_ids)
            if cached is not None:
                return cached.copy()
        mask = np.zeros(len(self.product_ids), dtype=bool)
        index = self.product_index
        for product_id in product_ids:
            column = index.get(str(product_id))
            if column is not None:
                mask[column] = True
        if isinstance(product_ids, frozenset):
            if len(self._mask_cache) >= 4:
                self._mask_cache.pop(next(iter(self._mask_cache)))
            self._mask_cache[product_ids] = mask.copy()
        return mask

    @cached_property
    def _mask_cache(self) -> dict[frozenset[str], NDArray[np.bool_]]:
        return {}

    def _category_mask(self, category: str) -> NDArray[np.bool_]:
        cached = self._category_masks.get(category)
        if cached is None:
            cached = self._category_masks[category] = self.product_categories != category
        return cached

    @cached_property
    def _category_masks(self) -> dict[str, NDArray[np.bool_]]:
        return {}

    def _already_purchased(self, row: int | None, since_training: Collection[str] = ()) -> NDArray[np.bool_]:
        bought = np.zeros(len(self.product_ids), dtype=bool)
        if row is not None:
            bought[self._row_columns(self.purchased, row)] = True
        for product_id in since_training:
            column = self.product_index.get(str(product_id))
            if column is not None:
                bought[column] = True
        bought &= ~self._repurchasable
        return bought

    @cached_property
    def _popularity_order(self) -> NDArray[np.int64]:
        return np.lexsort((np.arange(len(self.popularity)), -self.popularity))

    @cached_property
    def _repurchasable(self) -> NDArray[np.bool_]:
        """Per product: in a category of consumables that may be recommended again after a purchase."""
        if not self.repurchasable_categories:
            return np.zeros(len(self.product_ids), dtype=bool)
        return np.isin(self.product_categories, sorted(self.repurchasable_categories))

    @staticmethod
    def _row_columns(matrix: sp.csr_matrix, row: int) -> NDArray[np.int32]:
        """The columns of one CSR row, read from its arrays (scipy's row slicing costs ~50 µs a call)."""
        return np.asarray(matrix.indices[matrix.indptr[row] : matrix.indptr[row + 1]])

    def _popular(self, n: int, blocked: NDArray[np.bool_]) -> list[Recommendation]:
        order = self._popularity_order
        allowed = order[~blocked[order]][:n]
        return [
            Recommendation(str(self.product_ids[i]), float(self.popularity[i]), COLD_START_REASON)
            for i in allowed
        ]

    def _reasons(
        self, row: int | None, items: NDArray[np.int64], fresh_columns: Mapping[int, str]
    ) -> list[Reason]:
        """Why each of ``items`` is shown: the product of the shopper's history closest to it in factor space.

        One (history × items) product of unit factors for the whole list, not one lookup per item.
        """
        history = self._row_columns(self.interacted, row) if row is not None else np.empty(0, np.int32)
        if fresh_columns:
            history = np.union1d(
                history, np.fromiter(fresh_columns, dtype=np.int32, count=len(fresh_columns))
            )
        if len(history) == 0:
            return [COLD_START_REASON] * len(items)
        unit = self._unit_item_factors
        anchors = history[np.argmax(unit[history] @ unit[items].T, axis=0)]
        bought = set(self._row_columns(self.purchased, row).tolist()) if row is not None else set()
        reasons = []
        for anchor in anchors.tolist():
            code: ReasonCode = (
                "added_to_cart"
                if fresh_columns.get(anchor) == "add_to_cart"
                else "bought"
                if anchor in bought
                else "viewed"
            )
            reasons.append(
                Reason.of(code, product=self._name(anchor), product_id=str(self.product_ids[anchor]))
            )
        return reasons

    def _fresh_columns(self, recent: Sequence[RecentInteraction]) -> dict[int, str]:
        """Column → strongest recent kind, for the products the model knows."""
        columns: dict[int, str] = {}
        for interaction in recent:
            column = self.product_index.get(interaction.product_id)
            if column is not None and columns.get(column) != "add_to_cart":
                columns[column] = interaction.kind
        return columns

    def _fresh_vector(self, row: int | None, recent: Sequence[RecentInteraction]) -> NDArray[np.float32]:
        """The shopper's factors from their training row plus recent interactions, weighted as in training.

        With ``repeats="last"`` training counted one interaction per shopper, product and kind, so a product
        viewed five times since training adds one view here too, not five.
        """
        n_items = len(self.product_ids)
        weights = self.interaction_weights
        columns, values = [], []
        counted: set[tuple[int, str]] = set()
        for interaction in recent:
            column = self.product_index.get(interaction.product_id)
            if column is None:
                continue
            if weights.repeats == "last":
                if (column, interaction.kind) in counted:
                    continue
                counted.add((column, interaction.kind))
            columns.append(column)
            values.append(getattr(weights, interaction.kind))
        fresh = sp.csr_matrix(
            (np.asarray(values, dtype=np.float32), (np.zeros(len(columns), dtype=np.int32), columns)),
            shape=(1, n_items),
        )
        base = self.confidences if self.confidences is not None else self.interacted
        if row is not None:
            start, end = base.indptr[row], base.indptr[row + 1]
            fresh = fresh + sp.csr_matrix(
                (base.data[start:end], base.indices[start:end], [0, end - start]), shape=(1, n_items)
            )
        merged = sp.csr_matrix(fresh, dtype=np.float32)
        merged.sum_duplicates()
        return self.model.recalculate_user(self._weigh_row(merged))

    def _weigh_row(self, row: sp.csr_matrix) -> sp.csr_matrix:
        if self.item_idf is None and self.model.params.weighting == "bm25":
            return row  # an artifact from before fresh rows were weighted
        item_idf = self.item_idf if self.item_idf is not None else np.ones(row.shape[1], np.float32)
        return weigh_row(row, self.model.params, item_idf=item_idf, average_length=self.bm25_average_length)

    def _top(
        self,
        scores: NDArray[np.float32],
        n: int,
        blocked: NDArray[np.bool_],
        row: int | None,
        fresh_columns: Mapping[int, str],
    ) -> list[Recommendation]:
        allowed = np.flatnonzero(~blocked)
        if len(allowed) > n:
            allowed = allowed[np.argpartition(-scores[allowed], n - 1)[:n]]
        best = allowed[np.lexsort((allowed, -scores[allowed]))]
        return [
            Recommendation(str(self.product_ids[i]), float(scores[i]), reason)
            for i, reason in zip(best.tolist(), self._reasons(row, best, fresh_columns), strict=True)
        ]

    def _segment_of(self, person_id: str) -> ShopperSegment:
        streamed = self.fresh.segment(person_id) if self.fresh is not None else ShopperSegment()
        known = self.shopper_segments.get(person_id, ShopperSegment())
        return ShopperSegment(
            region=streamed.region or known.region, channel=known.channel or streamed.channel
        )

    def _cold_start(
        self, n: int, blocked: NDArray[np.bool_], segment: ShopperSegment
    ) -> list[Recommendation]:
        """Hot lists of the shopper's region and acquisition channel, interleaved; overall popularity after."""
        hot_lists = []
        if segment.region is not None and segment.region in self.region_popularity:
            hot_lists.append(
                (
                    self.region_popularity[segment.region],
                    Reason.of("popular_in_region", region=segment.region),
                )
            )
        if segment.channel is not None and segment.channel in self.channel_popularity:
            hot_lists.append(
                (
                    self.channel_popularity[segment.channel],
                    Reason.of("popular_with_channel", channel=segment.channel),
                )
            )
        rankings = [
            (order[(popularity[order] > 0) & ~blocked[order]], popularity, reason)
            for popularity, reason in hot_lists
            for order in [np.lexsort((np.arange(len(popularity)), -popularity))]
        ]
        taken = blocked.copy()
        result: list[Recommendation] = []
        depth = 0
        while len(result) < n and any(depth < len(ranking) for ranking, _, _ in rankings):
            for ranking, popularity, reason in rankings:
                if depth < len(ranking) and not taken[ranking[depth]] and len(result) < n:
                    item = int(ranking[depth])
                    taken[item] = True
                    result.append(
                        Recommendation(str(self.product_ids[item]), float(popularity[item]), reason)
                    )
            depth += 1
        return result + self._popular(n - len(result), taken) if len(result) < n else result


def _hot_lists(arrays: Mapping[str, NDArray[Any]], kind: str) -> dict[str, NDArray[np.float32]]:
    if f"{kind}_names" not in arrays:
        return {}
    return {
        str(name): np.asarray(row, dtype=np.float32)
        for name, row in zip(arrays[f"{kind}_names"], arrays[f"{kind}_popularity"], strict=True)
    }
