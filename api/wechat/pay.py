"""WeChat Pay API v3 client (direct merchant): signed requests, verified responses and notifications."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from api.domain.errors import InvalidNotification, WeChatUnavailable
from api.wechat import signing


class WeChatPayError(Exception):
    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Notification:
    notification_id: str
    event_type: str
    resource: dict[str, Any]


class WeChatPayClient:
    def __init__(
        self,
        *,
        base_url: str,
        appid: str,
        mchid: str,
        merchant_serial: str,
        merchant_key: rsa.RSAPrivateKey,
        apiv3_key: bytes,
        platform_keys: Mapping[str, rsa.RSAPublicKey] | None = None,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.appid = appid
        self.mchid = mchid
        self._serial = merchant_serial
        self._key = merchant_key
        self._apiv3_key = apiv3_key
        self._platform_keys: dict[str, rsa.RSAPublicKey] = dict(platform_keys or {})
        self._keys_lock = threading.Lock()
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s)
        self._clock = clock

    def close(self) -> None:
        self._http.close()

    # -- transport -------------------------------------------------------------------------------------
    def _request(
        self, method: str, path: str, *, body: dict[str, Any] | None = None, verify_response: bool = True
    ) -> tuple[int, dict[str, Any]]:
        raw = orjson.dumps(body) if body is not None else b""
        headers = {
            "Authorization": signing.authorization_header(
                key=self._key,
                mchid=self.mchid,
                serial_no=self._serial,
                method=method,
                url_path=path,
                body=raw,
                timestamp=int(self._clock()),
            ),
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        try:
            response = self._http.request(
                method, path, content=raw if body is not None else None, headers=headers
            )
        except httpx.HTTPError as error:
            raise WeChatUnavailable("WeChat Pay did not answer") from error
        if verify_response:
            self._verify(response.headers, response.content)
        data: dict[str, Any] = response.json() if response.content else {}
        if response.status_code >= 400:
            raise WeChatPayError(
                response.status_code, str(data.get("code", "")), str(data.get("message", ""))
            )
        return response.status_code, data

    def _verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Check WeChat's signature over a response or notification; SignatureInvalid if it fails."""
        serial = headers.get("wechatpay-serial", "")
        key = self.platform_key(serial)
        signing.verify(
            key,
            signing.response_message(
                headers.get("wechatpay-timestamp", ""), headers.get("wechatpay-nonce", ""), body
            ),
            headers.get("wechatpay-signature", ""),
        )

    def platform_key(self, serial: str) -> rsa.RSAPublicKey:
        with self._keys_lock:
            if serial not in self._platform_keys:
                self._platform_keys.update(self.download_platform_keys())
            if serial not in self._platform_keys:
                raise signing.SignatureInvalid(f"unknown platform serial {serial!r}")
            return self._platform_keys[serial]

    def download_platform_keys(self) -> dict[str, rsa.RSAPublicKey]:
        """GET /v3/certificates; the certificates are encrypted with our APIv3 key, which authenticates them."""
        _, body = self._request("GET", "/v3/certificates", verify_response=False)
        keys: dict[str, rsa.RSAPublicKey] = {}
        for item in body.get("data", []):
            pem = signing.decrypt_resource(self._apiv3_key, item["encrypt_certificate"])
            public_key = x509.load_pem_x509_certificate(pem).public_key()
            if isinstance(public_key, rsa.RSAPublicKey):
                keys[item["serial_no"]] = public_key
        return keys

    # -- payments --------------------------------------------------------------------------------------
    def prepay(
        self,
        *,
        out_trade_no: str,
        description: str,
        total_fen: int,
        payer_openid: str,
        notify_url: str,
        time_expire: datetime,
    ) -> str:
        _, body = self._request(
            "POST",
            "/v3/pay/transactions/jsapi",
            body={
                "appid": self.appid,
                "mchid": self.mchid,
                "description": description[:127],
                "out_trade_no": out_trade_no,
                "time_expire": time_expire.astimezone(UTC).isoformat(timespec="seconds"),
                "notify_url": notify_url,
                "amount": {"total": total_fen, "currency": "CNY"},
                "payer": {"openid": payer_openid},
            },
        )
        return str(body["prepay_id"])

    def request_payment_params(self, prepay_id: str) -> dict[str, str]:
        """The object the mini-program passes to wx.requestPayment."""
        timestamp = str(int(self._clock()))
        nonce = signing.new_nonce()
        package = f"prepay_id={prepay_id}"
        return {
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": signing.pay_sign(
                self._key, appid=self.appid, timestamp=timestamp, nonce=nonce, package=package
            ),
        }

    def query(self, out_trade_no: str) -> dict[str, Any]:
        _, body = self._request(
            "GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?{urlencode({'mchid': self.mchid})}"
        )
        return body

    def close_transaction(self, out_trade_no: str) -> None:
        self._request(
            "POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close", body={"mchid": self.mchid}
        )

    def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        reason: str,
        refund_fen: int,
        total_fen: int,
        notify_url: str,
    ) -> dict[str, Any]:
        _, body = self._request(
            "POST",
            "/v3/refund/domestic/refunds",
            body={
                "out_trade_no": out_trade_no,
                "out_refund_no": out_refund_no,
                "reason": reason[:80],
                "notify_url": notify_url,
                "amount": {"refund": refund_fen, "total": total_fen, "currency": "CNY"},
            },
        )
        return body

    def query_refund(self, out_refund_no: str) -> dict[str, Any]:
        _, body = self._request("GET", f"/v3/refund/domestic/refunds/{out_refund_no}")
        return body

    # -- notifications ---------------------------------------------------------------------------------
    def parse_notification(self, headers: Mapping[str, str], body: bytes, *, max_skew_s: int) -> Notification:
        """Verify and decrypt a notification; InvalidNotification for anything forged, tampered or stale."""
        if headers.get("wechatpay-signature-type", signing.SCHEMA) != signing.SCHEMA:
            raise InvalidNotification("unsupported signature type")
        try:
            timestamp = int(headers.get("wechatpay-timestamp", ""))
        except ValueError as error:
            raise InvalidNotification("missing timestamp") from error
        if abs(self._clock() - timestamp) > max_skew_s:
            raise InvalidNotification("notification timestamp is too far from now")
        try:
            self._verify(headers, body)
            envelope = orjson.loads(body)
            resource = orjson.loads(signing.decrypt_resource(self._apiv3_key, envelope["resource"]))
        except (signing.SignatureInvalid, orjson.JSONDecodeError, KeyError, TypeError) as error:
            raise InvalidNotification(f"notification rejected: {error}") from error
        except WeChatPayError as error:
            raise InvalidNotification("platform certificates unavailable") from error
        return Notification(
            notification_id=str(envelope.get("id", "")),
            event_type=str(envelope.get("event_type", "")),
            resource=resource,
        )
