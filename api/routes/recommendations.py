"""Recommendations for the mini-program, served from the recommender's live model (or best sellers).

These routes are on every home and product page. Each runs the shopper's token check and the use case in
one step on the event loop (~2 ms of CPU with SQLite's local, indexed reads): FastAPI would send each sync
dependency and the endpoint to its 40-thread pool, and on two cores those threads only contend for the GIL
(measured: 4-5 ms of CPU per request with threads). With a remote database the reads block the loop for
their round trips; run a worker process per core then. Reads go through a read-only unit of work, which on
SQLite does not queue for the write lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from api.container import Container
from api.deps import ContainerDep, Credentials, CurrentShopper, recently_verified_shopper
from api.schemas import RecommendationsPublic
from api.service_layer import recommendations
from api.service_layer.recommendations import Recommendations
from recsys.reasons import Language

router = APIRouter(prefix="/v1", tags=["recommendations"])
HowMany = Annotated[int, Query(ge=1, le=50)]
# The language of each item's `reason` text; `reason_code` and `reason_params` are the same in both.
Lang = Annotated[Language, Query(description="language of the reason text: zh (default) or en")]


async def _answer(
    request: Request,
    credentials: Credentials,
    use_case: Callable[[Container, str], Recommendations],
    language: Language,
) -> RecommendationsPublic:
    container: Container = request.app.state.container

    def run() -> Recommendations:
        shopper = recently_verified_shopper(container, credentials)
        return use_case(container, shopper.user_id)

    return RecommendationsPublic.of(run(), language)


@router.get("/recommendations")
async def for_me(
    request: Request,
    credentials: Credentials,
    n: HowMany = 10,
    category_id: Annotated[str | None, Query(max_length=40)] = None,
    lang: Lang = "zh",
) -> RecommendationsPublic:
    """猜你喜欢. `source` is "popular" until a model has been trained."""
    return await _answer(
        request,
        credentials,
        lambda container, user_id: recommendations.for_shopper(
            container.read_only_uow(),
            container.recommender,
            container.shelves,
            user_id=user_id,
            n=n,
            category_id=category_id,
        ),
        lang,
    )


@router.get("/products/{product_id}/similar")
async def similar(
    product_id: str, request: Request, credentials: Credentials, n: HowMany = 10, lang: Lang = "zh"
) -> RecommendationsPublic:
    return await _answer(
        request,
        credentials,
        lambda container, user_id: recommendations.similar(
            container.read_only_uow(),
            container.recommender,
            container.shelves,
            user_id=user_id,
            product_id=product_id,
            n=n,
        ),
        lang,
    )


@router.get("/products/{product_id}/complements")
async def complements(
    product_id: str, request: Request, credentials: Credentials, n: HowMany = 10, lang: Lang = "zh"
) -> RecommendationsPublic:
    """搭配推荐: products bought in the same basket."""
    return await _answer(
        request,
        credentials,
        lambda container, user_id: recommendations.complements(
            container.read_only_uow(),
            container.recommender,
            container.shelves,
            user_id=user_id,
            product_id=product_id,
            n=n,
        ),
        lang,
    )


@router.get("/recommendations/hidden")
def list_hidden(shopper: CurrentShopper, container: ContainerDep) -> list[str]:
    """The products this shopper hid from their recommendations, most recently hidden first."""
    return recommendations.hidden_products(container.read_only_uow(), user_id=shopper.user_id)


@router.post("/recommendations/hidden/{product_id}", status_code=status.HTTP_204_NO_CONTENT)
def hide(product_id: str, shopper: CurrentShopper, container: ContainerDep) -> None:
    """ "不感兴趣": never recommend this product to this shopper again, in any list, until unhidden."""
    recommendations.hide(container.uow(), user_id=shopper.user_id, product_id=product_id, now=container.now())


@router.delete("/recommendations/hidden/{product_id}", status_code=status.HTTP_204_NO_CONTENT)
def unhide(product_id: str, shopper: CurrentShopper, container: ContainerDep) -> None:
    recommendations.unhide(container.uow(), user_id=shopper.user_id, product_id=product_id)
