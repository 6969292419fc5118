"""Automation rules marketers configure in the back office, published to the streams.

Each save validates the rule with the streams' own model (`streams.automations.rules.Rule`), bumps its
version and writes it, in the same transaction, to the outbox routed to the compacted
`Topics.AUTOMATION_RULES` keyed by rule id, so the streams always end up with the latest version. Retiring
a rule publishes a version with `is_active: false` (a tombstone would lose the version history).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import insert, select, update

from api.adapters import tables as t
from api.domain.errors import InvalidRule, RuleNotFound
from api.service_layer.unit_of_work import UnitOfWork
from shoploop.kafka import Topics
from streams.automations.rules import Rule

RULES_TOPIC = Topics.AUTOMATION_RULES.name


def _current(uow: UnitOfWork, rule_id: str) -> dict[str, Any] | None:
    row = uow.session.execute(
        select(t.automation_rules.c.body).where(t.automation_rules.c.rule_id == rule_id)
    ).scalar_one_or_none()
    return orjson.loads(row) if row is not None else None


def save_rule(
    uow: UnitOfWork, *, rule_id: str, body: dict[str, Any], staff_id: str, now: datetime
) -> dict[str, Any]:
    """Validate, version and publish a rule; `body` is the rule without its id and version."""
    with uow:
        current = _current(uow, rule_id)
        version = (current["version"] if current else 0) + 1
        try:
            rule = Rule.model_validate({**body, "rule_id": rule_id, "version": version})
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InvalidRule(f"{where}: {first['msg']}") from error
        for field in (
            "coupon_campaign_id",
            "sharer_campaign_id",
            "friend_campaign_id",
            "second_level_campaign_id",
        ):
            campaign_id = getattr(rule, field)
            if campaign_id and uow.coupons.campaign(campaign_id) is None:
                raise InvalidRule(f"{field}: no such coupon campaign {campaign_id}")
        published = rule.model_dump(mode="json")
        value = orjson.dumps(published)
        values = {"version": version, "body": value.decode(), "updated_by": staff_id, "updated_at": now}
        if current is None:
            uow.session.execute(insert(t.automation_rules).values(rule_id=rule_id, **values))
        else:
            uow.session.execute(
                update(t.automation_rules).where(t.automation_rules.c.rule_id == rule_id).values(**values)
            )
        uow.publish(topic=RULES_TOPIC, name="AutomationRule", key=rule_id, value=value)
        uow.commit()
    return published


def retire_rule(uow: UnitOfWork, *, rule_id: str, staff_id: str, now: datetime) -> dict[str, Any]:
    with uow:
        current = _current(uow, rule_id)
    if current is None:
        raise RuleNotFound("no such rule")
    body: dict[str, Any] = {k: v for k, v in current.items() if k not in ("rule_id", "version")}
    return save_rule(uow, rule_id=rule_id, body={**body, "is_active": False}, staff_id=staff_id, now=now)


def republish_rules(uow: UnitOfWork) -> int:
    """Publish every saved rule again, as it is (same version), to the compacted topic; returns how many.

    The order core does this on start: a broker that lost its topics (the embedded one keeps them in RAM, so
    every `make demo` starts empty) gets the rule book back, and the streams, which read the topic from the
    start, act on it. On Kafka compaction keeps one copy per rule, and the streams take a version they have as
    the same rule."""
    statement = select(t.automation_rules.c.rule_id, t.automation_rules.c.body)
    with uow:
        saved: list[tuple[str, str]] = [
            (str(rule_id), str(body)) for rule_id, body in uow.session.execute(statement)
        ]
        for rule_id, body in saved:
            uow.publish(topic=RULES_TOPIC, name="AutomationRule", key=rule_id, value=body.encode())
        uow.commit()
    return len(saved)


def list_rules(uow: UnitOfWork) -> list[dict[str, Any]]:
    statement = select(t.automation_rules.c.body).order_by(t.automation_rules.c.rule_id)
    with uow:
        saved: list[str] = list(uow.session.execute(statement).scalars())
    return [orjson.loads(body) for body in saved]
