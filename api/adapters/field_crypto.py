"""AES-256-GCM for personal data at rest, with key ids so that keys can be rotated."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class UnknownKey(ValueError):
    pass


class FieldCipher:
    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        for key_id, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"address key {key_id!r} must be 32 bytes (base64 of 32 random bytes)")
        if active_key_id not in keys:
            raise UnknownKey(f"active key {active_key_id!r} is not among the configured keys")
        self._keys = dict(keys)
        self.active_key_id = active_key_id

    def encrypt(self, plaintext: str, *, associated_data: str) -> str:
        """base64(nonce ‖ ciphertext ‖ tag) under the active key; the row id goes in as associated data,
        so a ciphertext copied into another row does not decrypt."""
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self._keys[self.active_key_id]).encrypt(
            nonce, plaintext.encode(), associated_data.encode()
        )
        return base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, *, key_id: str, associated_data: str) -> str:
        if key_id not in self._keys:
            raise UnknownKey(f"no key {key_id!r} to decrypt with")
        raw = base64.b64decode(token)
        try:
            return AESGCM(self._keys[key_id]).decrypt(raw[:12], raw[12:], associated_data.encode()).decode()
        except InvalidTag as error:
            raise ValueError("ciphertext was tampered with or belongs to another row") from error
