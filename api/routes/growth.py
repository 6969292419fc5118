"""Experiments (A/B tests), stores nearby, favourites and footprints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import Analyst, ContainerDep, CurrentShopper, Operator, Viewer
from api.schemas import (
    AssignmentPublic,
    CountPublic,
    ExperimentCreate,
    ExperimentPublic,
    FootprintCreate,
    SavedProductPublic,
    StoreCreate,
    StorePublic,
)
from api.service_layer import experiments, favourites, stores

router = APIRouter(prefix="/v1", tags=["growth"])
admin_router = APIRouter(prefix="/admin/v1", tags=["back office"])


# -- experiments --------------------------------------------------------------------------------------------
@router.get("/experiments/assignments")
def experiment_assignments(shopper: CurrentShopper, container: ContainerDep) -> list[AssignmentPublic]:
    """The shopper's variant in each running experiment (a stable hash of experiment and shopper). When the
    mini-program shows a variant it tracks "Experiment Viewed" {experiment_id, variant}."""
    found = experiments.assignments(container.uow(), user_id=shopper.user_id, now=container.now())
    return [AssignmentPublic.model_validate(a) for a in found]


@admin_router.post("/experiments", status_code=status.HTTP_201_CREATED)
def create_experiment(body: ExperimentCreate, staff: Analyst, container: ContainerDep) -> ExperimentPublic:
    created = experiments.create(
        container.uow(),
        experiment_id=body.experiment_id,
        name=body.name,
        variants=[(v.name, v.weight) for v in body.variants],
        target_metric=body.target_metric,
        starts_at=body.starts_at,
        stops_at=body.stops_at,
        staff_id=staff.staff_id,
        now=container.now(),
    )
    return ExperimentPublic.model_validate(created)


@admin_router.get("/experiments")
def list_experiments(_: Viewer, container: ContainerDep) -> list[ExperimentPublic]:
    return [ExperimentPublic.model_validate(e) for e in experiments.list_experiments(container.uow())]


@admin_router.post("/experiments/{experiment_id}/start")
def start_experiment(experiment_id: str, _: Analyst, container: ContainerDep) -> ExperimentPublic:
    started = experiments.start(container.uow(), experiment_id=experiment_id, now=container.now())
    return ExperimentPublic.model_validate(started)


@admin_router.post("/experiments/{experiment_id}/stop")
def stop_experiment(experiment_id: str, _: Analyst, container: ContainerDep) -> ExperimentPublic:
    stopped = experiments.stop(container.uow(), experiment_id=experiment_id, now=container.now())
    return ExperimentPublic.model_validate(stopped)


# -- stores -------------------------------------------------------------------------------------------------
@router.get("/stores/nearby")
def stores_nearby(
    container: ContainerDep,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lng: Annotated[float, Query(ge=-180, le=180)],
    radius_m: Annotated[float, Query(gt=0, le=50_000)] = 3000,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> list[StorePublic]:
    """Open to visitors who have not logged in: stores within the radius, nearest first, with their offer."""
    found = stores.nearby(
        container.uow(), lat=lat, lng=lng, radius_m=radius_m, now=container.now(), limit=limit
    )
    return [StorePublic.model_validate(s) for s in found]


@admin_router.post("/stores", status_code=status.HTTP_201_CREATED)
def create_store(body: StoreCreate, _: Operator, container: ContainerDep) -> StorePublic:
    return StorePublic.model_validate(
        stores.create_store(container.uow(), now=container.now(), **body.model_dump())
    )


# -- favourites and footprints ------------------------------------------------------------------------------
@router.put("/favourites/{product_id}", status_code=status.HTTP_204_NO_CONTENT)
def add_favourite(product_id: str, shopper: CurrentShopper, container: ContainerDep) -> None:
    favourites.set_favourite(
        container.uow(),
        user_id=shopper.user_id,
        product_id=product_id,
        is_favourite=True,
        now=container.now(),
    )


@router.delete("/favourites/{product_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_favourite(product_id: str, shopper: CurrentShopper, container: ContainerDep) -> None:
    favourites.set_favourite(
        container.uow(),
        user_id=shopper.user_id,
        product_id=product_id,
        is_favourite=False,
        now=container.now(),
    )


@router.get("/favourites")
def list_favourites(shopper: CurrentShopper, container: ContainerDep) -> list[SavedProductPublic]:
    return [
        SavedProductPublic.model_validate(f)
        for f in favourites.favourites(container.uow(), user_id=shopper.user_id)
    ]


@router.post("/footprints", status_code=status.HTTP_204_NO_CONTENT)
def record_footprint(body: FootprintCreate, shopper: CurrentShopper, container: ContainerDep) -> None:
    """The mini-program calls this when it shows a product page (next to tracking "Product Viewed")."""
    favourites.record_view(
        container.uow(), user_id=shopper.user_id, product_id=body.product_id, now=container.now()
    )


@router.get("/footprints")
def list_footprints(shopper: CurrentShopper, container: ContainerDep) -> list[SavedProductPublic]:
    """The shopper's browsing history, most recent first (at most 100 products)."""
    return [
        SavedProductPublic.model_validate(f)
        for f in favourites.footprints(container.uow(), user_id=shopper.user_id)
    ]


@router.delete("/footprints")
def clear_footprints(shopper: CurrentShopper, container: ContainerDep) -> CountPublic:
    return CountPublic(count=favourites.clear_footprints(container.uow(), user_id=shopper.user_id))
