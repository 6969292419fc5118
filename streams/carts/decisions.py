"""Pure cart decisions: how events change a cart, and whether a cart is abandoned."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from streams.carts.models import Cart, CartLine

CART_EVENTS = frozenset({"Product Added", "Product Removed", "Checkout Started"})


def _quantity(properties: dict[str, Any]) -> int:
    quantity = properties.get("quantity")
    return quantity if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity > 0 else 1


def apply_cart_event(cart: Cart, *, event: str, properties: dict[str, Any], at: datetime) -> Cart:
    """The cart after one tracked cart event (Product Added / Removed, Checkout Started)."""
    if event == "Checkout Started":
        return replace(cart, changed_at=at, checkout_started_at=at)
    product_id = properties.get("product_id")
    if not isinstance(product_id, str):
        return cart
    quantity = _quantity(properties)
    lines = {line.product_id: line for line in cart.lines}
    current = lines.get(product_id)
    if event == "Product Added":
        held = current.quantity if current else 0
        lines[product_id] = CartLine(
            product_id, held + quantity, properties.get("sku"), properties.get("name") or None
        )
    elif event == "Product Removed":
        if current is None:
            return replace(cart, changed_at=at)
        left = current.quantity - quantity
        if left > 0:
            lines[product_id] = replace(current, quantity=left)
        else:
            del lines[product_id]
    else:
        return cart
    return replace(cart, lines=tuple(lines.values()), changed_at=at)


def apply_verified_payment(cart: Cart, *, paid_at: datetime) -> Cart:
    """A payment the order core verified empties the cart (the mini-program clears it on checkout)."""
    return Cart(changed_at=paid_at, paid_at=paid_at)


def is_sold_out(cart: Cart, sold_out: frozenset[str]) -> bool:
    """Every line of the cart is sold out (by product id or SKU), so a reminder would only disappoint."""
    return bool(cart.lines) and all(
        line.product_id in sold_out or (line.sku is not None and line.sku in sold_out) for line in cart.lines
    )


def abandoned_due_at(cart: Cart, *, delay: timedelta, sold_out: frozenset[str]) -> datetime | None:
    """When the abandoned-cart reminder for this cart is due; None when there is nothing to remind of.

    The person exits the automation when they pay (the cart is emptied), empty the cart, or every item
    sells out.
    """
    if cart.is_empty or cart.changed_at is None:
        return None
    if is_sold_out(cart, sold_out):
        return None
    return cart.changed_at + delay
