"""The behaviour model: what shoppers of a WeChat mini-program shop do, as seeded Segment messages.

Pure and deterministic: no clock, no network. Every visit draws from its own random generator, seeded by
the simulation seed and the visit's name, so the same seed yields the same messages. A visit is
generated whole when it starts; shares schedule friends' visits and some shoppers come back later, so a
simulation is a queue of visits and messages ordered by event time. `simulate_journeys` drains it for a
fixed number of shoppers; the real-time runner keeps the same queue going forever.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qsl

from ingestion.simulator import SIMULATOR_VERSION
from ingestion.simulator.audience import (
    ARRIVAL_SCENES,
    GROUP_CHAT_SCENE,
    GROUP_CHAT_TICKET_SCENE,
    RETURN_SCENES,
    SINGLE_CHAT_SCENE,
    SUBSCRIBE_MESSAGE_SCENE,
    Device,
    pick_city,
    pick_device,
    pick_weighted,
)
from ingestion.simulator.catalogue import Catalogue, Category, Product

HOME: Final = "pages/index/index"
CATEGORY_LIST: Final = "pages/category/list"
SEARCH: Final = "pages/search/index"
PRODUCT_DETAIL: Final = "pages/product/detail"
CART: Final = "pages/cart/index"
CHECKOUT: Final = "pages/checkout/index"
ORDER_RESULT: Final = "pages/order/result"
PAGE_TITLES: Final = {
    HOME: "首页",
    CATEGORY_LIST: "分类",
    SEARCH: "搜索",
    PRODUCT_DETAIL: "商品详情",
    CART: "购物车",
    CHECKOUT: "确认订单",
    ORDER_RESULT: "支付成功",
}

LIST_LENGTH: Final = 10
MAX_STEPS_PER_VISIT: Final = 30
MAX_VISITS_PER_SHOPPER: Final = 3
MAX_SHARE_DEPTH: Final = 6
FREE_SHIPPING_FROM_FEN: Final = 8_800
SHIPPING_FEN: Final = 1_000
COUPONS: Final[dict[str, tuple[int, int]]] = {"NEWUSER5": (0, 500), "MAN99JIAN10": (9_900, 1_000)}


@dataclass(frozen=True, slots=True)
class Pacing:
    """How fast simulated time runs: think time between actions and the delays before later visits."""

    mean_think_s: float = 12.0
    # First arrivals are spread over this window so the shop fills up instead of starting in lockstep.
    arrival_ramp_s: float = 30.0
    # When a shopper leaves, the next one takes their place after about this long.
    mean_next_shopper_gap_s: float = 6.0
    friend_delay_s: tuple[float, float] = (15.0, 600.0)
    return_delay_s: tuple[float, float] = (120.0, 1_800.0)
    # A shopper who taps a subscribe message does so this long after WeChat delivered it.
    push_tap_delay_s: tuple[float, float] = (20.0, 600.0)


@dataclass(frozen=True, slots=True)
class SubscribePrompts:
    """Which WeChat subscribe prompts (wx.requestSubscribeMessage) the mini-program shows, and how often
    shoppers allow them: the cart-reminder template on the first add to cart of a visit, the order
    templates when paying. Each template is answered on its own, as the WeChat dialog lets shoppers do."""

    cart_templates: tuple[str, ...] = ()
    order_templates: tuple[str, ...] = ()
    accept_rate: float = 0.6
    # The share of delivered subscribe messages that shoppers tap (the message opens the mini-program).
    open_rate: float = 0.35


@dataclass(frozen=True, slots=True)
class Share:
    share_id: str
    depth: int
    parent_share_id: str | None
    product_id: str
    via: str  # "single_chat" | "group_chat"


@dataclass(slots=True)
class Shopper:
    """One person on one phone; state that outlives a visit (login, cart, what they viewed)."""

    key: str
    anonymous_id: str
    device: Device
    favourite: Category
    cart_id: str
    entered_through: Share | None = None
    user_id: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)
    viewed: set[str] = field(default_factory=set)
    cart: dict[str, int] = field(default_factory=dict)  # product_id → quantity, in the order added
    visits: int = 0
    orders: int = 0


@dataclass(frozen=True, slots=True)
class PushTap:
    """A subscribe message the shopper tapped: WeChat opens the mini-program on the message's page."""

    route: str
    query: dict[str, str]


@dataclass(frozen=True, slots=True)
class VisitPlan:
    """A visit waiting to start: who (an existing shopper, or a new one), from which scene, and why."""

    key: str
    scene: int
    shopper: Shopper | None = None
    share: Share | None = None
    push: PushTap | None = None
    slot: int | None = None  # root shoppers keep a slot of the shop filled; friends and returns do not
    round: int = 0


def fen_to_yuan(amount_fen: int) -> float:
    """Segment sends money as yuan numbers; fen/100 has at most two decimals and reads back exactly."""
    return amount_fen / 100


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _hex_id(rng: random.Random, prefix: str, bits: int = 64) -> str:
    return f"{prefix}{rng.getrandbits(bits):0{bits // 4}x}"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class _Visit:
    """Generates one visit's messages: launch, pages and e-commerce events, then hide."""

    def __init__(
        self,
        *,
        plan: VisitPlan,
        shopper: Shopper,
        catalogue: Catalogue,
        rng: random.Random,
        start: datetime,
        pacing: Pacing,
        prompts: SubscribePrompts | None = None,
    ) -> None:
        self.plan = plan
        self.prompts = prompts
        self.has_prompted_cart = False
        self.shopper = shopper
        self.catalogue = catalogue
        self.rng = rng
        self.clock = start
        self.pacing = pacing
        self.messages: list[tuple[datetime, dict[str, Any]]] = []
        self.shares: list[tuple[datetime, Share]] = []
        self.page: str | None = None
        self.current_list: tuple[Product, ...] = ()
        self.current_product: Product | None = None
        self.has_ordered = False
        self.is_over = False
        self._device_context = shopper.device.context()

    # --- message building -------------------------------------------------------------------------

    def _context(self) -> dict[str, Any]:
        device = self.shopper.device
        return {
            **{key: dict(value) for key, value in self._device_context.items()},
            "library": {"name": "shoploop-simulator", "version": SIMULATOR_VERSION},
            "locale": "zh_CN",
            "timezone": "Asia/Shanghai",
            "wechat": {
                "scene": self.plan.scene,
                "version": device.wechat_version,
                "sdk_version": device.base_library_version,
            },
        }

    def _emit(self, message_type: str, **fields: Any) -> None:
        # Whole milliseconds, so that queue order and the timestamp on the wire agree exactly.
        at = self.clock.replace(microsecond=self.clock.microsecond // 1000 * 1000)
        message: dict[str, Any] = {
            "type": message_type,
            "messageId": _uuid(self.rng),
            "anonymousId": self.shopper.anonymous_id,
            "timestamp": iso(at),
            "context": self._context(),
            **fields,
        }
        if self.shopper.user_id is not None:
            message["userId"] = self.shopper.user_id
        self.messages.append((at, message))
        # Calls of one user action land a few milliseconds apart, never at the same instant.
        self.clock += timedelta(milliseconds=self.rng.randint(5, 120))

    def track(self, event: str, properties: dict[str, Any]) -> None:
        self._emit("track", event=event, properties=properties)

    def open_page(self, route: str, query: dict[str, str] | None = None) -> None:
        properties: dict[str, Any] = {"path": route, "title": PAGE_TITLES[route], "referrer": self.page}
        if query:
            properties["query"] = query
        self._emit("page", name=route, properties=properties)
        self.page = route

    def think(self) -> None:
        # Log-normal think times: mostly a few seconds, sometimes much longer, mean = mean_think_s.
        sigma = 0.7
        mu = math.log(self.pacing.mean_think_s) - sigma * sigma / 2
        self.clock += timedelta(seconds=self.rng.lognormvariate(mu, sigma))

    def product_properties(self, product: Product, **extra: Any) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "product_id": product.product_id,
            "sku": product.sku,
            "name": product.name,
            "category": product.category.label,
            "category_id": product.category.slug,
            "price": fen_to_yuan(product.price_fen),
        }
        if product.variant:
            properties["variant"] = product.variant
        properties.update(extra)
        return properties

    def cart_lines(self) -> list[dict[str, Any]]:
        return [
            self.product_properties(self.catalogue.get(product_id), quantity=quantity)
            for product_id, quantity in self.shopper.cart.items()
        ]

    def cart_value_fen(self) -> int:
        return sum(
            self.catalogue.get(product_id).price_fen * quantity
            for product_id, quantity in self.shopper.cart.items()
        )

    # --- the visit ---------------------------------------------------------------------------------

    def run(self) -> None:
        self.shopper.visits += 1
        landing, query = self.landing()
        launched_at = self.clock
        lifecycle: dict[str, Any] = {"scene": self.plan.scene, "path": landing, "query": query}
        if self.plan.share is not None:
            lifecycle |= {"share_id": self.plan.share.share_id, "share_depth": self.plan.share.depth}
        self.track("Mini Program Launched", dict(lifecycle))
        self.track("Mini Program Shown", dict(lifecycle))
        if landing == PRODUCT_DETAIL and query.get("id") in self.catalogue:
            self.view_product(self.catalogue.get(query["id"]), query=query)
        else:
            landing = landing if landing in PAGE_TITLES and landing != PRODUCT_DETAIL else HOME
            self.open_page(landing, query if self.plan.push is not None else None)
            if self.plan.scene == 1053:
                self.think()
                self.search()
        for step in range(MAX_STEPS_PER_VISIT):
            if self.is_over:
                break
            self.think()
            self.act(self.choose_action(step))
        self.think()
        duration_ms = int((self.clock - launched_at).total_seconds() * 1000)
        self.track("Mini Program Hidden", {"duration_ms": duration_ms, "path": self.page})

    def landing(self) -> tuple[str, dict[str, str]]:
        share = self.plan.share
        if share is not None:
            return PRODUCT_DETAIL, {"id": share.product_id, "share_id": share.share_id}
        if self.plan.push is not None:
            return self.plan.push.route, dict(self.plan.push.query)
        scene = self.plan.scene
        # Codes on posters, articles and ads usually point at one product; other scenes open the home page.
        product_share = {1011: 0.5, 1012: 0.5, 1013: 0.5, 1047: 0.6, 1058: 0.7, 1045: 0.85}.get(scene, 0.0)
        if self.rng.random() < product_share:
            return PRODUCT_DETAIL, {"id": self.pick_popular(self.shopper.favourite).product_id}
        return HOME, {}

    def pick_popular(self, category: Category) -> Product:
        products = self.catalogue.by_category[category.slug]
        # Popularity-weighted over the category's head: shoppers mostly see what sells.
        head = products[:200]
        return self.rng.choices(head, weights=[product.popularity for product in head])[0]

    def choose_action(self, step: int) -> str:
        shopper = self.shopper
        can_add = self.current_product is not None and self.current_product.product_id not in shopper.cart
        on_cart = self.page == CART
        add_propensity = 0.35 if self.plan.share is not None else 0.22
        weights = {
            "leave": 0.08 + 0.015 * step + (0.4 if self.has_ordered else 0.0),
            "browse": 0.22,
            "search": 0.10,
            "view": 0.40 if self.current_list else 0.0,
            "add": add_propensity if can_add else 0.0,
            "share": 0.05 if self.current_product is not None else 0.0,
            "cart": 0.10 if shopper.cart and not on_cart else 0.0,
            "remove": 0.25 if shopper.cart and on_cart else 0.0,
            "checkout": (0.35 if on_cart else 0.06) if shopper.cart else 0.0,
        }
        return self.rng.choices(tuple(weights), weights=tuple(weights.values()))[0]

    def act(self, action: str) -> None:
        match action:
            case "leave":
                self.is_over = True
            case "browse":
                self.browse()
            case "search":
                self.search()
            case "view":
                self.view_product(self.rng.choice(self.current_list))
            case "add":
                assert self.current_product is not None
                self.add_to_cart(self.current_product)
            case "share":
                assert self.current_product is not None
                self.share(self.current_product)
            case "cart":
                self.view_cart()
            case "remove":
                self.remove_from_cart()
            case "checkout":
                self.checkout()

    def browse(self) -> None:
        categories = self.catalogue.categories
        category = self.shopper.favourite if self.rng.random() < 0.6 else self.rng.choice(categories)
        products = self.catalogue.by_category[category.slug]
        start = self.rng.choice((0, 0, 0, LIST_LENGTH, 2 * LIST_LENGTH))
        shown = products[start : start + LIST_LENGTH] or products[:LIST_LENGTH]
        self.open_page(CATEGORY_LIST, {"category": category.slug})
        self.show_list(f"category:{category.slug}", category.label, shown)

    def search(self) -> None:
        # Shoppers type a word from a product they have in mind, most likely in their favourite category.
        wanted = self.pick_popular(self.shopper.favourite)
        words = [word for word in wanted.name.lower().split() if word in self.catalogue.by_search_word]
        if not words:
            self.browse()
            return
        query = self.rng.choice(words)
        self.open_page(SEARCH)
        self.track("Products Searched", {"query": query})
        results = self.catalogue.search(query, limit=LIST_LENGTH)
        self.show_list(f"search:{query}", None, results)

    def show_list(self, list_id: str, category: str | None, products: tuple[Product, ...]) -> None:
        self.track(
            "Product List Viewed",
            {
                "list_id": list_id,
                "category": category,
                "products": [
                    {
                        "product_id": product.product_id,
                        "sku": product.sku,
                        "name": product.name,
                        "price": fen_to_yuan(product.price_fen),
                        "position": position,
                    }
                    for position, product in enumerate(products, start=1)
                ],
            },
        )
        self.current_list = products

    def view_product(self, product: Product, query: dict[str, str] | None = None) -> None:
        self.open_page(PRODUCT_DETAIL, query or {"id": product.product_id})
        self.track("Product Viewed", self.product_properties(product, cart_id=self.shopper.cart_id))
        self.shopper.viewed.add(product.product_id)
        self.current_product = product

    def add_to_cart(self, product: Product) -> None:
        if product.product_id not in self.shopper.viewed:
            raise AssertionError("a shopper only adds a product they have viewed")
        if self.shopper.user_id is None:
            # The cart is kept by the shop's server, so the first add to cart asks the shopper to log in.
            self.log_in()
        quantity = self.rng.choices((1, 2, 3), weights=(0.75, 0.18, 0.07))[0]
        self.shopper.cart[product.product_id] = quantity
        self.track(
            "Product Added", self.product_properties(product, quantity=quantity, cart_id=self.shopper.cart_id)
        )
        if self.prompts is not None and self.prompts.cart_templates and not self.has_prompted_cart:
            # The add-to-cart tap is the user gesture WeChat requires before it shows a subscribe prompt.
            self.has_prompted_cart = True
            self.ask_consent(self.prompts.cart_templates)

    def ask_consent(self, templates: tuple[str, ...]) -> None:
        assert self.prompts is not None
        accept_rate = self.prompts.accept_rate
        results = {tpl: "accept" if self.rng.random() < accept_rate else "reject" for tpl in templates}
        self.track("Subscribe Message Consent", {"results": results})

    def view_cart(self) -> None:
        self.open_page(CART)
        self.track("Cart Viewed", {"cart_id": self.shopper.cart_id, "products": self.cart_lines()})

    def remove_from_cart(self) -> None:
        product_id = self.rng.choice(tuple(self.shopper.cart))
        quantity = self.shopper.cart.pop(product_id)
        product = self.catalogue.get(product_id)
        self.track(
            "Product Removed",
            self.product_properties(product, quantity=quantity, cart_id=self.shopper.cart_id),
        )

    def share(self, product: Product) -> None:
        if self.shopper.user_id is None:
            # A share that can earn the sharer a reward (分享领券) carries their account: log in first.
            self.log_in()
        entered = self.shopper.entered_through
        share = Share(
            share_id=_hex_id(self.rng, "sh_"),
            depth=entered.depth + 1 if entered is not None else 1,
            parent_share_id=entered.share_id if entered is not None else None,
            product_id=product.product_id,
            via="group_chat" if self.rng.random() < 0.45 else "single_chat",
        )
        self.track(
            "Product Shared",
            {
                "product_id": product.product_id,
                "sku": product.sku,
                "name": product.name,
                "share_id": share.share_id,
                "share_depth": share.depth,
                "parent_share_id": share.parent_share_id,
                "share_via": share.via,
            },
        )
        self.shares.append((self.clock, share))

    def log_in(self) -> None:
        shopper = self.shopper
        shopper.user_id = _hex_id(self.rng, "u_", 48)
        province, city = pick_city(self.rng)
        birthday = date(1970, 1, 1) + timedelta(days=self.rng.randint(0, 365 * 35))
        shopper.traits = {
            "created_at": iso(self.clock),
            "gender": self.rng.choices(("female", "male", "unknown"), weights=(0.55, 0.35, 0.1))[0],
            "birthday": birthday.isoformat(),
            "province": province,
            "city": city,
            "first_scene": self.plan.scene,
        }
        self._emit("identify", traits=dict(shopper.traits))

    def checkout(self) -> None:
        shopper = self.shopper
        self.open_page(CHECKOUT)
        if shopper.user_id is None:
            self.log_in()
        checkout_id = _hex_id(self.rng, "co_")
        products = self.cart_lines()
        subtotal_fen = self.cart_value_fen()
        self.track(
            "Checkout Started",
            {
                "checkout_id": checkout_id,
                "cart_id": shopper.cart_id,
                "value": fen_to_yuan(subtotal_fen),
                "total": fen_to_yuan(subtotal_fen),
                "currency": "CNY",
                "products": products,
            },
        )
        self.think()
        if self.rng.random() >= 0.62:
            # Abandoned at the payment sheet: most leave, the cart stays for a later visit.
            self.is_over = self.rng.random() < 0.7
            return
        if self.prompts is not None and self.prompts.order_templates:
            # Shops ask for order updates on the pay tap, before wx.requestPayment.
            self.ask_consent(self.prompts.order_templates)
        coupon, discount_fen = self.pick_coupon(subtotal_fen)
        revenue_fen = subtotal_fen - discount_fen
        shipping_fen = 0 if revenue_fen >= FREE_SHIPPING_FROM_FEN else SHIPPING_FEN
        order_id = f"SL{self.clock:%Y%m%d}{self.rng.getrandbits(40):010d}"
        self.track(
            "Order Completed",
            {
                "order_id": order_id,
                "checkout_id": checkout_id,
                "cart_id": shopper.cart_id,
                "total": fen_to_yuan(revenue_fen + shipping_fen),
                "subtotal": fen_to_yuan(subtotal_fen),
                "revenue": fen_to_yuan(revenue_fen),
                "shipping": fen_to_yuan(shipping_fen),
                "tax": 0,
                "discount": fen_to_yuan(discount_fen),
                "coupon": coupon,
                "currency": "CNY",
                "products": products,
            },
        )
        self.open_page(ORDER_RESULT, {"order_id": order_id})
        shopper.orders += 1
        shopper.cart.clear()
        shopper.cart_id = _hex_id(self.rng, "cart_")
        self.has_ordered = True
        if self.rng.random() < 0.2:
            # Showing off a purchase to friends (晒单) is the most common share after paying.
            self.think()
            self.share(self.catalogue.get(products[0]["product_id"]))

    def pick_coupon(self, subtotal_fen: int) -> tuple[str | None, int]:
        if subtotal_fen >= COUPONS["MAN99JIAN10"][0] and self.rng.random() < 0.3:
            return "MAN99JIAN10", COUPONS["MAN99JIAN10"][1]
        if self.shopper.orders == 0 and subtotal_fen > COUPONS["NEWUSER5"][1] and self.rng.random() < 0.3:
            return "NEWUSER5", COUPONS["NEWUSER5"][1]
        return None, 0


class TrafficModel:
    """The shop's traffic as one stream of Segment messages in event-time order.

    `shoppers` slots are filled by first-time visitors arriving from WeChat scenes; when one leaves, the
    next arrives (for `rounds` rounds, or forever when rounds is None). Shares bring friends and some
    shoppers come back later, on top of the slots.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        *,
        seed: int,
        shoppers: int,
        start: datetime,
        pacing: Pacing | None = None,
        rounds: int | None = 1,
        prompts: SubscribePrompts | None = None,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if shoppers < 0:
            raise ValueError("shoppers must not be negative")
        self.catalogue = catalogue
        self.seed = seed
        self.pacing = pacing or Pacing()
        self.rounds = rounds
        self.prompts = prompts
        # Counters of what the stream has yielded so far, for progress lines.
        self.visits_started = 0
        self.orders_completed = 0
        self.shares_made = 0
        self.pushes_tapped = 0
        self._queue: list[tuple[datetime, int, dict[str, Any] | VisitPlan]] = []
        self._shoppers: dict[str, Shopper] = {}  # anonymous id → shopper, for the messages WeChat delivers
        self._sequence = itertools.count()
        self._visit_ends: list[datetime] = []
        self._category_weights = [
            sum(product.popularity for product in catalogue.by_category[category.slug])
            for category in catalogue.categories
        ]
        start = start.astimezone(UTC)
        arrivals = self._rng("arrivals")
        for slot in range(shoppers):
            arrival = start + timedelta(seconds=arrivals.uniform(0, self.pacing.arrival_ramp_s))
            self._schedule(arrival, self._root_plan(slot, 0, arrivals))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while self._queue:
            message = self._pop()
            if message is not None:
                yield message

    def next_at(self) -> datetime | None:
        """When the next queued message or visit happens; None once everything has been drained."""
        return self._queue[0][0] if self._queue else None

    def until(self, moment: datetime) -> list[dict[str, Any]]:
        """Every message whose timestamp is at or before `moment`, in order (for the real-time runner)."""
        messages = []
        while self._queue and self._queue[0][0] <= moment:
            message = self._pop()
            if message is not None:
                messages.append(message)
        return messages

    def receive_push(
        self, anonymous_id: str, *, page: str | None, push_id: str, delivered_at: datetime
    ) -> bool:
        """WeChat delivered a subscribe message to this shopper's phone. Some shoppers tap it (the prompts'
        `open_rate`, drawn per push so the same push always gets the same answer): a visit from scene 1014 on
        the message's page — its query carries the push id — after a while. True when they will tap it."""
        shopper = self._shoppers.get(anonymous_id)
        if shopper is None:
            return False
        rng = self._rng(f"push|{push_id}")
        open_rate = self.prompts.open_rate if self.prompts is not None else SubscribePrompts().open_rate
        if rng.random() >= open_rate:
            return False
        route, _, query_string = (page or HOME).partition("?")
        plan = VisitPlan(
            key=f"push:{push_id}",
            scene=SUBSCRIBE_MESSAGE_SCENE,
            shopper=shopper,
            push=PushTap(route=route, query=dict(parse_qsl(query_string))),
        )
        self._schedule(
            delivered_at.astimezone(UTC) + timedelta(seconds=rng.uniform(*self.pacing.push_tap_delay_s)), plan
        )
        self.pushes_tapped += 1
        return True

    def active_visits(self, moment: datetime) -> int:
        """Shoppers in the mini-program at `moment`: visits started and not yet hidden."""
        while self._visit_ends and self._visit_ends[0] <= moment:
            heapq.heappop(self._visit_ends)
        return len(self._visit_ends)

    # --- internals ---------------------------------------------------------------------------------

    def _rng(self, name: str) -> random.Random:
        # String seeds are hashed with SHA-512: stable across processes, unlike hash().
        return random.Random(f"{self.seed}|{name}")

    def _schedule(self, moment: datetime, item: dict[str, Any] | VisitPlan) -> None:
        heapq.heappush(self._queue, (moment, next(self._sequence), item))

    def _pop(self) -> dict[str, Any] | None:
        moment, _, item = heapq.heappop(self._queue)
        if isinstance(item, VisitPlan):
            self._start_visit(item, moment)
            return None
        # Count what has happened by now, not what a visit generated ahead of time.
        if item.get("event") == "Order Completed":
            self.orders_completed += 1
        elif item.get("event") == "Product Shared":
            self.shares_made += 1
        return item

    def _root_plan(self, slot: int, round_: int, rng: random.Random) -> VisitPlan:
        return VisitPlan(
            key=f"root:{slot}:{round_}", scene=pick_weighted(rng, ARRIVAL_SCENES), slot=slot, round=round_
        )

    def _new_shopper(self, plan: VisitPlan) -> Shopper:
        rng = self._rng(f"shopper|{plan.key}")
        shopper = Shopper(
            key=plan.key,
            anonymous_id=_uuid(rng),
            device=pick_device(rng),
            favourite=rng.choices(self.catalogue.categories, weights=self._category_weights)[0],
            cart_id=_hex_id(rng, "cart_"),
            entered_through=plan.share,
        )
        self._shoppers[shopper.anonymous_id] = shopper
        return shopper

    def _start_visit(self, plan: VisitPlan, moment: datetime) -> None:
        shopper = plan.shopper or self._new_shopper(plan)
        rng = self._rng(f"visit|{plan.key}")
        visit = _Visit(
            plan=plan,
            shopper=shopper,
            catalogue=self.catalogue,
            rng=rng,
            start=moment,
            pacing=self.pacing,
            prompts=self.prompts,
        )
        visit.run()
        self.visits_started += 1
        heapq.heappush(self._visit_ends, visit.clock)
        for at, message in visit.messages:
            self._schedule(at, message)
        self._schedule_friends(visit, rng)
        self._schedule_return(visit, rng)
        if plan.slot is not None and (self.rounds is None or plan.round + 1 < self.rounds):
            gap = rng.expovariate(1 / self.pacing.mean_next_shopper_gap_s)
            self._schedule(
                visit.clock + timedelta(seconds=gap), self._root_plan(plan.slot, plan.round + 1, rng)
            )

    def _schedule_friends(self, visit: _Visit, rng: random.Random) -> None:
        for shared_at, share in visit.shares:
            if share.depth >= MAX_SHARE_DEPTH:
                continue
            if share.via == "single_chat":
                clicks = 1 if rng.random() < 0.55 else 0
            else:
                clicks = rng.choices((0, 1, 2, 3), weights=(0.35, 0.35, 0.2, 0.1))[0]
            for friend in range(clicks):
                if share.via == "single_chat":
                    scene = SINGLE_CHAT_SCENE
                else:
                    scene = GROUP_CHAT_TICKET_SCENE if rng.random() < 0.25 else GROUP_CHAT_SCENE
                delay = rng.uniform(*self.pacing.friend_delay_s)
                plan = VisitPlan(key=f"friend:{share.share_id}:{friend}", scene=scene, share=share)
                self._schedule(shared_at + timedelta(seconds=delay), plan)

    def _schedule_return(self, visit: _Visit, rng: random.Random) -> None:
        shopper = visit.shopper
        if shopper.visits >= MAX_VISITS_PER_SHOPPER:
            return
        chance = 0.25 if shopper.cart else (0.2 if visit.has_ordered else 0.08)
        if rng.random() >= chance:
            return
        plan = VisitPlan(
            key=f"return:{shopper.key}:{shopper.visits + 1}",
            scene=pick_weighted(rng, RETURN_SCENES),
            shopper=shopper,
        )
        self._schedule(visit.clock + timedelta(seconds=rng.uniform(*self.pacing.return_delay_s)), plan)


def simulate_journeys(
    catalogue: Catalogue,
    *,
    shoppers: int,
    seed: int,
    start: datetime,
    pacing: Pacing | None = None,
    prompts: SubscribePrompts | None = None,
) -> list[dict[str, Any]]:
    """The Segment messages of `shoppers` complete first visits, with the friends they bring through
    shares and the return visits that follow, ordered by timestamp. Same seed, same messages."""
    model = TrafficModel(
        catalogue, seed=seed, shoppers=shoppers, start=start, pacing=pacing, rounds=1, prompts=prompts
    )
    return list(model)
