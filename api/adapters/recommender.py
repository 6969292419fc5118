"""The recommender port: the live model from recsys' registry, reloaded now and then, or None before training.

With a freshness store (recsys.freshness.RecentInteractions, fed from shoploop.events by the app's lifespan)
the served model recomputes a shopper's vector from their latest views and add-to-carts on each request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from recsys.freshness import RecentInteractions
from recsys.model import Recommender
from recsys.registry import NoModelError

log = logging.getLogger(__name__)


class LiveRecommender:
    """Serves the registry's live model; `get()` is None until a model has been trained."""

    def __init__(
        self,
        load: Callable[[], Recommender],
        *,
        reload_after_s: float = 300.0,
        fresh: RecentInteractions | None = None,
    ) -> None:
        self._load = load
        self._reload_after_s = reload_after_s
        self._lock = threading.Lock()
        self._current: Recommender | None = None
        self._loaded_at = float("-inf")
        self.fresh = fresh
        # Set once the freshness consumer reads every partition of the events topic.
        self.fresh_reading = threading.Event()

    def get(self) -> Recommender | None:
        with self._lock:
            if time.monotonic() - self._loaded_at >= self._reload_after_s or self._current is None:
                try:
                    loaded = self._load()
                    self._current = loaded.with_fresh(self.fresh) if self.fresh is not None else loaded
                    self._loaded_at = time.monotonic()
                except NoModelError:
                    # Keep serving the previous model, if any; popularity answers until the first training.
                    log.debug("no trained recommender yet")
                except (OSError, ValueError):
                    log.exception("could not load the live recommender; keeping the previous one")
            return self._current
