"""Experiments (A/B tests): analysts define and start/stop them; shoppers get their variants by hash.

Exposures are not recorded here: the mini-program tracks an "Experiment Viewed" event (experiment_id,
variant) through the collector when it shows the variant, and the experiments mart reads those.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import insert, select, update

from api.adapters import tables as t
from api.domain import events
from api.domain.errors import ExperimentNotFound, InvalidTransition
from api.domain.experiments import assign
from api.service_layer.unit_of_work import UnitOfWork


class ExperimentExists(InvalidTransition):
    code = "experiment_exists"


def _public(row: Any) -> dict[str, Any]:
    found = dict(row)
    found["variants"] = [{"name": name, "weight": weight} for name, weight in orjson.loads(found["variants"])]
    return found


def _changed(uow: UnitOfWork, row: dict[str, Any], *, now: datetime) -> None:
    uow.record(
        events.ExperimentChanged(
            key=row["experiment_id"],
            occurred_at=now,
            experiment_id=row["experiment_id"],
            status=row["status"],
            variants=tuple((v["name"], v["weight"]) for v in row["variants"]),
            target_metric=row["target_metric"],
        )
    )


def _get(uow: UnitOfWork, experiment_id: str) -> dict[str, Any]:
    row = (
        uow.session.execute(select(t.experiments).where(t.experiments.c.experiment_id == experiment_id))
        .mappings()
        .first()
    )
    if row is None:
        raise ExperimentNotFound("no such experiment")
    return _public(row)


def create(
    uow: UnitOfWork,
    *,
    experiment_id: str,
    name: str,
    variants: list[tuple[str, int]],
    target_metric: str,
    starts_at: datetime | None,
    stops_at: datetime | None,
    staff_id: str,
    now: datetime,
) -> dict[str, Any]:
    """A schedule (starts_at / stops_at) makes it run by itself; without one, start and stop it by hand."""
    with uow:
        exists = uow.session.execute(
            select(t.experiments.c.experiment_id).where(t.experiments.c.experiment_id == experiment_id)
        ).first()
        if exists:
            raise ExperimentExists(f"experiment {experiment_id} already exists")
        uow.session.execute(
            insert(t.experiments).values(
                experiment_id=experiment_id,
                name=name,
                variants=orjson.dumps(variants).decode(),
                target_metric=target_metric,
                status="running" if starts_at else "draft",
                starts_at=starts_at,
                stops_at=stops_at,
                created_by=staff_id,
                created_at=now,
            )
        )
        row = _get(uow, experiment_id)
        _changed(uow, row, now=now)
        uow.commit()
    return row


def start(uow: UnitOfWork, *, experiment_id: str, now: datetime) -> dict[str, Any]:
    with uow:
        row = _get(uow, experiment_id)
        if row["status"] != "draft":
            raise InvalidTransition(f"the experiment is {row['status']}")
        uow.session.execute(
            update(t.experiments)
            .where(t.experiments.c.experiment_id == experiment_id)
            .values(status="running", starts_at=now)
        )
        row = _get(uow, experiment_id)
        _changed(uow, row, now=now)
        uow.commit()
    return row


def stop(uow: UnitOfWork, *, experiment_id: str, now: datetime) -> dict[str, Any]:
    with uow:
        row = _get(uow, experiment_id)
        if row["status"] == "stopped":
            raise InvalidTransition("the experiment is already stopped")
        uow.session.execute(
            update(t.experiments)
            .where(t.experiments.c.experiment_id == experiment_id)
            .values(status="stopped", stops_at=now)
        )
        row = _get(uow, experiment_id)
        _changed(uow, row, now=now)
        uow.commit()
    return row


def list_experiments(uow: UnitOfWork) -> list[dict[str, Any]]:
    with uow:
        return [
            _public(row)
            for row in uow.session.execute(
                select(t.experiments).order_by(t.experiments.c.created_at.desc())
            ).mappings()
        ]


def assignments(uow: UnitOfWork, *, user_id: str, now: datetime) -> list[dict[str, str]]:
    """The shopper's variant in every experiment running now."""
    c = t.experiments.c
    with uow:
        running = [
            _public(row)
            for row in uow.session.execute(
                select(t.experiments)
                .where(
                    c.status == "running",
                    c.starts_at <= now,
                    (c.stops_at.is_(None)) | (c.stops_at > now),
                )
                .order_by(c.experiment_id)
            ).mappings()
        ]
    return [
        {
            "experiment_id": row["experiment_id"],
            "variant": assign(
                row["experiment_id"], user_id, [(v["name"], v["weight"]) for v in row["variants"]]
            ),
        }
        for row in running
    ]
