"""The recommender port: the live model from recsys' registry, reloaded now and then, or None before training."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from recsys.model import Recommender
from recsys.registry import NoModelError

log = logging.getLogger(__name__)


class LiveRecommender:
    """Serves the registry's live model; `get()` is None until a model has been trained."""

    def __init__(self, load: Callable[[], Recommender], *, reload_after_s: float = 300.0) -> None:
        self._load = load
        self._reload_after_s = reload_after_s
        self._lock = threading.Lock()
        self._current: Recommender | None = None
        self._loaded_at = float("-inf")

    def get(self) -> Recommender | None:
        with self._lock:
            if time.monotonic() - self._loaded_at >= self._reload_after_s or self._current is None:
                try:
                    self._current = self._load()
                    self._loaded_at = time.monotonic()
                except NoModelError:
                    # Keep serving the previous model, if any; popularity answers until the first training.
                    log.debug("no trained recommender yet")
                except (OSError, ValueError):
                    log.exception("could not load the live recommender; keeping the previous one")
            return self._current
