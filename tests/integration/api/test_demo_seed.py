"""The demo's staff, coupon campaigns, automation rules and experiment are created once, through the services."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select, update

from api.adapters import tables as t
from api.bootstrap import bootstrap
from api.container import Container
from api.demo_seed import DEMO_CAMPAIGNS, DEMO_EXPERIMENT_ID, seed_demo
from api.migrate import upgrade_database
from api.service_layer import automation_rules
from api.settings import ApiSettings
from shoploop.kafka import Topics
from streams.automations.demo import demo_rules

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    """A development order core on a fresh SQLite file, its outbox left unsent."""
    database_url = f"sqlite:///{tmp_path / 'api.db'}"
    upgrade_database(database_url)
    container = bootstrap(
        ApiSettings(
            environment="development",
            database_url=database_url,
            wechat_pay_private_key_path=tmp_path / "merchant.pem",
            outbox_relay_enabled=False,
        )
    )
    try:
        yield container
    finally:
        container.close()


def test_the_demo_seed_publishes_its_rules_through_the_outbox_and_runs_only_once(
    container: Container,
) -> None:
    created = seed_demo(container.uow, now=NOW, cart_delay_s=60)
    assert {f"campaign {campaign_id}" for campaign_id in DEMO_CAMPAIGNS} <= set(created)
    assert f"experiment {DEMO_EXPERIMENT_ID}" in created
    assert "rule demo-abandoned-cart" in created

    uow = container.uow()
    with uow:
        published = uow.session.execute(
            select(t.outbox.c.key).where(t.outbox.c.topic == Topics.AUTOMATION_RULES.name)
        ).scalars()
        rule_keys = set(published)
    assert {"demo-abandoned-cart", "demo-win-back", "demo-birthday", "demo-share-reward"} <= rule_keys

    assert seed_demo(container.uow, now=NOW, cart_delay_s=60) == []


def test_a_restarted_demo_brings_its_old_rules_up_to_date_and_keeps_the_marketers_own(
    container: Container,
) -> None:
    seed_demo(container.uow, now=NOW, cart_delay_s=600)  # a var/ from an older demo definition
    own = demo_rules()[0].model_dump(mode="json", exclude={"rule_id", "version"})
    automation_rules.save_rule(
        container.uow(),
        rule_id="marketer-cart-nudge",
        body={**own, "delay_s": 7200},
        staff_id="m",
        now=NOW,
    )
    automation_rules.retire_rule(container.uow(), rule_id="demo-birthday", staff_id="m", now=NOW)

    changed = seed_demo(container.uow, now=NOW, cart_delay_s=120)

    assert changed == ["rule demo-abandoned-cart updated"]
    rules = {rule["rule_id"]: rule for rule in automation_rules.list_rules(container.uow())}
    assert (rules["demo-abandoned-cart"]["version"], rules["demo-abandoned-cart"]["delay_s"]) == (2, 120)
    assert rules["marketer-cart-nudge"]["delay_s"] == 7200
    assert rules["demo-birthday"]["is_active"] is False
    uow = container.uow()
    with uow:
        published = uow.session.execute(
            select(t.outbox.c.payload).where(t.outbox.c.key == "demo-abandoned-cart")
        ).scalars()
        versions = sorted(orjson.loads(value)["version"] for value in published)
    assert versions == [1, 2]


def test_a_restarted_order_core_publishes_every_saved_rule_again_as_it_is(container: Container) -> None:
    seed_demo(container.uow, now=NOW)
    automation_rules.retire_rule(container.uow(), rule_id="demo-birthday", staff_id="m", now=NOW)
    saved = {rule["rule_id"]: rule for rule in automation_rules.list_rules(container.uow())}

    uow = container.uow()
    with uow:  # what the relay has sent to the broker, which then loses it
        uow.session.execute(update(t.outbox).values(published_at=NOW))
        uow.session.commit()

    assert automation_rules.republish_rules(container.uow()) == len(saved)

    uow = container.uow()
    with uow:
        unsent = uow.session.execute(
            select(t.outbox.c.key, t.outbox.c.payload).where(
                t.outbox.c.topic == Topics.AUTOMATION_RULES.name, t.outbox.c.published_at.is_(None)
            )
        ).all()
    again = {key: orjson.loads(payload) for key, payload in unsent}
    assert again == saved
    assert (again["demo-birthday"]["version"], again["demo-birthday"]["is_active"]) == (2, False)
