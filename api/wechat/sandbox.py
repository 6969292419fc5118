"""A loopback WeChat: code2Session, access_token, subscribe messages and WeChat Pay v3.

It answers like the real services (errcodes, quotas, signed and encrypted Pay traffic, WeChat's
notification retry schedule) so that the real clients are exercised in the demo and the tests. The
platform RSA key pair is generated at start. `/sandbox/*` routes stand in for what happens inside the
WeChat app: `wx.login`, accepting a subscribe prompt, and confirming `wx.requestPayment`.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel

from api.wechat import signing

# WeChat Pay's notification retry schedule: 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h.
WECHAT_RETRY_SCHEDULE_S: tuple[float, ...] = (
    15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
)  # fmt: skip
CODE_TTL_S = 300
TOKEN_TTL_S = 7200
OLD_TOKEN_GRACE_S = 300
LOGIN_QUOTA_PER_MINUTE = 100
OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{6,32}$")
LOOPBACK_HTTP = re.compile(r"^http://(127\.0\.0\.1|localhost)(:\d+)?/")
# Subscribe-message value limits by key type (the key is type + index, e.g. thing2).
VALUE_LIMITS: dict[str, int] = {
    "thing": 20, "number": 32, "character_string": 32, "letter": 32, "symbol": 5, "amount": 11,
    "time": 32, "date": 32, "phone_number": 17, "car_number": 8, "name": 20, "phrase": 5,
}  # fmt: skip


@dataclass
class Transaction:
    out_trade_no: str
    prepay_id: str
    appid: str
    description: str
    total_fen: int
    payer_openid: str
    notify_url: str
    time_expire: datetime | None
    request_fingerprint: str
    trade_state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: datetime | None = None
    refunded_fen: int = 0

    def as_resource(self, mchid: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "appid": self.appid,
            "mchid": mchid,
            "out_trade_no": self.out_trade_no,
            "trade_type": "JSAPI",
            "trade_state": self.trade_state,
            "trade_state_desc": {
                "SUCCESS": "支付成功",
                "NOTPAY": "未支付",
                "CLOSED": "已关闭",
                "REFUND": "转入退款",
            }.get(self.trade_state, self.trade_state),
            "payer": {"openid": self.payer_openid},
            "amount": {"total": self.total_fen, "currency": "CNY"},
        }
        if self.transaction_id:
            body.update(
                transaction_id=self.transaction_id,
                bank_type="OTHERS",
                attach="",
                success_time=self.success_time.isoformat() if self.success_time else None,
            )
            body["amount"].update(payer_total=self.total_fen, payer_currency="CNY")
        return body


@dataclass
class Refund:
    out_refund_no: str
    refund_id: str
    out_trade_no: str
    transaction_id: str
    refund_fen: int
    total_fen: int
    notify_url: str | None
    status: str = "PROCESSING"
    success_time: datetime | None = None

    def as_resource(self, mchid: str) -> dict[str, Any]:
        return {
            "mchid": mchid,
            "out_trade_no": self.out_trade_no,
            "transaction_id": self.transaction_id,
            "out_refund_no": self.out_refund_no,
            "refund_id": self.refund_id,
            "refund_status": self.status,
            "status": self.status,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "success_time": self.success_time.isoformat() if self.success_time else None,
            "amount": {
                "total": self.total_fen,
                "refund": self.refund_fen,
                "payer_total": self.total_fen,
                "payer_refund": self.refund_fen,
                "currency": "CNY",
            },
        }


@dataclass
class Delivery:
    notification_id: str
    url: str
    event_type: str
    attempts: int = 0
    delivered: bool = False
    statuses: list[int] = field(default_factory=list)


class Sandbox:
    """The sandbox's state and crypto; the FastAPI app below is its HTTP face."""

    def __init__(
        self,
        *,
        appid: str,
        app_secret: str,
        mchid: str,
        merchant_serial: str,
        merchant_public_key: rsa.RSAPublicKey,
        apiv3_key: bytes,
        retry_schedule_s: Sequence[float] = WECHAT_RETRY_SCHEDULE_S,
        refund_delay_s: float = 0.2,
    ) -> None:
        self.appid = appid
        self.app_secret = app_secret
        self.mchid = mchid
        self.merchant_serial = merchant_serial
        self.merchant_public_key = merchant_public_key
        self.apiv3_key = apiv3_key
        self.retry_schedule_s = tuple(retry_schedule_s)
        self.refund_delay_s = refund_delay_s
        self.platform_key = signing.generate_private_key()
        self.platform_serial = "5" + secrets.token_hex(19).upper()  # < 160 bits, as X.509 requires
        self.platform_certificate = _self_signed_certificate(self.platform_key, self.platform_serial)
        self.codes: dict[str, tuple[str, float, bool]] = {}
        self.session_keys: dict[str, str] = {}
        self.login_calls: dict[str, list[float]] = {}
        self.tokens: dict[str, float] = {}
        self.subscribe_quota: dict[tuple[str, str], int] = {}
        self.sent_messages: list[dict[str, Any]] = []
        self.transactions: dict[str, Transaction] = {}
        self.refunds: dict[str, Refund] = {}
        self.deliveries: list[Delivery] = []
        self.seen_request_nonces: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- identities ------------------------------------------------------------------------------------
    def openid_for(self, persona: str) -> str:
        return "o" + hashlib.sha256(f"{self.appid}:{persona}".encode()).hexdigest()[:27]

    def issue_code(self, persona: str) -> str:
        code = secrets.token_urlsafe(24)
        self.codes[code] = (self.openid_for(persona), time.monotonic() + CODE_TTL_S, False)
        return code

    # -- signing ---------------------------------------------------------------------------------------
    def signed_headers(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = signing.new_nonce()
        return {
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signing.sign(self.platform_key, signing.response_message(ts, nonce, body)),
            "Wechatpay-Serial": self.platform_serial,
            "Wechatpay-Signature-Type": signing.SCHEMA,
        }

    def notification(
        self,
        *,
        event_type: str,
        resource: dict[str, Any],
        original_type: str,
        notification_id: str | None = None,
    ) -> tuple[str, bytes]:
        notification_id = notification_id or str(uuid.uuid4())
        envelope = {
            "id": notification_id,
            "create_time": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": {"TRANSACTION.SUCCESS": "支付成功", "REFUND.SUCCESS": "退款成功"}.get(
                event_type, event_type
            ),
            "resource": signing.encrypt_resource(self.apiv3_key, resource, original_type),
        }
        return notification_id, orjson.dumps(envelope)

    def authenticate_merchant(self, method: str, path: str, headers: Any, body: bytes) -> str | None:
        """The reason the merchant's Authorization header is refused, or None when it verifies."""
        header = headers.get("authorization")
        if not header:
            return "missing Authorization"
        try:
            auth = signing.parse_authorization(header)
            if auth.mchid != self.mchid or auth.serial_no != self.merchant_serial:
                return "unknown merchant or certificate serial"
            if abs(time.time() - int(auth.timestamp)) > 300:
                return "request timestamp expired"
            signing.verify(
                self.merchant_public_key,
                signing.request_message(method, path, auth.timestamp, auth.nonce_str, body),
                auth.signature,
            )
        except (signing.SignatureInvalid, ValueError) as error:
            return str(error)
        return None

    # -- notifications ---------------------------------------------------------------------------------
    def deliver(self, url: str, *, event_type: str, resource: dict[str, Any], original_type: str) -> None:
        notification_id = str(uuid.uuid4())
        delivery = Delivery(notification_id=notification_id, url=url, event_type=event_type)
        self.deliveries.append(delivery)
        task = asyncio.get_running_loop().create_task(
            self._deliver(delivery, resource=resource, original_type=original_type)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery: Delivery, *, resource: dict[str, Any], original_type: str) -> None:
        delays = (0.0, *self.retry_schedule_s)
        async with httpx.AsyncClient(timeout=5.0) as http:
            for delay in delays:
                await asyncio.sleep(delay)
                # Every attempt is signed afresh, with the same notification id.
                _, body = self.notification(
                    event_type=delivery.event_type,
                    resource=resource,
                    original_type=original_type,
                    notification_id=delivery.notification_id,
                )
                delivery.attempts += 1
                try:
                    response = await http.post(
                        delivery.url,
                        content=body,
                        headers={"Content-Type": "application/json", **self.signed_headers(body)},
                    )
                    delivery.statuses.append(response.status_code)
                    if response.status_code in (200, 204):
                        delivery.delivered = True
                        return
                except httpx.HTTPError:
                    delivery.statuses.append(0)

    async def _complete_refund(self, refund: Refund) -> None:
        await asyncio.sleep(self.refund_delay_s)
        refund.status = "SUCCESS"
        refund.success_time = datetime.now(UTC)
        transaction = self.transactions[refund.out_trade_no]
        transaction.trade_state = "REFUND"
        if refund.notify_url:
            self.deliver(
                refund.notify_url,
                event_type="REFUND.SUCCESS",
                resource=refund.as_resource(self.mchid),
                original_type="refund",
            )

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class LoginCodeRequest(BaseModel):
    persona: str


class SubscribeAccept(BaseModel):
    openid: str
    template_id: str
    times: int = 1


class RequestPayment(BaseModel):
    """What the mini-program passes to wx.requestPayment, plus `notify` to simulate a lost notification."""

    timeStamp: str
    nonceStr: str
    package: str
    signType: str
    paySign: str
    notify: bool = True


def create_sandbox_app(
    *,
    appid: str,
    app_secret: str,
    mchid: str,
    merchant_serial: str,
    merchant_public_key_pem: bytes,
    apiv3_key: bytes,
    retry_schedule_s: Sequence[float] = WECHAT_RETRY_SCHEDULE_S,
    refund_delay_s: float = 0.2,
) -> FastAPI:
    sandbox = Sandbox(
        appid=appid,
        app_secret=app_secret,
        mchid=mchid,
        merchant_serial=merchant_serial,
        merchant_public_key=signing.load_public_key(merchant_public_key_pem),
        apiv3_key=apiv3_key,
        retry_schedule_s=retry_schedule_s,
        refund_delay_s=refund_delay_s,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await sandbox.stop()

    app = FastAPI(title="ShopLoop WeChat sandbox", lifespan=lifespan)
    app.state.sandbox = sandbox

    def wx(body: dict[str, Any]) -> Response:
        # WeChat's non-Pay APIs answer HTTP 200 even for errors.
        return Response(orjson.dumps(body), media_type="application/json")

    def pay(status: int, body: dict[str, Any] | None = None) -> Response:
        raw = orjson.dumps(body) if body is not None else b""
        return Response(
            raw,
            status_code=status,
            media_type="application/json" if raw else None,
            headers=sandbox.signed_headers(raw),
        )

    def pay_error(status: int, code: str, message: str) -> Response:
        return pay(status, {"code": code, "message": message})

    async def merchant_body(request: Request) -> tuple[bytes, Response | None]:
        body = await request.body()
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        reason = sandbox.authenticate_merchant(request.method, path, request.headers, body)
        if reason:
            return body, pay_error(401, "SIGN_ERROR", reason)
        return body, None

    # -- what happens inside the WeChat app ---------------------------------------------------------------
    @app.post("/sandbox/wx-login")
    async def wx_login(payload: LoginCodeRequest) -> dict[str, str]:
        """wx.login(): a one-time code for a persona (the same persona always gets the same openid)."""
        return {"code": sandbox.issue_code(payload.persona), "openid": sandbox.openid_for(payload.persona)}

    @app.post("/sandbox/subscribe/accept")
    async def subscribe_accept(payload: SubscribeAccept) -> dict[str, int]:
        """The shopper tapped "allow" in wx.requestSubscribeMessage: one more send for that template."""
        key = (payload.openid, payload.template_id)
        sandbox.subscribe_quota[key] = sandbox.subscribe_quota.get(key, 0) + payload.times
        return {"quota": sandbox.subscribe_quota[key]}

    @app.get("/sandbox/subscribe/messages")
    async def subscribe_messages(openid: str | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """The subscribe messages WeChat delivered, in order; `offset` skips the first ones (a phone that has
        read that many already asks only for what is new)."""
        return [m for m in sandbox.sent_messages[max(0, offset) :] if openid is None or m["touser"] == openid]

    @app.post("/sandbox/request-payment")
    async def request_payment(payload: RequestPayment) -> Response:
        """wx.requestPayment(): checks paySign with the merchant's key, pays, then notifies."""
        prepay_id = payload.package.removeprefix("prepay_id=")
        transaction = next((tx for tx in sandbox.transactions.values() if tx.prepay_id == prepay_id), None)
        if transaction is None or payload.signType != "RSA":
            return wx({"errMsg": "requestPayment:fail invalid package"})
        try:
            signing.verify(
                sandbox.merchant_public_key,
                f"{transaction.appid}\n{payload.timeStamp}\n{payload.nonceStr}\n{payload.package}\n",
                payload.paySign,
            )
        except signing.SignatureInvalid:
            return wx({"errMsg": "requestPayment:fail paySign invalid"})
        now = datetime.now(UTC)
        if transaction.trade_state != "NOTPAY" or (transaction.time_expire and now > transaction.time_expire):
            return wx({"errMsg": f"requestPayment:fail order {transaction.trade_state.lower()}"})
        transaction.trade_state = "SUCCESS"
        transaction.transaction_id = "42000" + secrets.token_hex(12)[:23]
        transaction.success_time = now
        if payload.notify:
            sandbox.deliver(
                transaction.notify_url,
                event_type="TRANSACTION.SUCCESS",
                resource=transaction.as_resource(sandbox.mchid),
                original_type="transaction",
            )
        return wx({"errMsg": "requestPayment:ok"})

    @app.get("/sandbox/notifications")
    async def notifications() -> list[dict[str, Any]]:
        return [vars(delivery) for delivery in sandbox.deliveries]

    # -- WeChat server APIs ------------------------------------------------------------------------------
    @app.get("/sns/jscode2session")
    async def jscode2session(
        appid: str = "", secret: str = "", js_code: str = "", grant_type: str = ""
    ) -> Response:
        if appid != sandbox.appid:
            return wx({"errcode": 40013, "errmsg": "invalid appid"})
        if secret != sandbox.app_secret:
            return wx({"errcode": 40125, "errmsg": "invalid appsecret"})
        if grant_type != "authorization_code":
            return wx({"errcode": 40002, "errmsg": "invalid grant_type"})
        entry = sandbox.codes.get(js_code)
        if entry is None or entry[1] < time.monotonic():
            return wx({"errcode": 40029, "errmsg": f"invalid code, rid: {secrets.token_hex(4)}"})
        openid, expires, used = entry
        if used:
            return wx({"errcode": 40163, "errmsg": "code been used"})
        recent = [t for t in sandbox.login_calls.get(openid, []) if t > time.monotonic() - 60]
        if len(recent) >= LOGIN_QUOTA_PER_MINUTE:
            return wx(
                {"errcode": 45011, "errmsg": "api minute-quota reach limit mustslower retry next minute"}
            )
        sandbox.login_calls[openid] = [*recent, time.monotonic()]
        sandbox.codes[js_code] = (openid, expires, True)
        session_key = secrets.token_bytes(16).hex()
        sandbox.session_keys[openid] = session_key
        return wx({"openid": openid, "session_key": session_key})

    @app.get("/cgi-bin/token")
    async def token(grant_type: str = "", appid: str = "", secret: str = "") -> Response:
        if appid != sandbox.appid:
            return wx({"errcode": 40013, "errmsg": "invalid appid"})
        if secret != sandbox.app_secret or grant_type != "client_credential":
            return wx({"errcode": 40125, "errmsg": "invalid appsecret"})
        now = time.monotonic()
        # A new token invalidates the old ones, which keep working for about five more minutes.
        for old, expires in list(sandbox.tokens.items()):
            sandbox.tokens[old] = min(expires, now + OLD_TOKEN_GRACE_S)
        new = secrets.token_urlsafe(48)
        sandbox.tokens[new] = now + TOKEN_TTL_S
        return wx({"access_token": new, "expires_in": TOKEN_TTL_S})

    @app.post("/cgi-bin/message/subscribe/send")
    async def subscribe_send(request: Request, access_token: str = "") -> Response:
        expires = sandbox.tokens.get(access_token)
        if expires is None:
            return wx(
                {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
            )
        if expires < time.monotonic():
            return wx({"errcode": 42001, "errmsg": "access_token expired"})
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return wx({"errcode": 47001, "errmsg": "data format error"})
        openid, template_id = str(body.get("touser", "")), str(body.get("template_id", ""))
        if openid not in sandbox.session_keys:
            return wx({"errcode": 40003, "errmsg": "invalid openid"})
        for key, item in (body.get("data") or {}).items():
            kind = re.sub(r"\d+$", "", key)
            value = str((item or {}).get("value", ""))
            limit = VALUE_LIMITS.get(kind)
            if limit is None or not value or len(value) > limit:
                return wx({"errcode": 47003, "errmsg": f"argument invalid! data.{key}.value invalid"})
        quota = sandbox.subscribe_quota.get((openid, template_id), 0)
        if quota <= 0:
            return wx({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
        sandbox.subscribe_quota[(openid, template_id)] = quota - 1
        sandbox.sent_messages.append(body)
        return wx({"errcode": 0, "errmsg": "ok"})

    # -- WeChat Pay v3 -----------------------------------------------------------------------------------
    @app.get("/v3/certificates")
    async def certificates(request: Request) -> Response:
        _, refused = await merchant_body(request)
        if refused:
            return refused
        pem = sandbox.platform_certificate.public_bytes(serialization.Encoding.PEM)
        now = datetime.now(UTC)
        return pay(
            200,
            {
                "data": [
                    {
                        "serial_no": sandbox.platform_serial,
                        "effective_time": now.isoformat(timespec="seconds"),
                        "expire_time": (now + timedelta(days=365)).isoformat(timespec="seconds"),
                        "encrypt_certificate": signing.encrypt_resource(
                            sandbox.apiv3_key, pem, "certificate"
                        ),
                    }
                ]
            },
        )

    @app.post("/v3/pay/transactions/jsapi")
    async def jsapi_prepay(request: Request) -> Response:
        raw, refused = await merchant_body(request)
        if refused:
            return refused
        try:
            body = orjson.loads(raw)
            total = body["amount"]["total"]
            out_trade_no = str(body["out_trade_no"])
            notify_url = str(body["notify_url"])
            openid = str(body["payer"]["openid"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return pay_error(400, "PARAM_ERROR", "missing or malformed parameters")
        if body.get("appid") != sandbox.appid or body.get("mchid") != sandbox.mchid:
            return pay_error(400, "APPID_MCHID_NOT_MATCH", "appid and mchid do not match")
        if not OUT_TRADE_NO.match(out_trade_no):
            return pay_error(400, "PARAM_ERROR", "out_trade_no is invalid")
        if not isinstance(total, int) or total <= 0:
            return pay_error(400, "PARAM_ERROR", "amount.total must be a positive integer of fen")
        if "?" in notify_url or not (notify_url.startswith("https://") or LOOPBACK_HTTP.match(notify_url)):
            return pay_error(400, "PARAM_ERROR", "notify_url must be https without a query")
        if len(str(body.get("description", ""))) > 127:
            return pay_error(400, "PARAM_ERROR", "description is too long")
        fingerprint = hashlib.sha256(raw).hexdigest()
        existing = sandbox.transactions.get(out_trade_no)
        if existing is not None:
            if existing.trade_state == "SUCCESS":
                return pay_error(400, "ORDERPAID", "the order has been paid")
            if existing.trade_state == "CLOSED":
                return pay_error(400, "ORDER_CLOSED", "the order has been closed")
            if _same_prepay(existing, body):
                return pay(200, {"prepay_id": existing.prepay_id})
            return pay_error(400, "OUT_TRADE_NO_USED", "out_trade_no was used with other parameters")
        time_expire = datetime.fromisoformat(body["time_expire"]) if body.get("time_expire") else None
        transaction = Transaction(
            out_trade_no=out_trade_no,
            prepay_id="wx" + datetime.now(UTC).strftime("%d%H%M%S") + secrets.token_hex(12),
            appid=sandbox.appid,
            description=str(body.get("description", "")),
            total_fen=total,
            payer_openid=openid,
            notify_url=notify_url,
            time_expire=time_expire,
            request_fingerprint=fingerprint,
        )
        sandbox.transactions[out_trade_no] = transaction
        return pay(200, {"prepay_id": transaction.prepay_id})

    @app.get("/v3/pay/transactions/out-trade-no/{out_trade_no}")
    async def query_transaction(out_trade_no: str, request: Request, mchid: str = "") -> Response:
        _, refused = await merchant_body(request)
        if refused:
            return refused
        transaction = sandbox.transactions.get(out_trade_no)
        if transaction is None or mchid != sandbox.mchid:
            return pay_error(404, "ORDER_NOT_EXIST", "order does not exist")
        return pay(200, transaction.as_resource(sandbox.mchid))

    @app.post("/v3/pay/transactions/out-trade-no/{out_trade_no}/close")
    async def close_transaction(out_trade_no: str, request: Request) -> Response:
        _, refused = await merchant_body(request)
        if refused:
            return refused
        transaction = sandbox.transactions.get(out_trade_no)
        if transaction is None:
            return pay_error(404, "ORDER_NOT_EXIST", "order does not exist")
        if transaction.trade_state in ("SUCCESS", "REFUND"):
            return pay_error(400, "ORDERPAID", "the order has been paid")
        transaction.trade_state = "CLOSED"
        return pay(204)

    @app.post("/v3/refund/domestic/refunds")
    async def create_refund(request: Request) -> Response:
        raw, refused = await merchant_body(request)
        if refused:
            return refused
        try:
            body = orjson.loads(raw)
            out_refund_no = str(body["out_refund_no"])
            refund_fen = body["amount"]["refund"]
            total_fen = body["amount"]["total"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return pay_error(400, "PARAM_ERROR", "missing or malformed parameters")
        if out_refund_no in sandbox.refunds:
            return pay(200, sandbox.refunds[out_refund_no].as_resource(sandbox.mchid))
        transaction = sandbox.transactions.get(str(body.get("out_trade_no", "")))
        if transaction is None or transaction.transaction_id is None:
            return pay_error(404, "RESOURCE_NOT_EXISTS", "the order does not exist or was not paid")
        if total_fen != transaction.total_fen:
            return pay_error(400, "PARAM_ERROR", "amount.total does not match the order")
        if (
            not isinstance(refund_fen, int)
            or refund_fen <= 0
            or transaction.refunded_fen + refund_fen > total_fen
        ):
            return pay_error(400, "INVALID_REQUEST", "the refund exceeds what was paid")
        transaction.refunded_fen += refund_fen
        refund = Refund(
            out_refund_no=out_refund_no,
            refund_id="50000" + secrets.token_hex(12)[:24],
            out_trade_no=transaction.out_trade_no,
            transaction_id=transaction.transaction_id,
            refund_fen=refund_fen,
            total_fen=total_fen,
            notify_url=body.get("notify_url"),
        )
        sandbox.refunds[out_refund_no] = refund
        task = asyncio.get_running_loop().create_task(sandbox._complete_refund(refund))
        sandbox._tasks.add(task)
        task.add_done_callback(sandbox._tasks.discard)
        return pay(200, refund.as_resource(sandbox.mchid))

    @app.get("/v3/refund/domestic/refunds/{out_refund_no}")
    async def query_refund(out_refund_no: str, request: Request) -> Response:
        _, refused = await merchant_body(request)
        if refused:
            return refused
        refund = sandbox.refunds.get(out_refund_no)
        if refund is None:
            return pay_error(404, "RESOURCE_NOT_EXISTS", "refund does not exist")
        return pay(200, refund.as_resource(sandbox.mchid))

    return app


def _same_prepay(existing: Transaction, body: dict[str, Any]) -> bool:
    return (
        existing.total_fen == body["amount"]["total"]
        and existing.payer_openid == body["payer"]["openid"]
        and existing.description == str(body.get("description", ""))
        and existing.notify_url == body["notify_url"]
    )


def _self_signed_certificate(key: rsa.RSAPrivateKey, serial_hex: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ShopLoop WeChat Pay sandbox platform")])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int(serial_hex, 16))
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
