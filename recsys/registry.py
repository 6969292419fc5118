"""The model registry: one folder per training run, and a small state file saying which run is live.

Layout under the registry root::

    <run_id>/model.npz     the Recommender artifact (plain arrays, no pickle)
    <run_id>/card.json     metrics, validation metric, data window, parameters
    state.json             {"live_history": [run ids, oldest first], "rejected": [run ids],
                            "erasure_generation": n, "erasures": [{"erased_at", "id_digests"}]}
    .lock                  taken (flock) by every change of a run or of the state

Run ids sort by creation time. Files are written to a temporary name and renamed, so a reader never
sees half a run or half a state file.

Erasure (:meth:`ModelRegistry.erase_people`, called by ``shoploop privacy forget``) rewrites every run, live,
kept for rollback or rejected, without the shoppers (:func:`recsys.erasure.without_people`), bumps
``erasure_generation`` (serving reloads its model when it moves) and logs the SHA-256 digests of the erased ids
for ``ERASURE_LOG_KEEP`` (serving purges its freshness store by them; a run saved meanwhile by a training that
read the data before the erasure is filtered by them too). Changes take the registry's lock, so a run saved
during an erasure is either rewritten by it or filtered when saved.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from recsys.erasure import ErasureLog, id_digest, without_people
from recsys.model import Recommender

log = structlog.get_logger(__name__)

MODEL_FILE = "model.npz"
CARD_FILE = "card.json"
STATE_FILE = "state.json"
LOCK_FILE = ".lock"
# How long the digests of erased ids stay in the log: serving processes look every few minutes, and a training
# that read the data before an erasure saves its run within this.
ERASURE_LOG_KEEP = timedelta(days=2)


@dataclass(frozen=True)
class RunCard:
    """What the registry knows about one training run.

    Attributes
    ----------
    run_id : str
    created_at : datetime
    validation_metric : str
        Name of the metric runs are compared on, e.g. ``"ndcg@10"``.
    validation_score : float
        Its value on the validation split; higher is better.
    metrics : dict
        The test-period evaluation (all models, for the record).
    data_window : dict
        ``start`` / ``end`` of the training data and the split cutoffs, ISO 8601.
    params : dict
        Hyperparameters and interaction weights.
    path : pathlib.Path
        The run's folder.
    """

    run_id: str
    created_at: datetime
    validation_metric: str
    validation_score: float
    metrics: dict[str, Any]
    data_window: dict[str, Any]
    params: dict[str, Any]
    path: Path

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE


class NoModelError(LookupError):
    """The registry holds no run that can be served."""


class ModelRegistry:
    """Saves training runs and decides which one serving loads.

    Parameters
    ----------
    root : pathlib.Path
        Folder of the registry (created on first save).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def save_run(
        self,
        recommender: Recommender,
        *,
        validation_score: float,
        validation_metric: str = "ndcg@10",
        metrics: dict[str, Any] | None = None,
        data_window: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> RunCard:
        """Write one run (artifact + card). It is not live until :meth:`load_live` promotes it."""
        created_at = now or datetime.now(UTC)
        if created_at.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        run_id = f"{created_at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"
        with self._locked():
            digests = self.erasure_log().id_digests
            if digests:
                # a training that read its data before an erasure must not bring the shoppers back
                erased = [str(p) for p in recommender.person_ids if id_digest(str(p)) in digests]
                recommender, _ = without_people(recommender, erased)
            return self._save_run(
                recommender,
                run_id=run_id,
                created_at=created_at,
                validation_score=validation_score,
                validation_metric=validation_metric,
                metrics=metrics,
                data_window=data_window,
                params=params,
            )

    def _save_run(
        self,
        recommender: Recommender,
        *,
        run_id: str,
        created_at: datetime,
        validation_score: float,
        validation_metric: str,
        metrics: dict[str, Any] | None,
        data_window: dict[str, Any] | None,
        params: dict[str, Any] | None,
    ) -> RunCard:
        staging = self.root / f".{run_id}.tmp"
        staging.mkdir(parents=True)
        recommender.save(staging / MODEL_FILE)
        card = {
            "run_id": run_id,
            "created_at": created_at.isoformat(),
            "validation_metric": validation_metric,
            "validation_score": float(validation_score),
            "metrics": metrics or {},
            "data_window": data_window or {},
            "params": params or {},
        }
        (staging / CARD_FILE).write_text(json.dumps(card, indent=2, default=str))
        os.replace(staging, self.root / run_id)
        log.info("recsys_run_saved", run_id=run_id, validation_score=validation_score)
        return self._card(self.root / run_id)

    def runs(self) -> list[RunCard]:
        """Every complete run, oldest first."""
        if not self.root.exists():
            return []
        folders = [p for p in self.root.iterdir() if p.is_dir() and (p / CARD_FILE).exists()]
        return sorted((self._card(p) for p in folders), key=lambda card: (card.created_at, card.run_id))

    def live(self) -> RunCard | None:
        """The run serving now, or ``None`` before the first promotion."""
        history = self._state()["live_history"]
        return self._card(self.root / history[-1]) if history else None

    def promote_best(self) -> RunCard:
        """Make the newest run that beats the live one live (the first run is always promoted).

        Runs newer than the live one are considered newest first; a run that was rolled back is never
        promoted again. Returns the live run afterwards.

        Raises
        ------
        NoModelError
            When there is no live run and no run to promote.
        """
        with self._locked():
            return self._promote_best()

    def _promote_best(self) -> RunCard:
        state = self._state()
        live = self.live()
        rejected = set(state["rejected"])
        candidates = [
            card
            for card in self.runs()
            if card.run_id not in rejected
            and (live is None or (card.created_at, card.run_id) > (live.created_at, live.run_id))
        ]
        for card in reversed(candidates):
            if live is None or card.validation_score > live.validation_score:
                state["live_history"].append(card.run_id)
                self._write_state(state)
                log.info("recsys_run_promoted", run_id=card.run_id, replaced=live.run_id if live else None)
                return card
        if live is None:
            raise NoModelError(f"no trained model in {self.root}; run `shoploop recsys train` first")
        return live

    def load_live(self) -> Recommender:
        """Promote the newest run that beats the live one (see :meth:`promote_best`) and load it."""
        return Recommender.load(self.promote_best().model_path)

    def rollback(self) -> RunCard:
        """Return to the previously live run; the current one is marked rejected and never re-promoted.

        Raises
        ------
        NoModelError
            When there is no earlier live run to return to.
        """
        with self._locked():
            return self._rollback()

    def _rollback(self) -> RunCard:
        state = self._state()
        if len(state["live_history"]) < 2:
            raise NoModelError("there is no previous live model to roll back to")
        withdrawn = state["live_history"].pop()
        state["rejected"].append(withdrawn)
        self._write_state(state)
        live = self.live()
        assert live is not None  # the history had two entries
        log.info("recsys_rolled_back", withdrawn=withdrawn, live=live.run_id)
        return live

    def erasure_log(self) -> ErasureLog:
        """The erasure generation and the digests of recently erased ids (cheap: the state file only)."""
        state = self._state()
        return ErasureLog(
            generation=int(state["erasure_generation"]),
            id_digests=frozenset(d for entry in state["erasures"] for d in entry["id_digests"]),
        )

    def erase_people(self, ids: Collection[str], *, now: datetime | None = None) -> dict[str, int]:
        """Rewrite every run without the shoppers ``ids`` and tell serving (see the module docstring).

        Idempotent: a run without them is left as it is. Returns rows removed per rewritten run id. The log is
        written even to a registry that has no run yet: a first training may be reading the shoppers right now.
        """
        erased_at = now or datetime.now(UTC)
        if erased_at.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        ids = sorted({str(i) for i in ids})
        removed: dict[str, int] = {}
        with self._locked():
            # logged first: a run saved from here on is filtered, and a re-run after a failure finds the log
            state = self._state()
            state["erasures"] = [
                entry
                for entry in state["erasures"]
                if datetime.fromisoformat(entry["erased_at"]) > erased_at - ERASURE_LOG_KEEP
            ] + [{"erased_at": erased_at.isoformat(), "id_digests": [id_digest(i) for i in ids]}]
            self._write_state(state)
            for card in self.runs():
                original = Recommender.load(card.model_path)
                erased, rows = without_people(original, ids)
                if erased is original:
                    continue
                temporary = card.path / f".{MODEL_FILE}.{secrets.token_hex(3)}.tmp.npz"
                erased.save(temporary)
                os.replace(temporary, card.model_path)
                removed[card.run_id] = rows
            # bumped after the rewrite: a serving process that reloads on the new generation reads erased runs
            state = self._state()
            state["erasure_generation"] = int(state["erasure_generation"]) + 1
            self._write_state(state)
        log.info("recsys_people_erased", runs_rewritten=len(removed), rows_removed=sum(removed.values()))
        return removed

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / LOCK_FILE).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _card(self, folder: Path) -> RunCard:
        card = json.loads((folder / CARD_FILE).read_text())
        return RunCard(
            run_id=card["run_id"],
            created_at=datetime.fromisoformat(card["created_at"]),
            validation_metric=card["validation_metric"],
            validation_score=float(card["validation_score"]),
            metrics=card["metrics"],
            data_window=card["data_window"],
            params=card["params"],
            path=folder,
        )

    def _state(self) -> dict[str, Any]:
        path = self.root / STATE_FILE
        state = json.loads(path.read_text()) if path.exists() else {}
        return {
            "live_history": list(state.get("live_history", [])),
            "rejected": list(state.get("rejected", [])),
            "erasure_generation": int(state.get("erasure_generation", 0)),
            "erasures": list(state.get("erasures", [])),
        }

    def _write_state(self, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.root / f".{STATE_FILE}.{secrets.token_hex(3)}.tmp"
        temporary.write_text(json.dumps(state, indent=2))
        os.replace(temporary, self.root / STATE_FILE)
