from __future__ import annotations

from streams.pushes.dispatch import recipient_openid, send_trigger
from streams.pushes.recipients import RecipientErased


class Directory:
    def __init__(self, known: dict[str, str]) -> None:
        self.known = known

    def openid_for(self, user_id: str) -> str | None:
        return self.known.get(user_id)


class Outbox:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_subscribe_message(
        self, *, openid: str, template_id: str, data: dict[str, str], page: str | None = None
    ) -> None:
        self.sent.append(openid)


TRIGGER = {"trigger_id": "t-1", "user_id": "u-lily", "openid": "pn_0f3a", "template_id": "TPL_CART_REMINDER"}


def test_a_push_goes_to_the_real_openid_the_order_core_knows_not_to_the_events_pseudonym() -> None:
    outbox = Outbox()
    result = send_trigger(outbox, TRIGGER, Directory({"u-lily": "o16wA0b4lily"}))
    assert result["status"] == "sent"
    assert outbox.sent == ["o16wA0b4lily"]


def test_a_pseudonym_is_never_used_as_a_recipient() -> None:
    outbox = Outbox()
    result = send_trigger(outbox, TRIGGER, Directory({}))
    assert (result["status"], result["reason"]) == ("failed", "no_openid")
    assert outbox.sent == []


def test_an_event_that_carried_a_real_openid_is_addressed_when_the_directory_has_no_answer() -> None:
    assert recipient_openid({**TRIGGER, "openid": "o16wA0b4ming"}, Directory({})) == "o16wA0b4ming"


class ErasedDirectory:
    def openid_for(self, user_id: str) -> str | None:
        raise RecipientErased(user_id)


def test_a_shopper_who_erased_her_account_gets_nothing_even_when_the_event_carried_her_real_openid() -> None:
    outbox = Outbox()
    result = send_trigger(outbox, {**TRIGGER, "openid": "o16wA0b4lily"}, ErasedDirectory())
    assert (result["status"], result["reason"]) == ("failed", "recipient_erased")
    assert outbox.sent == []
