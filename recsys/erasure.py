"""Erasure (PIPL): take shoppers out of a trained recommender without retraining.

A trained :class:`recsys.model.Recommender` holds, per shopper, a row of the id map, a user factor vector, the
rows of the purchase, interaction and confidence matrices and a region / channel entry. :func:`without_people`
drops all of them, and takes the shopper's confidences back out of the popularity and hot lists, which are plain
sums over shoppers. What stays are the item factors and the basket complements, products × products aggregates
that hold no row or id of anyone; the next training, on a warehouse the shopper has left, has no trace of them.

:func:`id_digest` is how the registry's erasure log names an erased id (SHA-256 hex): serving processes purge
their in-memory freshness store by it without the log keeping the ids themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from recsys.model import ALSModel, Recommender


@dataclass(frozen=True)
class ErasureLog:
    """What serving processes learn from the registry: a counter that moves on every erasure, and the digests
    of the ids erased recently (see :meth:`recsys.registry.ModelRegistry.erase_people`)."""

    generation: int = 0
    id_digests: frozenset[str] = frozenset()


def id_digest(person_id: str) -> str:
    """SHA-256 hex of an id, as the erasure log keeps it."""
    return hashlib.sha256(str(person_id).encode()).hexdigest()


def without_people(recommender: Recommender, ids: Collection[str]) -> tuple[Recommender, int]:
    """The recommender with no row, vector or segment of the shoppers ``ids``; and how many rows were dropped.

    Parameters
    ----------
    recommender : Recommender
    ids : collection of str
        Every id the shoppers may be keyed by in the model (order-core user id, person id, anonymousId).

    Returns
    -------
    (Recommender, int)
        The same object and 0 when nobody of ``ids`` is in it (nothing to rewrite).
    """
    wanted = {str(i) for i in ids}
    person_ids = np.asarray(recommender.person_ids).astype(str)
    erased = np.isin(person_ids, sorted(wanted)) if wanted else np.zeros(len(person_ids), dtype=bool)
    erased_segments = wanted & recommender.shopper_segments.keys()
    if not erased.any() and not erased_segments:
        return recommender, 0
    rows = np.flatnonzero(erased)
    base = recommender.confidences if recommender.confidences is not None else recommender.interacted
    taken_out = np.asarray(sp.csr_matrix(base)[rows].sum(axis=0), dtype=np.float32).ravel()
    region_popularity = dict(recommender.region_popularity)
    channel_popularity = dict(recommender.channel_popularity)
    for row in rows.tolist():
        segment = recommender.shopper_segments.get(str(person_ids[row]))
        if segment is None:
            continue
        own = np.asarray(sp.csr_matrix(base)[row].toarray(), dtype=np.float32).ravel()
        if segment.region in region_popularity:
            region_popularity[segment.region] = _minus(region_popularity[segment.region], own)
        if segment.channel in channel_popularity:
            channel_popularity[segment.channel] = _minus(channel_popularity[segment.channel], own)
    keep = np.flatnonzero(~erased)
    model = ALSModel.from_factors(
        np.ascontiguousarray(recommender.model.user_factors[keep]),
        recommender.model.item_factors,
        recommender.model.params,
        num_threads=recommender.model.num_threads,
    )
    erased_recommender = replace(
        recommender,
        model=model,
        person_ids=np.asarray(recommender.person_ids)[keep],
        purchased=_rows(recommender.purchased, keep),
        interacted=_rows(recommender.interacted, keep),
        confidences=_rows(recommender.confidences, keep) if recommender.confidences is not None else None,
        popularity=_minus(recommender.popularity, taken_out),
        region_popularity=region_popularity,
        channel_popularity=channel_popularity,
        shopper_segments={
            person: segment
            for person, segment in recommender.shopper_segments.items()
            if person not in erased_segments
        },
    )
    return erased_recommender, int(erased.sum())


def _rows(matrix: sp.csr_matrix, keep: NDArray[np.int64]) -> sp.csr_matrix:
    return sp.csr_matrix(sp.csr_matrix(matrix)[keep], dtype=np.float32)


def _minus(totals: NDArray[np.float32], part: NDArray[np.float32]) -> NDArray[np.float32]:
    # float sums: clip the rounding left over when a product's only shopper is taken out
    return np.asarray(np.clip(np.asarray(totals, dtype=np.float32) - part, 0.0, None), dtype=np.float32)
