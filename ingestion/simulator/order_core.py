"""What a simulated phone says to the order core and to WeChat: the mini-program's HTTP calls.

`ShopBackend` talks to the order core (`shoploop api`) and to the loopback WeChat sandbox, whose
`/sandbox/*` routes stand in for what happens inside the WeChat app (wx.login, allowing a subscribe
prompt, confirming wx.requestPayment). Every call a real mini-program makes is made here, with the same
headers: a session token after login, an Idempotency-Key on orders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx


class OrderCoreUnreachable(Exception):
    """The order core or the sandbox did not answer (connection refused, timeout)."""


class OrderCoreRefused(Exception):
    """The order core or the sandbox answered with an error (out of stock, frozen account, …)."""

    def __init__(self, what: str, status: int, body: str) -> None:
        super().__init__(f"{what}: HTTP {status} {body[:300]}")
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class ShopperSession:
    user_id: str
    token: str
    openid: str


class ShopBackend:
    """The order core's mini-program and back-office endpoints plus the sandbox's phone stand-ins."""

    def __init__(self, client: httpx.Client, *, api_url: str, sandbox_url: str) -> None:
        self._client = client
        self._api = api_url.rstrip("/")
        self._sandbox = sandbox_url.rstrip("/")

    # -- plumbing -----------------------------------------------------------------------------------------
    def _call(
        self, what: str, method: str, url: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            raise OrderCoreUnreachable(f"{what}: {error!r}") from error
        if response.status_code not in ok:
            raise OrderCoreRefused(what, response.status_code, response.text)
        return response

    @staticmethod
    def _as_shopper(session: ShopperSession, client_ip: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {session.token}"}
        if client_ip:
            headers["X-Forwarded-For"] = client_ip
        return headers

    # -- catalogue -------------------------------------------------------------------------------------
    def is_reachable(self) -> bool:
        try:
            self._call("products", "GET", f"{self._api}/v1/products", params={"limit": 1})
            self._call("sandbox", "GET", f"{self._sandbox}/sandbox/notifications")
        except (OrderCoreUnreachable, OrderCoreRefused):
            return False
        return True

    def products(self, *, page_size: int = 100) -> list[dict[str, Any]]:
        """Every product with its SKUs: the list endpoint page by page, then each product's detail."""
        summaries: list[dict[str, Any]] = []
        while True:
            page = self._call(
                "products",
                "GET",
                f"{self._api}/v1/products",
                params={"limit": page_size, "offset": len(summaries), "sort": "sales"},
            ).json()
            summaries.extend(page)
            if len(page) < page_size:
                break
        return [
            self._call("product", "GET", f"{self._api}/v1/products/{summary['product_id']}").json()
            for summary in summaries
        ]

    # -- the phone (sandbox) ---------------------------------------------------------------------------
    def wx_login(self, persona: str) -> tuple[str, str]:
        """wx.login(): a one-time code and the openid WeChat will hand the order core for it."""
        answer = self._call(
            "wx.login", "POST", f"{self._sandbox}/sandbox/wx-login", json={"persona": persona}
        ).json()
        return str(answer["code"]), str(answer["openid"])

    def allow_subscribe(self, *, openid: str, template_id: str) -> None:
        """The shopper tapped "allow" for a template: WeChat grants one message."""
        self._call(
            "subscribe accept",
            "POST",
            f"{self._sandbox}/sandbox/subscribe/accept",
            json={"openid": openid, "template_id": template_id},
        )

    def subscribe_messages(self, *, offset: int) -> list[dict[str, Any]]:
        """The subscribe messages WeChat has delivered to phones after the first `offset` (read before)."""
        answer = self._call(
            "subscribe messages",
            "GET",
            f"{self._sandbox}/sandbox/subscribe/messages",
            params={"offset": offset},
        ).json()
        return list(answer)

    def request_payment(self, params: dict[str, Any]) -> str:
        """wx.requestPayment(): the sandbox checks paySign, pays and notifies the order core; returns errMsg."""
        answer = self._call(
            "wx.requestPayment", "POST", f"{self._sandbox}/sandbox/request-payment", json=params
        )
        return str(answer.json().get("errMsg", ""))

    # -- the mini-program's calls to the order core ----------------------------------------------------
    def log_in(self, persona: str, *, client_ip: str | None = None) -> ShopperSession:
        code, openid = self.wx_login(persona)
        headers = {"X-Forwarded-For": client_ip} if client_ip else {}
        answer = self._call(
            "login", "POST", f"{self._api}/v1/auth/login", json={"code": code}, headers=headers
        ).json()
        return ShopperSession(user_id=str(answer["user_id"]), token=str(answer["token"]), openid=openid)

    def cart(self, session: ShopperSession, *, client_ip: str | None = None) -> dict[str, int]:
        """The server-side cart as sku id → quantity."""
        cart = self._call(
            "cart", "GET", f"{self._api}/v1/cart", headers=self._as_shopper(session, client_ip)
        ).json()
        return {str(line["sku_id"]): int(line["quantity"]) for line in cart["items"]}

    def set_cart_quantity(
        self, session: ShopperSession, sku_id: str, quantity: int, *, client_ip: str | None = None
    ) -> None:
        self._call(
            "cart item",
            "PUT",
            f"{self._api}/v1/cart/items/{sku_id}",
            json={"quantity": quantity},
            headers=self._as_shopper(session, client_ip),
            ok=(204,),
        )

    def place_order(
        self, session: ShopperSession, *, idempotency_key: str, client_ip: str | None = None
    ) -> dict[str, Any]:
        """Check out the whole cart, letting the order core pick the best coupon the shopper holds."""
        order: dict[str, Any] = self._call(
            "place order",
            "POST",
            f"{self._api}/v1/orders",
            json={"coupon": "auto"},
            headers={**self._as_shopper(session, client_ip), "Idempotency-Key": idempotency_key},
            ok=(201,),
        ).json()
        return order

    def prepay(
        self, session: ShopperSession, order_id: str, *, client_ip: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = self._call(
            "prepay",
            "POST",
            f"{self._api}/v1/orders/{order_id}/prepay",
            headers=self._as_shopper(session, client_ip),
        ).json()
        return params

    def order(self, session: ShopperSession, order_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call(
            "order", "GET", f"{self._api}/v1/orders/{order_id}", headers=self._as_shopper(session)
        ).json()
        return found

    def sync_payment(self, session: ShopperSession, order_id: str) -> dict[str, Any]:
        """Ask the order core to query WeChat Pay (requestPayment:ok is not proof of payment)."""
        found: dict[str, Any] = self._call(
            "sync payment",
            "POST",
            f"{self._api}/v1/orders/{order_id}/sync-payment",
            headers=self._as_shopper(session),
        ).json()
        return found

    def request_refund(self, session: ShopperSession, order_id: str, *, reason: str) -> str:
        answer = self._call(
            "refund request",
            "POST",
            f"{self._api}/v1/orders/{order_id}/refund",
            json={"reason": reason},
            headers=self._as_shopper(session),
            ok=(201,),
        ).json()
        return str(answer["refund_id"])

    def assignments(self, session: ShopperSession, *, client_ip: str | None = None) -> list[dict[str, str]]:
        found: list[dict[str, str]] = self._call(
            "experiment assignments",
            "GET",
            f"{self._api}/v1/experiments/assignments",
            headers=self._as_shopper(session, client_ip),
        ).json()
        return found

    def recommendations(
        self, session: ShopperSession, *, n: int = 6, client_ip: str | None = None
    ) -> dict[str, Any]:
        """猜你喜欢 on the home page: `source`, `model_version` and `items` as the order core answers them."""
        found: dict[str, Any] = self._call(
            "recommendations",
            "GET",
            f"{self._api}/v1/recommendations",
            params={"n": n},
            headers=self._as_shopper(session, client_ip),
        ).json()
        return found

    # -- back office -----------------------------------------------------------------------------------
    def staff_token(self, username: str, password: str) -> str | None:
        """A back-office token, or None when the order core does not know that username and password."""
        try:
            answer = self._call(
                "staff login",
                "POST",
                f"{self._api}/admin/v1/login",
                json={"username": username, "password": password},
            )
        except OrderCoreRefused as refused:
            if refused.status == 401:
                return None
            raise
        return str(answer.json()["token"])

    def ensure_experiment(self, staff_token: str, experiment: dict[str, Any]) -> str:
        """Create the experiment if it does not exist and start it if it is a draft; returns its status."""
        headers = {"Authorization": f"Bearer {staff_token}"}
        experiment_id = experiment["experiment_id"]
        existing = self._call(
            "experiments", "GET", f"{self._api}/admin/v1/experiments", headers=headers
        ).json()
        found = next((e for e in existing if e["experiment_id"] == experiment_id), None)
        if found is None:
            found = self._call(
                "create experiment",
                "POST",
                f"{self._api}/admin/v1/experiments",
                json=experiment,
                headers=headers,
                ok=(201,),
            ).json()
        if found["status"] == "draft":
            found = self._call(
                "start experiment",
                "POST",
                f"{self._api}/admin/v1/experiments/{experiment_id}/start",
                headers=headers,
            ).json()
        return str(found["status"])

    def approve_refund(self, staff_token: str, refund_id: str) -> str:
        answer = self._call(
            "approve refund",
            "POST",
            f"{self._api}/admin/v1/refunds/{refund_id}/approve",
            headers={"Authorization": f"Bearer {staff_token}"},
        ).json()
        return str(answer["status"])


StaffCreator = Callable[[str, str, str], bool]
"""(username, password, role) → whether the account exists now. The order core has no HTTP route that
creates the first staff account, so the runner may be given one that writes to the order core's database."""


def create_staff_in_order_core_database(username: str, password: str, role: str) -> bool:
    """Create a staff account with the order core's own use case, in its database (`SHOPLOOP_API_*`).

    Only for the embedded demo, where the simulator runs next to the order core; a SQLite database that
    does not exist yet is left alone (the order core creates and migrates it when it starts).
    """
    from datetime import UTC, datetime
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from api.adapters.db import make_engine, make_session_factory
    from api.service_layer import accounts
    from api.service_layer.unit_of_work import UnitOfWork
    from api.settings import ApiSettings

    database_url = ApiSettings().database_url
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and (not url.database or not Path(url.database).exists()):
        return False
    engine = make_engine(database_url)
    try:
        accounts.create_staff(
            UnitOfWork(make_session_factory(engine)),
            username=username,
            password=password,
            role=accounts.Role(role),
            now=datetime.now(UTC),
        )
    except accounts.UsernameTaken:
        pass  # created by an earlier run (perhaps with another password: the login will say so)
    finally:
        engine.dispose()
    return True
