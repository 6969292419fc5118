"""Recommendations for the mini-program, served from the recommender's live model (or best sellers).

These routes are on every home and product page, so each makes one trip to a small thread pool of its own:
the shopper's token check and the use case run together there (FastAPI would give each sync dependency a
trip to its 40-thread pool). Reads go through a read-only unit of work, which on SQLite does not queue for the write lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from anyio import CapacityLimiter
from fastapi import APIRouter, Query, Request

from api.container import Container
from api.deps import Credentials, current_shopper
from api.schemas import RecommendationsPublic
from api.service_layer import recommendations
from api.service_layer.recommendations import Recommendations

router = APIRouter(prefix="/v1", tags=["recommendations"])
HowMany = Annotated[int, Query(ge=1, le=50)]
# Below the connection pool's size (5), so requests never open connections of their own.
THREADS = 1


async def _answer(
    request: Request, credentials: Credentials, use_case: Callable[[Container, str], Recommendations]
) -> RecommendationsPublic:
    container: Container = request.app.state.container

    def run() -> Recommendations:
        shopper = current_shopper(container, credentials)
        return use_case(container, shopper.user_id)

    return RecommendationsPublic.of(run())


def _limiter(request: Request) -> CapacityLimiter:
    """At most a few recommendation requests on threads at once; the rest wait on the event loop.

    On two cores more threads only contend for the GIL, the connection pool (new SQLite connections are
    opened beyond its size) and SQLite's write lock that the token check takes.
    """
    limiter: CapacityLimiter | None = getattr(request.app.state, "recommendation_limiter", None)
    if limiter is None:
        limiter = request.app.state.recommendation_limiter = CapacityLimiter(THREADS)
    return limiter


@router.get("/recommendations")
async def for_me(
    request: Request,
    credentials: Credentials,
    n: HowMany = 10,
    category_id: Annotated[str | None, Query(max_length=40)] = None,
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
    )


@router.get("/products/{product_id}/similar")
async def similar(
    product_id: str, request: Request, credentials: Credentials, n: HowMany = 10
) -> RecommendationsPublic:
    return await _answer(
        request,
        credentials,
        lambda container, _: recommendations.similar(
            container.read_only_uow(), container.recommender, container.shelves, product_id=product_id, n=n
        ),
    )


@router.get("/products/{product_id}/complements")
async def complements(
    product_id: str, request: Request, credentials: Credentials, n: HowMany = 10
) -> RecommendationsPublic:
    """搭配推荐: products bought in the same basket."""
    return await _answer(
        request,
        credentials,
        lambda container, _: recommendations.complements(
            container.read_only_uow(), container.recommender, container.shelves, product_id=product_id, n=n
        ),
    )
