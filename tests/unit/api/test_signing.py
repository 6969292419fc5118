"""WeChat Pay v3 signatures and AEAD resources round-trip and refuse tampering."""

from __future__ import annotations

import pytest

from api.adapters.field_crypto import FieldCipher
from api.wechat import signing

KEY = signing.generate_private_key()


def test_an_authorization_header_verifies_and_a_changed_body_does_not() -> None:
    header = signing.authorization_header(
        key=KEY, mchid="1900000109", serial_no="5A", method="POST", url_path="/v3/x", body=b"{}", timestamp=1
    )
    auth = signing.parse_authorization(header)
    message = signing.request_message("POST", "/v3/x", auth.timestamp, auth.nonce_str, b"{}")
    signing.verify(KEY.public_key(), message, auth.signature)
    with pytest.raises(signing.SignatureInvalid):
        signing.verify(KEY.public_key(), message.replace(b"{}", b"[]"), auth.signature)


def test_an_encrypted_resource_decrypts_with_the_apiv3_key_only() -> None:
    resource = signing.encrypt_resource(b"k" * 32, {"out_trade_no": "SL1"}, "transaction")
    assert signing.decrypt_resource(b"k" * 32, resource) == b'{"out_trade_no":"SL1"}'
    with pytest.raises(signing.SignatureInvalid):
        signing.decrypt_resource(b"j" * 32, resource)


def test_an_address_field_cannot_be_moved_to_another_row_and_old_keys_still_decrypt() -> None:
    old = FieldCipher({"k1": b"1" * 32}, "k1")
    sealed = old.encrypt("13800138000", associated_data="a1|u1|phone")
    with pytest.raises(ValueError):
        old.decrypt(sealed, key_id="k1", associated_data="a2|u2|phone")
    rotated = FieldCipher({"k1": b"1" * 32, "k2": b"2" * 32}, "k2")
    assert rotated.decrypt(sealed, key_id="k1", associated_data="a1|u1|phone") == "13800138000"
