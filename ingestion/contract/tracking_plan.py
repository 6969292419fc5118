"""The tracking plan: every event ShopLoop expects, with its properties, versioned in this one place.

E-commerce events use the Segment e-commerce v2 names and properties (amounts in yuan, as Segment);
the mini-program lifecycle and social events are ShopLoop's own. `docs/tracking-plan.md` is rendered
from this module by `shoploop tracking-plan`; an event that breaks the plan goes to the dead-letter
topic with a reason code, never silently away.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

PLAN_VERSION = "2026.11.1"


class _Properties(BaseModel):
    # Strict types (a price sent as "22.95" is a wrong type), unknown properties kept.
    model_config = ConfigDict(strict=True, extra="allow")


class ProductLine(_Properties):
    product_id: str
    sku: str | None = None
    name: str | None = None
    category: str | None = None
    brand: str | None = None
    variant: str | None = None
    price: float | None = Field(default=None, ge=0, description="unit price in yuan")
    quantity: int | None = Field(default=None, ge=0)
    coupon: str | None = None
    position: int | None = None
    url: str | None = None
    image_url: str | None = None


class ProductEvent(ProductLine):
    cart_id: str | None = None


class ProductsSearched(_Properties):
    query: str


class ProductListViewed(_Properties):
    list_id: str | None = None
    category: str | None = None
    products: list[ProductLine] | None = None


class CartViewed(_Properties):
    cart_id: str | None = None
    products: list[ProductLine] | None = None


class CheckoutStarted(_Properties):
    checkout_id: str | None = None
    order_id: str | None = None
    value: float | None = Field(default=None, ge=0)
    total: float | None = Field(default=None, ge=0)
    revenue: float | None = Field(default=None, ge=0)
    shipping: float | None = Field(default=None, ge=0)
    discount: float | None = Field(default=None, ge=0)
    coupon: str | None = None
    currency: str | None = None
    products: list[ProductLine] | None = None


class OrderCompleted(_Properties):
    order_id: str
    checkout_id: str | None = None
    total: float = Field(ge=0, description="what the shopper paid, in yuan")
    subtotal: float | None = Field(default=None, ge=0)
    revenue: float | None = Field(default=None, ge=0)
    shipping: float | None = Field(default=None, ge=0)
    tax: float | None = Field(default=None, ge=0)
    discount: float | None = Field(default=None, ge=0)
    coupon: str | None = None
    currency: str | None = None
    products: list[ProductLine] | None = None


class CouponApplied(_Properties):
    coupon_id: str
    coupon_name: str | None = None
    order_id: str | None = None
    discount: float | None = Field(default=None, ge=0)


class ProductShared(_Properties):
    product_id: str
    share_id: str
    share_depth: int = Field(ge=1)
    parent_share_id: str | None = None
    share_via: str | None = Field(default=None, description="single_chat, group_chat, timeline …")
    sku: str | None = None
    name: str | None = None


class PromotionClicked(_Properties):
    promotion_id: str
    creative: str | None = None
    name: str | None = None
    position: str | int | None = None


class MiniProgramEntered(_Properties):
    scene: int = Field(description="WeChat scene value (场景值) of this visit")
    path: str | None = None
    query: dict[str, Any] | None = None
    share_id: str | None = Field(default=None, description="the share the shopper entered through")
    share_depth: int | None = Field(default=None, ge=1)


class MiniProgramHidden(_Properties):
    duration_ms: int = Field(ge=0, description="time since the mini-program was shown")
    path: str | None = None


class MiniProgramShared(_Properties):
    share_id: str
    share_depth: int = Field(ge=1)
    parent_share_id: str | None = None
    path: str | None = None
    method: str | None = Field(default=None, description="menu, button or timeline")


SubscribeResult = Literal["accept", "reject", "ban", "filter"]


class SubscribeMessageConsent(_Properties):
    results: dict[str, SubscribeResult] = Field(
        description="template id → the shopper's answer in wx.requestSubscribeMessage; one accept allows one message"
    )


class RecommendationShown(_Properties):
    request_id: str
    slot: str = Field(description="where: guess_you_like, complements, similar …")
    product_ids: list[str]
    model_version: str | None = None


class RecommendationClicked(_Properties):
    request_id: str
    product_id: str
    position: int = Field(ge=0)
    slot: str | None = None
    model_version: str | None = None


class LocationShared(_Properties):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(default=None, ge=0)


class ExperimentViewed(_Properties):
    experiment_id: str
    variant: str


class TrackingEventsDropped(_Properties):
    dropped_count: int = Field(ge=0)
    reason: str


class PageProperties(_Properties):
    path: str | None = None
    query: dict[str, Any] | str | None = None
    referrer: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class EventSpec:
    name: str
    group: str
    description: str
    properties: type[_Properties]


TRACKING_PLAN: dict[str, EventSpec] = {
    spec.name: spec
    for spec in (
        EventSpec("Products Searched", "browsing", "the shopper searched the catalogue", ProductsSearched),
        EventSpec("Product List Viewed", "browsing", "a category or list page was seen", ProductListViewed),
        EventSpec("Product Viewed", "product", "a product detail page was seen", ProductEvent),
        EventSpec("Product Added", "product", "a product was added to the cart", ProductEvent),
        EventSpec("Product Removed", "product", "a product was removed from the cart", ProductEvent),
        EventSpec("Cart Viewed", "checkout", "the cart was opened", CartViewed),
        EventSpec("Checkout Started", "checkout", "the order confirmation page was opened", CheckoutStarted),
        EventSpec(
            "Order Completed",
            "order",
            "the client says it paid (requestPayment:ok) — the order core's verified payment is the truth",
            OrderCompleted,
        ),
        EventSpec("Coupon Applied", "coupon", "a coupon was applied at checkout", CouponApplied),
        EventSpec("Product Shared", "social", "a product card was shared to a chat", ProductShared),
        EventSpec("Promotion Clicked", "promotion", "a banner or promotion was tapped", PromotionClicked),
        EventSpec("Mini Program Launched", "lifecycle", "cold start (App onLaunch)", MiniProgramEntered),
        EventSpec(
            "Mini Program Shown", "lifecycle", "came to the foreground (App onShow)", MiniProgramEntered
        ),
        EventSpec(
            "Mini Program Hidden", "lifecycle", "went to the background (App onHide)", MiniProgramHidden
        ),
        EventSpec(
            "Mini Program Shared", "social", "a page was shared (onShareAppMessage)", MiniProgramShared
        ),
        EventSpec(
            "Subscribe Message Consent",
            "push",
            "answers to wx.requestSubscribeMessage, per template",
            SubscribeMessageConsent,
        ),
        EventSpec(
            "Recommendation Shown", "recommendation", "recommendations were displayed", RecommendationShown
        ),
        EventSpec(
            "Recommendation Clicked",
            "recommendation",
            "a recommended product was tapped",
            RecommendationClicked,
        ),
        EventSpec("Location Shared", "lbs", "wx.getLocation returned a position", LocationShared),
        EventSpec(
            "Experiment Viewed",
            "experiment",
            "the shopper was exposed to an experiment variant",
            ExperimentViewed,
        ),
        EventSpec(
            "Tracking Events Dropped",
            "sdk",
            "the SDK's offline queue overflowed and dropped events",
            TrackingEventsDropped,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class PlanViolation:
    reason_code: Literal["unplanned_event", "missing_property", "wrong_type"]
    reason: str


def check_against_plan(
    message_type: str, event: str | None, properties: dict[str, Any] | None
) -> PlanViolation | None:
    """Check one message's event name and properties against the plan; None when it conforms."""
    if message_type in ("page", "screen"):
        schema: type[_Properties] = PageProperties
    elif message_type == "track":
        spec = TRACKING_PLAN.get(event or "")
        if spec is None:
            return PlanViolation("unplanned_event", f"{event!r} is not in tracking plan {PLAN_VERSION}")
        schema = spec.properties
    else:
        return None
    if _PLAIN_CHECKS[schema].conforms(properties or {}):
        return None
    try:
        schema.model_validate(properties or {})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        if first["type"] == "missing":
            return PlanViolation("missing_property", f"{event or message_type}: {where} is required")
        return PlanViolation("wrong_type", f"{event or message_type}: {where}: {first['msg']}")
    return None


# Strict mode: a str field takes a str, an int field an int (not a bool), a float field a float or an int (not a
# bool). Ints beyond 2**53 are left to pydantic, which refuses the ones a float cannot hold.
_PLAIN_TYPES: dict[Any, tuple[type, ...]] = {str: (str,), int: (int,), float: (float, int)}
_MAX_EXACT_FLOAT_INT = 2**53


@dataclass(frozen=True, slots=True)
class _PlainField:
    """A property of plain type (str, int, float, optionally None, bounds) that plain Python can check; a field
    of any other type has no `types` and accepts nothing, so that pydantic decides."""

    types: frozenset[type]
    is_float: bool = False
    ge: Any = None
    le: Any = None
    # The kinds whose values `accepts` takes without looking at them (no bound, no float-exactness to check).
    unchecked: frozenset[type] = frozenset()

    def accepts(self, value: Any) -> bool:
        kind = type(value)
        if kind not in self.types:
            return False
        if kind is str or value is None:
            return True
        if self.is_float and kind is int and abs(value) > _MAX_EXACT_FLOAT_INT:
            return False
        return (self.ge is None or value >= self.ge) and (self.le is None or value <= self.le)


_OTHER_TYPE = _PlainField(types=frozenset())


def _plain_field(field: FieldInfo) -> _PlainField:
    """The plain check of a field; `_OTHER_TYPE` when its type or constraints are more than `_PlainField` knows."""
    annotation = field.annotation
    is_union = get_origin(annotation) in (Union, types.UnionType)
    members = get_args(annotation) if is_union else (annotation,)
    accepted: set[type] = set()
    for member in members:
        if member is type(None):
            accepted.add(type(None))
        elif member in _PLAIN_TYPES:
            accepted.update(_PLAIN_TYPES[member])
        else:
            return _OTHER_TYPE
    ge: Any = None
    le: Any = None
    for constraint in field.metadata:
        if isinstance(constraint, Ge):
            ge = constraint.ge
        elif isinstance(constraint, Le):
            le = constraint.le
        else:
            return _OTHER_TYPE
    is_float = float in members and str not in members
    unchecked = {kind for kind in accepted if kind in (str, type(None))}
    if ge is None and le is None:
        unchecked.update(kind for kind in accepted if not (is_float and kind is int))
    return _PlainField(frozenset(accepted), is_float=is_float, ge=ge, le=le, unchecked=frozenset(unchecked))


@dataclass(frozen=True, slots=True)
class _PlainCheck:
    """A plain-Python check of one properties schema that never accepts what pydantic would refuse.

    `conforms` is true only when every required field is there and every field is of plain type and in bounds;
    anything else (a list of products, a dict, a wrong type, a missing field) is left to pydantic, which decides
    and words the violation. The collector's hot path: most events carry a few strings and numbers, and building
    a strict pydantic model for each one costs more than reading them.
    """

    fields: dict[str, _PlainField]
    required: frozenset[str]

    @classmethod
    def of(cls, schema: type[_Properties]) -> _PlainCheck:
        fields = {name: _plain_field(field) for name, field in schema.model_fields.items()}
        required = frozenset(name for name, field in schema.model_fields.items() if field.is_required())
        return cls(fields, required)

    def conforms(self, properties: dict[str, Any]) -> bool:
        if type(properties) is not dict or not properties.keys() >= self.required:
            return False
        fields = self.fields
        for name, value in properties.items():
            field = fields.get(name)
            if field is None:
                continue  # unknown properties are kept unchecked (extra="allow")
            if type(value) in field.unchecked:
                continue  # the common case (a string, an unbounded number), decided without a call
            if not field.accepts(value):
                return False
        return True


_SCHEMAS: list[type[_Properties]] = [PageProperties, *(spec.properties for spec in TRACKING_PLAN.values())]
_PLAIN_CHECKS: dict[type[_Properties], _PlainCheck] = {schema: _PlainCheck.of(schema) for schema in _SCHEMAS}


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("ingestion.contract.tracking_plan.", "")


def render_markdown() -> str:
    """The tracking plan as Markdown, for docs/tracking-plan.md."""
    lines = [
        "# Tracking plan",
        "",
        f"Version **{PLAN_VERSION}**. Generated from `ingestion/contract/tracking_plan.py` by "
        "`shoploop tracking-plan > docs/tracking-plan.md`; do not edit by hand.",
        "",
        "Every message also carries the Segment common fields (`messageId`, `anonymousId`/`userId`, `timestamp`,",
        "`context`). The SDK puts the visit's WeChat scene in `context.wechat.scene`; amounts are in yuan as",
        "Segment defines them and become integer fen in the warehouse. A track event whose name is not below,",
        "or whose properties are missing or of the wrong type, goes to the dead-letter topic",
        "(`unplanned_event`, `missing_property`, `wrong_type`) and can be replayed with `shoploop dlq replay`.",
        "Unknown extra properties are kept.",
        "",
    ]
    groups: dict[str, list[EventSpec]] = {}
    for spec in TRACKING_PLAN.values():
        groups.setdefault(spec.group, []).append(spec)
    for group, specs in groups.items():
        lines += [f"## {group}", ""]
        for spec in specs:
            lines += [f"### {spec.name}", "", spec.description, "", "| property | type | required | notes |"]
            lines += ["|---|---|---|---|"]
            for name, field in spec.properties.model_fields.items():
                annotation = _type_name(field.annotation).replace("|", "\\|")
                required = "yes" if field.is_required() else ""
                lines.append(f"| `{name}` | `{annotation}` | {required} | {field.description or ''} |")
            lines.append("")
    lines += ["## page and screen calls", "", "| property | type |", "|---|---|"]
    for name, field in PageProperties.model_fields.items():
        lines.append(f"| `{name}` | `{_type_name(field.annotation).replace('|', chr(92) + '|')}` |")
    return "\n".join(lines) + "\n"
