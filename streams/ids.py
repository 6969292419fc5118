"""Deterministic identifiers: the same facts always give the same id, live or on replay."""

from __future__ import annotations

import hashlib


def stable_id(prefix: str, *parts: str) -> str:
    """A short id from the parts; replaying the same log yields the same ids, so sends de-duplicate."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]
    return f"{prefix}_{digest}"


def stable_fraction(*parts: str) -> float:
    """A number in [0, 1) fixed by the parts (for holdout groups); independent of PYTHONHASHSEED."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
