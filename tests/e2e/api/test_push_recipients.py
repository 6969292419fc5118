"""The streams' push sender learns a shopper's real openid from the order core, and nobody else can."""

from __future__ import annotations

import httpx

from streams.pushes.recipients import OrderCoreRecipients
from tests.e2e.api.conftest import MiniProgram, Stack

INTERNAL_TOKEN = "dev-internal-token-not-for-production"


def test_the_push_sender_gets_the_real_openid_of_a_shopper_by_user_id(
    stack: Stack, shopper: MiniProgram
) -> None:
    recipients = OrderCoreRecipients(stack.api_url, INTERNAL_TOKEN)
    assert recipients.openid_for(shopper.user_id) == shopper.openid
    assert recipients.openid_for("u-nobody") is None


def test_the_recipients_endpoint_refuses_shoppers_and_anonymous_callers(
    stack: Stack, shopper: MiniProgram
) -> None:
    path = f"/internal/v1/recipients/{shopper.user_id}"
    assert httpx.get(stack.api_url + path).status_code == 401
    assert shopper.api.get(path).status_code == 401
    assert OrderCoreRecipients(stack.api_url, "a-guessed-token").openid_for(shopper.user_id) is None
