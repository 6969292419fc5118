"""WeChat Pay v3 cryptography: SHA256withRSA request/response signatures and AEAD_AES_256_GCM resources."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEMA = "WECHATPAY2-SHA256-RSA2048"


class SignatureInvalid(ValueError):
    pass


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("WeChat Pay keys are RSA keys")
    return key


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("WeChat Pay keys are RSA keys")
    return key


def load_or_create_private_key(path: Path, *, may_create: bool) -> rsa.RSAPrivateKey:
    """The merchant key from its PEM file; in development a missing file is generated once."""
    if not path.exists():
        if not may_create:
            raise FileNotFoundError(f"merchant private key {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(private_key_pem(generate_private_key()))
        path.chmod(0o600)
    return load_private_key(path.read_bytes())


def sign(key: rsa.RSAPrivateKey, message: str | bytes) -> str:
    data = message.encode() if isinstance(message, str) else message
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(key: rsa.RSAPublicKey, message: str | bytes, signature: str) -> None:
    data = message.encode() if isinstance(message, str) else message
    try:
        key.verify(base64.b64decode(signature, validate=True), data, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as error:
        raise SignatureInvalid("signature does not verify") from error


def request_message(method: str, url_path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return b"%s\n%s\n%s\n%s\n%s\n" % (
        method.upper().encode(),
        url_path.encode(),
        timestamp.encode(),
        nonce.encode(),
        body,
    )


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return b"%s\n%s\n%s\n" % (timestamp.encode(), nonce.encode(), body)


def new_nonce() -> str:
    return secrets.token_hex(16).upper()


def authorization_header(
    *,
    key: rsa.RSAPrivateKey,
    mchid: str,
    serial_no: str,
    method: str,
    url_path: str,
    body: bytes,
    timestamp: int,
) -> str:
    nonce = new_nonce()
    signature = sign(key, request_message(method, url_path, str(timestamp), nonce, body))
    return (
        f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


@dataclass(frozen=True)
class Authorization:
    mchid: str
    nonce_str: str
    signature: str
    timestamp: str
    serial_no: str


_PAIR = re.compile(r'(\w+)="([^"]*)"')


def parse_authorization(header: str) -> Authorization:
    schema, _, rest = header.partition(" ")
    if schema != SCHEMA:
        raise SignatureInvalid("unknown authorization schema")
    pairs = dict(_PAIR.findall(rest))
    try:
        return Authorization(
            mchid=pairs["mchid"],
            nonce_str=pairs["nonce_str"],
            signature=pairs["signature"],
            timestamp=pairs["timestamp"],
            serial_no=pairs["serial_no"],
        )
    except KeyError as error:
        raise SignatureInvalid(f"authorization lacks {error.args[0]}") from error


def pay_sign(key: rsa.RSAPrivateKey, *, appid: str, timestamp: str, nonce: str, package: str) -> str:
    """The paySign for wx.requestPayment: SHA256withRSA over appId, timeStamp, nonceStr, package."""
    return sign(key, f"{appid}\n{timestamp}\n{nonce}\n{package}\n")


def encrypt_resource(
    apiv3_key: bytes, plaintext: dict[str, Any] | bytes, associated_data: str
) -> dict[str, str]:
    nonce = secrets.token_hex(6)
    data = plaintext if isinstance(plaintext, bytes) else orjson.dumps(plaintext)
    ciphertext = AESGCM(apiv3_key).encrypt(nonce.encode(), data, associated_data.encode())
    return {
        "original_type": associated_data,
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def decrypt_resource(apiv3_key: bytes, resource: dict[str, Any]) -> bytes:
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise SignatureInvalid("unsupported resource algorithm")
    try:
        return AESGCM(apiv3_key).decrypt(
            str(resource["nonce"]).encode(),
            base64.b64decode(str(resource["ciphertext"])),
            str(resource.get("associated_data") or "").encode(),
        )
    except (InvalidTag, KeyError, ValueError) as error:
        raise SignatureInvalid("resource does not decrypt") from error
