"""Settings refuse development placeholder secrets outside development."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from api.settings import ApiSettings


def test_development_defaults_work_in_development() -> None:
    assert ApiSettings(environment="development").wechat_pay_apiv3_key.get_secret_value().startswith("dev-")


def test_production_refuses_the_development_placeholder_secrets() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        ApiSettings(environment="production")


def test_production_accepts_real_secrets(tmp_path: Path) -> None:
    settings = ApiSettings(
        environment="production",
        wechat_app_secret=SecretStr("a" * 32),
        wechat_pay_apiv3_key=SecretStr("k" * 32),
        wechat_pay_merchant_serial="5A1B2C3D",
        wechat_pay_private_key_path=tmp_path / "merchant.pem",
        address_keys={"2026-06": SecretStr("c2VjcmV0LWtleS0wMDAwMDAwMDAwMDAwMDAwMDAwMDA=")},
        address_active_key_id="2026-06",
        internal_token=SecretStr("a-service-token-of-our-own"),
    )
    assert settings.environment == "production"


def test_production_refuses_the_development_service_token(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="internal_token"):
        ApiSettings(
            environment="production",
            wechat_app_secret=SecretStr("a" * 32),
            wechat_pay_apiv3_key=SecretStr("k" * 32),
            wechat_pay_merchant_serial="5A1B2C3D",
            wechat_pay_private_key_path=tmp_path / "merchant.pem",
            address_keys={"2026-06": SecretStr("c2VjcmV0LWtleS0wMDAwMDAwMDAwMDAwMDAwMDAwMDA=")},
            address_active_key_id="2026-06",
        )
