"""Mini-program endpoints: login, catalogue, cart, addresses, coupons."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status

from api.deps import ContainerDep, CurrentShopper
from api.schemas import (
    AddressCreate,
    AddressPublic,
    CampaignPublic,
    CartItemUpdate,
    CartLinePublic,
    CartPublic,
    CategoryPublic,
    CouponPublic,
    LoginCreate,
    ProductPublic,
    ProductSummaryPublic,
    TokenPublic,
)
from api.service_layer import accounts, addresses, carts, catalogue, coupons

MAX_FEN = 10_000_000_00
router = APIRouter(prefix="/v1")


@router.post("/auth/login", tags=["auth"])
def login(body: LoginCreate, request: Request, container: ContainerDep) -> TokenPublic:
    """Exchange a wx.login() code for a ShopLoop session token."""
    container.login_limiter.hit(f"login:{request.client.host if request.client else 'unknown'}")
    issued = accounts.login_shopper(
        container.uow(),
        container.wechat,
        code=body.code,
        now=container.now(),
        ttl=timedelta(seconds=container.settings.session_ttl_s),
    )
    return TokenPublic(token=issued.token, user_id=issued.subject_id, expires_at=issued.expires_at)


@router.get("/categories", tags=["catalogue"])
def list_categories(container: ContainerDep) -> list[CategoryPublic]:
    return [CategoryPublic(**row) for row in catalogue.list_categories(container.uow())]


@router.get("/products", tags=["catalogue"])
def search_products(
    container: ContainerDep,
    q: Annotated[str | None, Query(max_length=64)] = None,
    category_id: Annotated[str | None, Query(max_length=40)] = None,
    # Bounded: an unbounded integer overflows the database's BIGINT (found by the schemathesis run).
    min_price_fen: Annotated[int | None, Query(ge=0, le=MAX_FEN)] = None,
    max_price_fen: Annotated[int | None, Query(ge=0, le=MAX_FEN)] = None,
    in_stock: bool = False,
    sort: Literal["sales", "price_asc", "price_desc", "newest"] = "sales",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[ProductSummaryPublic]:
    found = catalogue.search_products(
        container.uow(),
        query=q,
        category_id=category_id,
        min_price_fen=min_price_fen,
        max_price_fen=max_price_fen,
        in_stock=in_stock,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return [ProductSummaryPublic(**row) for row in found]


@router.get("/products/{product_id}", tags=["catalogue"])
def product_detail(product_id: str, container: ContainerDep) -> ProductPublic:
    return ProductPublic(**catalogue.product_detail(container.uow(), product_id))


@router.get("/cart", tags=["cart"])
def view_cart(shopper: CurrentShopper, container: ContainerDep) -> CartPublic:
    cart = carts.view_cart(container.uow(), shopper.user_id)
    best, discount = coupons.preview_best_coupon(
        container.uow(), user_id=shopper.user_id, subtotal_fen=cart["subtotal_fen"], now=container.now()
    )
    return CartPublic(
        items=[CartLinePublic(**line) for line in cart["items"]],
        subtotal_fen=cart["subtotal_fen"],
        best_coupon_id=best.coupon_id if best else None,
        best_discount_fen=discount,
    )


@router.put("/cart/items/{sku_id}", tags=["cart"], status_code=status.HTTP_204_NO_CONTENT)
def set_cart_item(
    sku_id: str, body: CartItemUpdate, shopper: CurrentShopper, container: ContainerDep
) -> None:
    carts.set_quantity(
        container.uow(), user_id=shopper.user_id, sku_id=sku_id, quantity=body.quantity, now=container.now()
    )


@router.get("/addresses", tags=["addresses"])
def list_addresses(shopper: CurrentShopper, container: ContainerDep) -> list[AddressPublic]:
    found = addresses.list_addresses(container.uow(), container.cipher, user_id=shopper.user_id)
    return [AddressPublic(**row) for row in found]


@router.post("/addresses", tags=["addresses"], status_code=status.HTTP_201_CREATED)
def add_address(body: AddressCreate, shopper: CurrentShopper, container: ContainerDep) -> AddressPublic:
    address_id = addresses.add_address(
        container.uow(),
        container.cipher,
        user_id=shopper.user_id,
        address=addresses.AddressInput(**body.model_dump()),
        now=container.now(),
    )
    return AddressPublic(address_id=address_id, **body.model_dump())


@router.get("/addresses/{address_id}", tags=["addresses"])
def get_address(address_id: str, shopper: CurrentShopper, container: ContainerDep) -> AddressPublic:
    found = addresses.get_address(
        container.uow(), container.cipher, user_id=shopper.user_id, address_id=address_id
    )
    return AddressPublic(**found)


@router.delete("/addresses/{address_id}", tags=["addresses"], status_code=status.HTTP_204_NO_CONTENT)
def delete_address(address_id: str, shopper: CurrentShopper, container: ContainerDep) -> None:
    addresses.delete_address(container.uow(), user_id=shopper.user_id, address_id=address_id)


@router.get("/coupon-campaigns", tags=["coupons"])
def claimable_campaigns(container: ContainerDep) -> list[CampaignPublic]:
    return [
        CampaignPublic(**row) for row in coupons.claimable_campaigns(container.uow(), now=container.now())
    ]


@router.post("/coupon-campaigns/{campaign_id}/claim", tags=["coupons"], status_code=status.HTTP_201_CREATED)
def claim_coupon(campaign_id: str, shopper: CurrentShopper, container: ContainerDep) -> CouponPublic:
    coupon_id = coupons.claim_coupon(
        container.uow(), user_id=shopper.user_id, campaign_id=campaign_id, now=container.now()
    )
    mine = coupons.my_coupons(container.uow(), user_id=shopper.user_id, now=container.now())
    return next(CouponPublic.of(c) for c in mine if c.coupon_id == coupon_id)


@router.get("/coupons", tags=["coupons"])
def my_coupons(
    shopper: CurrentShopper,
    container: ContainerDep,
    usable_for_fen: Annotated[
        int | None, Query(ge=0, le=MAX_FEN, description="Only coupons usable for this subtotal")
    ] = None,
) -> list[CouponPublic]:
    found = coupons.my_coupons(
        container.uow(), user_id=shopper.user_id, now=container.now(), usable_for_fen=usable_for_fen
    )
    return [CouponPublic.of(c) for c in found]
