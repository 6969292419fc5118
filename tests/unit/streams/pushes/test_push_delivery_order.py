"""`deliver_trigger`: the writes around a send are ordered so that a crash at any point neither sends a
trigger twice nor leaves it without a record on the pushes topic."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.pushes.dispatch import deliver_trigger

TRIGGER = {
    "trigger_id": "t-lily-cart",
    "outcome": "send",
    "rule_id": "cart-30m",
    "rule_version": 2,
    "person_id": "p-lily",
    "user_id": "u-lily",
    "openid": "o16wA0b4lily",
    "template_id": "TPL_CART",
    "data": {"thing1": "茶杯"},
    "page": "pages/cart/index?push_id=t-lily-cart",
    "due_at": "2026-03-02T02:30:00+00:00",
    "fired_at": "2026-03-02T02:30:01+00:00",
}


class BrokerGone(Exception):
    """The process died, or the broker did not acknowledge: whatever was not acknowledged is lost."""


class Shop:
    """The ports around one push agent, with one history of what reached where, in order."""

    def __init__(self) -> None:
        self.history: list[str] = []
        self.durable_ledger: dict[str, Any] = {}  # what a restarted agent would restore
        self.records: list[dict[str, Any]] = []  # what the pushes topic holds
        self.wechat: list[str] = []
        self.publish_fails = False

    def ledger(self) -> Ledger:
        return Ledger(self)

    async def make_ledger_durable(self, ledger: Ledger) -> None:
        self.durable_ledger.update(ledger)
        self.history.append("ledger durable")

    async def publish_record(self, record: dict[str, Any]) -> None:
        if self.publish_fails:
            raise BrokerGone
        self.records.append(record)
        self.history.append(f"record {record['status']}")

    def send_subscribe_message(
        self, *, openid: str, template_id: str, data: dict[str, str], page: str | None = None
    ) -> None:
        self.wechat.append(openid)
        self.history.append("WeChat asked")


class Ledger(dict[str, Any]):
    def __init__(self, shop: Shop) -> None:
        super().__init__(shop.durable_ledger)
        self.shop = shop

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.shop.history.append(f"ledger {value['status']}")


def deliver(shop: Shop, ledger: Ledger, trigger: dict[str, Any] = TRIGGER) -> dict[str, Any] | None:
    return asyncio.run(
        deliver_trigger(
            trigger,
            ledger=ledger,
            make_ledger_durable=lambda: shop.make_ledger_durable(ledger),
            publish_record=shop.publish_record,
            sender=shop,
        )
    )


def test_the_claim_is_durable_before_wechat_is_asked_and_the_record_before_the_ledger_says_done() -> None:
    shop = Shop()
    result = deliver(shop, shop.ledger())
    assert result is not None and result["status"] == "sent"
    assert shop.history == ["ledger sending", "ledger durable", "WeChat asked", "record sent", "ledger sent"]
    assert shop.records[0]["trigger_id"] == "t-lily-cart" and shop.records[0]["rule_version"] == 2


def test_a_record_the_broker_never_took_leaves_the_claim_so_a_restart_records_it_and_sends_nothing() -> None:
    shop = Shop()
    shop.publish_fails = True
    ledger = shop.ledger()
    with pytest.raises(BrokerGone):
        deliver(shop, ledger)
    assert ledger["t-lily-cart"] == {"status": "sending"}  # never "sent" without its record

    shop.publish_fails = False
    restarted = shop.ledger()  # what the changelog restores
    result = deliver(shop, restarted)
    assert result == {"status": "failed", "errcode": None, "reason": "interrupted"}
    assert shop.wechat == ["o16wA0b4lily"]  # asked once, never again
    assert [r["reason"] for r in shop.records] == ["interrupted"]  # the push has its record


def test_a_trigger_the_ledger_has_decided_is_neither_sent_nor_recorded_again() -> None:
    shop = Shop()
    deliver(shop, shop.ledger())
    shop.durable_ledger.update({"t-lily-cart": {"status": "sent", "errcode": 0, "reason": ""}})
    assert deliver(shop, shop.ledger()) is None
    assert len(shop.wechat) == 1 and len(shop.records) == 1


def test_a_held_out_trigger_or_one_without_a_template_is_not_delivered() -> None:
    shop = Shop()
    assert deliver(shop, shop.ledger(), {**TRIGGER, "outcome": "holdout"}) is None
    assert deliver(shop, shop.ledger(), {**TRIGGER, "template_id": None}) is None
    assert shop.history == []
