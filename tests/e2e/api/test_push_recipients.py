"""The streams' push sender learns a shopper's real openid from the order core, and nobody else can."""

from __future__ import annotations

import httpx

from streams.pushes.dispatch import send_trigger
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


class WeChat:
    """The subscribe-message port: records who was messaged."""

    def __init__(self) -> None:
        self.messaged: list[str] = []

    def send_subscribe_message(
        self, *, openid: str, template_id: str, data: dict[str, str], page: str | None = None
    ) -> None:
        self.messaged.append(openid)


def test_the_recipients_endpoint_answers_410_account_erased_for_a_shopper_who_closed_her_account(
    stack: Stack, shopper: MiniProgram
) -> None:
    assert shopper.api.delete("/v1/account").status_code == 200
    answer = httpx.get(
        f"{stack.api_url}/internal/v1/recipients/{shopper.user_id}",
        headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"},
    )
    assert answer.status_code == 410
    assert answer.json()["code"] == "account_erased"
    assert "erased:" not in answer.text  # her placeholder is never handed out as an address


def test_a_reminder_already_fired_for_a_shopper_who_then_closes_her_account_is_recorded_as_not_sent(
    stack: Stack, shopper: MiniProgram
) -> None:
    recipients, wechat = OrderCoreRecipients(stack.api_url, INTERNAL_TOKEN), WeChat()
    reminder = {"trigger_id": "t-1", "user_id": shopper.user_id, "template_id": "TPL_CART_REMINDER"}
    assert send_trigger(wechat, reminder, recipients)["status"] == "sent"  # her openid was looked up once

    assert shopper.api.delete("/v1/account").status_code == 200
    # Even a trigger whose event carried her real openid is not sent to it.
    second = send_trigger(wechat, {**reminder, "trigger_id": "t-2", "openid": shopper.openid}, recipients)

    assert (second["status"], second["reason"]) == ("failed", "recipient_erased")
    assert wechat.messaged == [shopper.openid]
