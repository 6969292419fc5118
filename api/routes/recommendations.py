"""Recommendations for the mini-program, served from the recommender's live model (or best sellers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ContainerDep, CurrentShopper
from api.schemas import RecommendationsPublic
from api.service_layer import recommendations

router = APIRouter(prefix="/v1", tags=["recommendations"])
HowMany = Annotated[int, Query(ge=1, le=50)]


@router.get("/recommendations")
def for_me(
    shopper: CurrentShopper,
    container: ContainerDep,
    n: HowMany = 10,
    category_id: Annotated[str | None, Query(max_length=40)] = None,
) -> RecommendationsPublic:
    """猜你喜欢. `source` is "popular" until a model has been trained."""
    found = recommendations.for_shopper(
        container.uow(),
        container.recommender,
        container.shelves,
        user_id=shopper.user_id,
        n=n,
        category_id=category_id,
    )
    return RecommendationsPublic.of(found)


@router.get("/products/{product_id}/similar")
def similar(
    product_id: str, _: CurrentShopper, container: ContainerDep, n: HowMany = 10
) -> RecommendationsPublic:
    return RecommendationsPublic.of(
        recommendations.similar(
            container.uow(), container.recommender, container.shelves, product_id=product_id, n=n
        )
    )


@router.get("/products/{product_id}/complements")
def complements(
    product_id: str, _: CurrentShopper, container: ContainerDep, n: HowMany = 10
) -> RecommendationsPublic:
    """搭配推荐: products bought in the same basket."""
    return RecommendationsPublic.of(
        recommendations.complements(
            container.uow(), container.recommender, container.shelves, product_id=product_id, n=n
        )
    )
