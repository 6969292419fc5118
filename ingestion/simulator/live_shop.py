"""Shoppers who really shop: the behaviour model's messages, replayed through the order core as they come due.

The pure model decides what a shopper does; this module makes the phone do it against the real order core
and the WeChat sandbox at the moment the message is due, and rewrites the message with what came back, as
the mini-program would: the order core's `user_id` after login, the openid in `context.wechat`, the order
id and amounts the order core charged (so tracked events and the order book agree to the fen). It adds the
"Experiment Viewed" exposures the mini-program tracks when it renders a variant, fetches 猜你喜欢 on launch
(tracking "Recommendation Shown", and "Recommendation Clicked" when the shopper taps one), tells the sandbox which
subscribe prompts were allowed, syncs the cart, pays through wx.requestPayment and, later, asks for a
refund on a small, fixed share of orders. When the order core cannot be reached, messages go out as the
model made them (a client-side Order Completed only).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qsl

import structlog

from ingestion.simulator.catalogue import Catalogue
from ingestion.simulator.order_core import OrderCoreRefused, OrderCoreUnreachable, ShopBackend, ShopperSession
from ingestion.simulator.shoppers import ORDER_RESULT, fen_to_yuan, iso

log = structlog.get_logger("ingestion.simulator")

_ID_NAMESPACE: Final = uuid.UUID("5f0c8f7e-4e61-4d1c-9a57-6a1d2f3c0b11")
PAYMENT_CHECK_AFTER_S: Final = 3.0
REFUND_REASONS: Final = ("不想要了", "尺码不合适", "拍错了", "商品与描述不符")
RECOMMENDATIONS_SHOWN: Final = 6  # 猜你喜欢 on the home page
# The share of 猜你喜欢 lists a shopper taps, and how much less likely each next position is to be tapped.
RECOMMENDATION_TAP_SHARE: Final = 0.12
POSITION_DECAY: Final = 0.6


def stable_fraction(*parts: str) -> float:
    """A number in [0, 1) fixed by the parts: the same order is refunded (or not) on every run."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def tapped_position(draw: float, shown: int) -> int | None:
    """Which of `shown` recommendations a shopper taps for a uniform `draw` in [0, 1), or None (most lists are
    not tapped). Position bias: each next position is POSITION_DECAY times as likely as the one before."""
    if shown < 1 or draw >= RECOMMENDATION_TAP_SHARE:
        return None
    weights = [POSITION_DECAY**position for position in range(shown)]
    point = draw / RECOMMENDATION_TAP_SHARE * sum(weights)
    for position, weight in enumerate(weights):
        point -= weight
        if point < 0:
            return position
    return shown - 1


def client_ip_for(anonymous_id: str) -> str:
    """Each phone has its own address (sent as X-Forwarded-For), so per-client rate limits see phones."""
    digest = hashlib.sha256(anonymous_id.encode()).digest()
    return f"10.{digest[0]}.{digest[1]}.{max(1, digest[2])}"


@dataclass(slots=True)
class _Phone:
    client_ip: str
    openid: str | None = None
    session: ShopperSession | None = None


@dataclass(frozen=True, slots=True)
class DeliveredMessage:
    """A subscribe message on a simulated phone: whose, the page it opens, and the push id it carries."""

    anonymous_id: str
    page: str | None
    push_id: str


@dataclass(frozen=True, slots=True)
class _PaidOrder:
    order_id: str
    session: ShopperSession


@dataclass(slots=True)
class LiveShopStats:
    logins: int = 0
    orders_paid: int = 0
    orders_refused: int = 0
    orders_offline: int = 0
    refunds_requested: int = 0
    refunds_approved: int = 0
    payments_synced: int = 0
    consents_allowed: int = 0
    exposures: int = 0
    recommendations_shown: int = 0
    recommendations_clicked: int = 0


@dataclass
class LiveShop:
    """Replays due messages through the order core; `process` returns what the phone then tracks."""

    backend: ShopBackend
    catalogue: Catalogue
    refund_share: float = 0.05
    refund_delay_s: tuple[float, float] = (60.0, 180.0)
    operator_token: str | None = None
    monotonic: Callable[[], float] = time.monotonic
    stats: LiveShopStats = field(default_factory=LiveShopStats)
    _phones: dict[str, _Phone] = field(default_factory=dict)
    _order_ids: dict[str, str | None] = field(
        default_factory=dict
    )  # model order id → real one (None: failed)
    _follow_ups: list[tuple[float, int, str, _PaidOrder]] = field(default_factory=list)
    _sequence: itertools.count[int] = field(default_factory=itertools.count)
    _anonymous_ids: dict[str, str] = field(default_factory=dict)  # openid → the phone's anonymous id
    _messages_read: int = 0
    _last_outage_log: float = -1e9

    def process(self, messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for message in messages:
            out.extend(self._process(message))
        return out

    def run_follow_ups(self) -> None:
        """Payment checks and refunds that have come due."""
        now = self.monotonic()
        while self._follow_ups and self._follow_ups[0][0] <= now:
            _, _, kind, order = heapq.heappop(self._follow_ups)
            try:
                if kind == "check_payment":
                    self._check_payment(order)
                else:
                    self._refund(order)
            except OrderCoreUnreachable as error:
                self._outage(error)
            except OrderCoreRefused as refused:
                log.info(
                    "order core refused a follow-up", kind=kind, order_id=order.order_id, error=str(refused)
                )

    def delivered_messages(self) -> list[DeliveredMessage]:
        """Subscribe messages WeChat delivered to the simulated phones since the last call."""
        try:
            messages = self.backend.subscribe_messages(offset=self._messages_read)
        except OrderCoreUnreachable as error:
            self._outage(error)
            return []
        except OrderCoreRefused as refused:
            log.info("the sandbox refused to list subscribe messages", error=str(refused))
            return []
        first = self._messages_read
        self._messages_read += len(messages)
        delivered = []
        for position, message in enumerate(messages, start=first):
            anonymous_id = self._anonymous_ids.get(str(message.get("touser")))
            if anonymous_id is None:
                continue  # a phone this simulator does not hold (a test's shopper, another client)
            page = message.get("page") or None
            query = dict(parse_qsl(str(page).partition("?")[2])) if page else {}
            # Order notifications carry no push id: the message's place in WeChat's log names it then.
            push_id = query.get("push_id") or f"message-{position}"
            delivered.append(DeliveredMessage(anonymous_id=anonymous_id, page=page, push_id=push_id))
        return delivered

    # -- one message ---------------------------------------------------------------------------------
    def _phone(self, anonymous_id: str) -> _Phone:
        phone = self._phones.get(anonymous_id)
        if phone is None:
            phone = self._phones[anonymous_id] = _Phone(client_ip=client_ip_for(anonymous_id))
        return phone

    def _process(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        phone = self._phone(str(message["anonymousId"]))
        event = message.get("event")
        extra: list[dict[str, Any]] = []
        is_kept = True  # False: the shopper never saw this (payment failed, so no success page either)
        try:
            if message["type"] == "identify" or (event == "Checkout Started" and phone.session is None):
                if self._log_in(message, phone):
                    extra = self._exposures(message, phone)
                    extra += self._recommendations(message, phone, after=len(extra))
            elif event == "Mini Program Launched" and phone.session is not None:
                extra = self._exposures(message, phone)
                extra += self._recommendations(message, phone, after=len(extra))
            elif event == "Subscribe Message Consent":
                self._answer_prompt(message, phone)
            elif event in ("Product Added", "Product Removed") and phone.session is not None:
                quantity = int(message["properties"]["quantity"]) if event == "Product Added" else 0
                self.backend.set_cart_quantity(
                    phone.session, message["properties"]["sku"], quantity, client_ip=phone.client_ip
                )
            if event == "Checkout Started" and phone.session is not None:
                self._sync_cart(message, phone.session, phone.client_ip)
            elif event == "Order Completed":
                is_kept = self._pay(message, phone)
            elif message["type"] == "page" and message.get("name") == ORDER_RESULT:
                is_kept = self._rewrite_result_page(message)
        except OrderCoreUnreachable as error:
            self._outage(error)
            if event == "Order Completed":
                self.stats.orders_offline += 1
        except OrderCoreRefused as refused:
            log.warning(
                "order core refused a shopper's call", call=event or message["type"], error=str(refused)
            )
            if event == "Order Completed":
                self._order_ids[str(message["properties"]["order_id"])] = None
                self.stats.orders_refused += 1
                return []
        if not is_kept:
            return []
        self._stamp(message, phone)
        for exposure in extra:
            self._stamp(exposure, phone)
        return [message, *extra]

    def _stamp(self, message: dict[str, Any], phone: _Phone) -> None:
        if phone.session is not None and "userId" in message:
            message["userId"] = phone.session.user_id
        if phone.openid is not None:
            message["context"]["wechat"] = {**message["context"].get("wechat", {}), "openid": phone.openid}

    def _outage(self, error: Exception) -> None:
        now = self.monotonic()
        if now - self._last_outage_log >= 30:
            log.warning(
                "ORDER CORE UNREACHABLE: shoppers keep shopping client-side only (no verified payments)",
                error=str(error),
            )
            self._last_outage_log = now

    # -- login, experiments, consent, cart -----------------------------------------------------------
    def _log_in(self, message: dict[str, Any], phone: _Phone) -> bool:
        if phone.session is not None:
            return False
        phone.session = self.backend.log_in(str(message["anonymousId"]), client_ip=phone.client_ip)
        phone.openid = phone.session.openid
        self._anonymous_ids[phone.openid] = str(message["anonymousId"])
        message["userId"] = phone.session.user_id
        self.stats.logins += 1
        return True

    def _exposures(self, message: dict[str, Any], phone: _Phone) -> list[dict[str, Any]]:
        """The mini-program renders each assigned variant and tracks that the shopper saw it."""
        assert phone.session is not None
        at = datetime.fromisoformat(message["timestamp"])
        exposures = []
        for offset, assignment in enumerate(
            self.backend.assignments(phone.session, client_ip=phone.client_ip)
        ):
            exposures.append(
                {
                    "type": "track",
                    "event": "Experiment Viewed",
                    "messageId": str(
                        uuid.uuid5(_ID_NAMESPACE, f"{message['messageId']}:{assignment['experiment_id']}")
                    ),
                    "anonymousId": message["anonymousId"],
                    "userId": phone.session.user_id,
                    "timestamp": iso(at + timedelta(milliseconds=1 + offset)),
                    "context": {**message["context"]},
                    "properties": {
                        "experiment_id": assignment["experiment_id"],
                        "variant": assignment["variant"],
                    },
                }
            )
        self.stats.exposures += len(exposures)
        return exposures

    def _recommendations(self, message: dict[str, Any], phone: _Phone, *, after: int) -> list[dict[str, Any]]:
        """The home page shows 猜你喜欢 from the order core; now and then the shopper taps one of them."""
        assert phone.session is not None
        found = self.backend.recommendations(
            phone.session, n=RECOMMENDATIONS_SHOWN, client_ip=phone.client_ip
        )
        product_ids = [str(item["product_id"]) for item in found["items"]]
        if not product_ids:
            return []
        at = datetime.fromisoformat(message["timestamp"])
        request_id = str(uuid.uuid5(_ID_NAMESPACE, f"{message['messageId']}:recommendations"))
        model_version = found.get("model_version")

        def tracked(event: str, offset_ms: int, properties: dict[str, Any]) -> dict[str, Any]:
            return {
                "type": "track",
                "event": event,
                "messageId": str(uuid.uuid5(_ID_NAMESPACE, f"{request_id}:{event}")),
                "anonymousId": message["anonymousId"],
                "userId": phone.session.user_id if phone.session is not None else None,
                "timestamp": iso(at + timedelta(milliseconds=offset_ms)),
                "context": {**message["context"]},
                "properties": properties,
            }

        slot = "guess_you_like"
        events = [
            tracked(
                "Recommendation Shown",
                1 + after,
                {
                    "request_id": request_id,
                    "slot": slot,
                    "product_ids": product_ids,
                    "model_version": model_version,
                },
            )
        ]
        self.stats.recommendations_shown += 1
        position = tapped_position(stable_fraction(request_id, "tap"), len(product_ids))
        if position is not None:
            events.append(
                tracked(
                    "Recommendation Clicked",
                    1500 + after,  # a second and a half to look and tap
                    {
                        "request_id": request_id,
                        "slot": slot,
                        "product_id": product_ids[position],
                        "position": position,
                        "model_version": model_version,
                    },
                )
            )
            self.stats.recommendations_clicked += 1
        return events

    def _answer_prompt(self, message: dict[str, Any], phone: _Phone) -> None:
        results: dict[str, str] = message["properties"]["results"]
        if phone.openid is None:
            # wx.login is silent: the phone knows its openid before the shopper logs in to the shop.
            _, phone.openid = self.backend.wx_login(str(message["anonymousId"]))
        for template_id, answer in results.items():
            if answer == "accept":
                self.backend.allow_subscribe(openid=phone.openid, template_id=template_id)
                self.stats.consents_allowed += 1

    def _sync_cart(self, message: dict[str, Any], session: ShopperSession, client_ip: str) -> None:
        wanted = {str(line["sku"]): int(line["quantity"]) for line in message["properties"]["products"]}
        held = self.backend.cart(session, client_ip=client_ip)
        for sku_id in sorted(wanted.keys() | held.keys()):
            if wanted.get(sku_id, 0) != held.get(sku_id, 0):
                self.backend.set_cart_quantity(session, sku_id, wanted.get(sku_id, 0), client_ip=client_ip)

    # -- paying ----------------------------------------------------------------------------------------
    def _pay(self, message: dict[str, Any], phone: _Phone) -> bool:
        """Place the order, prepay and confirm wx.requestPayment; rewrite the event with the real order."""
        properties = message["properties"]
        model_order_id = str(properties["order_id"])
        if phone.session is None:
            self._log_in(message, phone)
        assert phone.session is not None
        session = phone.session
        self._sync_cart(message, session, phone.client_ip)
        order = self.backend.place_order(
            session, idempotency_key=f"sim-{model_order_id}", client_ip=phone.client_ip
        )
        params = self.backend.prepay(session, order["order_id"], client_ip=phone.client_ip)
        answer = self.backend.request_payment(params)
        if answer != "requestPayment:ok":
            log.warning("wx.requestPayment failed", order_id=order["order_id"], answer=answer)
            self._order_ids[model_order_id] = None
            self.stats.orders_refused += 1
            return False
        self._order_ids[model_order_id] = order["order_id"]
        properties.update(self._order_properties(order))
        self.stats.orders_paid += 1
        paid = _PaidOrder(order_id=order["order_id"], session=session)
        self._schedule(PAYMENT_CHECK_AFTER_S, "check_payment", paid)
        if stable_fraction("refund", order["order_id"]) < self.refund_share:
            low, high = self.refund_delay_s
            delay = low + (high - low) * stable_fraction("refund-delay", order["order_id"])
            self._schedule(delay, "refund", paid)
        return True

    def _order_properties(self, order: dict[str, Any]) -> dict[str, Any]:
        """Order Completed as the order core charged it: its order id, lines and amounts."""
        products = []
        for line in order["lines"]:
            product = self.catalogue.get(line["product_id"]) if line["product_id"] in self.catalogue else None
            item: dict[str, Any] = {
                "product_id": line["product_id"],
                "sku": line["sku_id"],
                "name": product.name if product is not None else line["title"],
                "price": fen_to_yuan(int(line["unit_price_fen"])),
                "quantity": int(line["quantity"]),
            }
            if product is not None:
                item |= {"category": product.category.label, "category_id": product.category.slug}
            products.append(item)
        total_fen = int(order["total_fen"])
        return {
            "order_id": order["order_id"],
            "subtotal": fen_to_yuan(int(order["subtotal_fen"])),
            "discount": fen_to_yuan(int(order["discount_fen"])),
            "revenue": fen_to_yuan(total_fen),
            "shipping": 0,
            "total": fen_to_yuan(total_fen),
            "coupon": order.get("coupon_id"),
            "products": products,
        }

    def _rewrite_result_page(self, message: dict[str, Any]) -> bool:
        query = message.get("properties", {}).get("query") or {}
        model_order_id = query.get("order_id")
        if model_order_id not in self._order_ids:
            return True  # the order was never tried against the order core (offline): as the model made it
        real = self._order_ids.pop(model_order_id)
        if real is None:
            return False  # payment failed: no success page
        message["properties"]["query"] = {**query, "order_id": real}
        return True

    def _schedule(self, delay_s: float, kind: str, order: _PaidOrder) -> None:
        heapq.heappush(self._follow_ups, (self.monotonic() + delay_s, next(self._sequence), kind, order))

    def _check_payment(self, order: _PaidOrder) -> None:
        if self.backend.order(order.session, order.order_id)["status"] != "pending_payment":
            return
        # The notification has not arrived: do what a careful mini-program does and ask for an active query.
        synced = self.backend.sync_payment(order.session, order.order_id)
        self.stats.payments_synced += 1
        log.warning(
            "no payment notification reached the order core; paid by active query instead",
            order_id=order.order_id,
            status=synced["status"],
        )

    def _refund(self, order: _PaidOrder) -> None:
        reason = REFUND_REASONS[int(stable_fraction("reason", order.order_id) * len(REFUND_REASONS))]
        refund_id = self.backend.request_refund(order.session, order.order_id, reason=reason)
        self.stats.refunds_requested += 1
        if self.operator_token is None:
            log.info("refund requested; no operator account to approve it", order_id=order.order_id)
            return
        self.backend.approve_refund(self.operator_token, refund_id)
        self.stats.refunds_approved += 1
