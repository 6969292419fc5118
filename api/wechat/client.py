"""WeChat mini-program server APIs: code2Session, access_token (cached), subscribe-message send.

WeChat answers HTTP 200 even on errors, so every reply's `errcode` is checked.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from api.domain.errors import LoginFailed, WeChatUnavailable

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# Refresh the cached access_token this long before WeChat says it expires (wechatpy uses 60 s).
TOKEN_REFRESH_MARGIN_S = 60


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    session_key: str
    unionid: str | None


class WeChatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatClient:
    def __init__(self, *, base_url: str, appid: str, app_secret: str, timeout_s: float = 5.0) -> None:
        self.appid = appid
        self._secret = app_secret
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s)
        self._token: tuple[str, float] | None = None
        self._token_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as error:
            raise WeChatUnavailable("WeChat did not answer") from error
        return _checked(response)

    def code2session(self, code: str) -> WeChatSession:
        try:
            body = self._get(
                "/sns/jscode2session",
                {
                    "appid": self.appid,
                    "secret": self._secret,
                    "js_code": code,
                    "grant_type": "authorization_code",
                },
            )
        except WeChatApiError as error:
            raise LoginFailed(f"WeChat refused the login code ({error.errcode})") from error
        return WeChatSession(
            openid=body["openid"], session_key=body["session_key"], unionid=body.get("unionid")
        )

    def access_token(self, *, force_refresh: bool = False) -> str:
        with self._token_lock:
            if (
                not force_refresh
                and self._token
                and self._token[1] - TOKEN_REFRESH_MARGIN_S > time.monotonic()
            ):
                return self._token[0]
            body = self._get(
                "/cgi-bin/token",
                {"grant_type": "client_credential", "appid": self.appid, "secret": self._secret},
            )
            self._token = (body["access_token"], time.monotonic() + int(body["expires_in"]))
            return self._token[0]

    def send_subscribe_message(
        self, *, openid: str, template_id: str, data: dict[str, str], page: str | None = None
    ) -> None:
        """Send one subscribe message; WeChatApiError(43101) when the shopper has no quota left."""
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "miniprogram_state": "formal",
            "lang": "zh_CN",
            "data": {key: {"value": value} for key, value in data.items()},
        }
        if page:
            payload["page"] = page
        for attempt in range(2):
            token = self.access_token(force_refresh=attempt > 0)
            try:
                response = self._http.post(
                    "/cgi-bin/message/subscribe/send", params={"access_token": token}, json=payload
                )
            except httpx.HTTPError as error:
                raise WeChatUnavailable("WeChat did not answer") from error
            try:
                _checked(response)
                return
            except WeChatApiError as error:
                if error.errcode in TOKEN_ERRORS and attempt == 0:
                    continue
                raise


def _checked(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 500:
        raise WeChatUnavailable(f"WeChat answered {response.status_code}")
    body: dict[str, Any] = response.json()
    errcode = int(body.get("errcode") or 0)
    if errcode:
        raise WeChatApiError(errcode, str(body.get("errmsg", "")))
    return body
