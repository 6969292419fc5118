"""The recommender port: the live model from recsys' registry, reloaded in the background, or None before training.

With a freshness store (recsys.freshness.RecentInteractions, fed from shoploop.events by the app's lifespan)
the served model recomputes a shopper's vector from their latest views and add-to-carts on each request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from threadpoolctl import threadpool_limits

from recsys.erasure import ErasureLog
from recsys.freshness import RecentInteractions
from recsys.model import Recommender
from recsys.registry import NoModelError

log = logging.getLogger(__name__)


class LiveRecommender:
    """Serves the registry's live model; `get()` is None until a model has been trained.

    Requests never wait for a reload once a model is served: every `reload_after_s` one request starts a
    background thread that asks the registry for the live run and reads its artifact only when the run
    changed (`live_version`); the old model answers until the new one is in place. Until the first model
    exists each call looks for one (cheap: the registry's state file), so a first training is served at once.

    Erasure (`shoploop privacy forget`): `erasures` reads the registry's erasure log at each of those checks;
    when its generation moved, the freshness store drops (and refuses for a while) the erased ids and the live
    artifact, rewritten without them, is read again even if the run did not change. A process therefore serves
    an erased shopper's personal recommendations for at most `reload_after_s` after the erasure.
    """

    def __init__(
        self,
        load: Callable[[], Recommender],
        *,
        reload_after_s: float = 300.0,
        fresh: RecentInteractions | None = None,
        live_version: Callable[[], str] | None = None,
        erasures: Callable[[], ErasureLog] | None = None,
        refuse_erased_for_s: float = 600.0,
    ) -> None:
        self._load = load
        self._live_version = live_version
        self._erasures = erasures
        self._refuse_erased_for_s = refuse_erased_for_s
        self._erasure_generation: int | None = None
        self._reload_after_s = reload_after_s
        self._lock = threading.Lock()
        self._current: Recommender | None = None
        self._version: str | None = None
        self._checked_at = float("-inf")
        self._reloading = False
        self.fresh = fresh
        # Set once the freshness consumer reads every partition of the events topic.
        self.fresh_reading = threading.Event()

    @property
    def version(self) -> str | None:
        """The registry run id of the model being served (None before the first model, or without a registry)."""
        return self._version

    def get(self) -> Recommender | None:
        if self._current is None:
            with self._lock:
                if self._current is None:
                    self._reload()
            return self._current
        if time.monotonic() - self._checked_at >= self._reload_after_s:
            with self._lock:
                if not self._reloading and time.monotonic() - self._checked_at >= self._reload_after_s:
                    self._reloading = True
                    threading.Thread(
                        target=self._reload_in_background, name="recommender-reload", daemon=True
                    ).start()
        return self._current

    def _reload_in_background(self) -> None:
        try:
            self._reload()
        finally:
            self._reloading = False

    def _reload(self) -> None:
        try:
            erasures = self._erasures() if self._erasures is not None else None
            is_erased = erasures is not None and erasures.generation != self._erasure_generation
            if erasures is not None and is_erased and self.fresh is not None:
                self.fresh.forget(erasures.id_digests, refuse_for_s=self._refuse_erased_for_s)
            version = self._live_version() if self._live_version is not None else None
            if version is None or version != self._version or self._current is None or is_erased:
                # Requests score on many threads at once, each a small matrix-vector product: one BLAS
                # thread per call, or OpenBLAS's own threads fight them for the two cores.
                threadpool_limits(limits=1, user_api="blas")
                loaded = self._load()
                self._current = loaded.with_fresh(self.fresh) if self.fresh is not None else loaded
                self._version = version
            if erasures is not None:
                self._erasure_generation = erasures.generation
        except NoModelError:
            # Keep serving the previous model, if any; popularity answers until the first training.
            log.debug("no trained recommender yet")
        except (OSError, ValueError):
            log.exception("could not load the live recommender; keeping the previous one")
        self._checked_at = time.monotonic()
