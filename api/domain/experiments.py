"""A/B test assignment: a deterministic hash of experiment and shopper picks the variant by traffic split."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

BUCKETS = 10_000


def bucket(experiment_id: str, user_id: str) -> int:
    """0 … 9,999, stable for a shopper within an experiment and independent between experiments."""
    digest = hashlib.sha256(f"{experiment_id}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign(experiment_id: str, user_id: str, variants: Sequence[tuple[str, int]]) -> str:
    """The variant whose share of the buckets (weights in proportion) holds the shopper's bucket."""
    total = sum(weight for _, weight in variants)
    if total <= 0:
        raise ValueError("an experiment needs a variant with a positive weight")
    point = bucket(experiment_id, user_id) * total // BUCKETS
    for name, weight in variants:
        if point < weight:
            return name
        point -= weight
    return variants[-1][0]
