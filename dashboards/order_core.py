"""The order core's back-office HTTP API, as the marketer console uses it (port: a small client over httpx).

Every call carries a staff bearer token from `POST /admin/v1/login`; the API checks the role.
"""

from __future__ import annotations

from typing import Any

import httpx


class OrderCoreUnavailable(RuntimeError):
    """The order core did not answer (not running, wrong URL, timeout)."""


class OrderCoreRefused(RuntimeError):
    """The order core answered with an error: bad credentials, missing role, an invalid rule."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class OrderCoreClient:
    def __init__(self, base_url: str, *, token: str | None = None, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def _request(self, method: str, path: str, *, json: object = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = httpx.request(
                method, f"{self.base_url}{path}", json=json, headers=headers, timeout=self.timeout_s
            )
        except httpx.HTTPError as error:
            raise OrderCoreUnavailable(f"{self.base_url}: {error}") from error
        if response.status_code >= 400:
            try:
                body = response.json()
                message = str(body.get("message") or body.get("detail") or body)
            except ValueError:
                message = response.text
            raise OrderCoreRefused(response.status_code, message)
        return response.json() if response.content else None

    def login(self, username: str, password: str) -> str:
        """Log a staff member in; the client keeps the token for the next calls and returns it."""
        issued = self._request("POST", "/admin/v1/login", json={"username": username, "password": password})
        self.token = str(issued["token"])
        return self.token

    def me(self) -> dict[str, Any]:
        return dict(self._request("GET", "/admin/v1/me"))

    def rules(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "/admin/v1/automation-rules"))

    def save_rule(self, rule_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create or change a rule (the API validates, versions and publishes it to the streams)."""
        return dict(self._request("PUT", f"/admin/v1/automation-rules/{rule_id}", json=body))

    def retire_rule(self, rule_id: str) -> dict[str, Any]:
        return dict(self._request("DELETE", f"/admin/v1/automation-rules/{rule_id}"))

    def low_stock(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "/admin/v1/skus/low-stock"))
