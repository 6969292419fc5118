"""The back-office review queue for accounts the streams flag as abnormal (防刷单).

A flag freezes the account at once (no orders, coupon claims, points redemptions or bargains) until staff
review it: confirming keeps it frozen, dismissing the last open flag unfreezes it. Staff can also freeze
and unfreeze by hand. Every step is written to the audit log and published as an event.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from api.adapters import tables as t
from api.domain import events
from api.domain.errors import AccountFrozen, AccountNotFound, FlagNotFound, InvalidTransition
from api.service_layer.unit_of_work import UnitOfWork

STREAMS_ACTOR = "streams"
FROZEN_MESSAGE = "this account is under review; please contact customer service"
Decision = Literal["confirm", "dismiss"]


@dataclass(frozen=True)
class AccountFlag:
    """The streams' flag (streams/engine/core.py `_flag`): stable flag id, account, reason, evidence."""

    flag_id: str
    user_id: str
    reason: str
    flagged_at: datetime
    evidence: dict[str, Any]


def is_frozen(uow: UnitOfWork, user_id: str) -> bool:
    frozen = uow.session.execute(
        select(t.account_freezes.c.is_frozen).where(t.account_freezes.c.user_id == user_id)
    ).scalar_one_or_none()
    return bool(frozen)


def ensure_not_frozen(uow: UnitOfWork, user_id: str) -> None:
    """Called inside the use case's unit of work, before anything is written."""
    if is_frozen(uow, user_id):
        raise AccountFrozen(FROZEN_MESSAGE)


def _audit(uow: UnitOfWork, *, user_id: str, action: str, actor: str, note: str, now: datetime) -> None:
    uow.session.execute(
        insert(t.account_audit_log).values(
            # Time-ordered, so that entries written in one transaction keep their order.
            entry_id=f"al{time.time_ns():019d}{secrets.token_hex(4)}",
            user_id=user_id,
            action=action,
            actor=actor[:64],
            note=note[:256],
            created_at=now,
        )
    )


def _set_frozen(
    uow: UnitOfWork, *, user_id: str, frozen: bool, reason: str, actor: str, now: datetime
) -> None:
    values = {"is_frozen": frozen, "reason": reason[:128], "updated_by": actor[:40], "updated_at": now}
    changed = uow.session.execute(
        update(t.account_freezes).where(t.account_freezes.c.user_id == user_id).values(**values)
    )
    if changed.rowcount == 0:  # type: ignore[attr-defined]
        uow.session.execute(insert(t.account_freezes).values(user_id=user_id, **values))
    _audit(uow, user_id=user_id, action="frozen" if frozen else "unfrozen", actor=actor, note=reason, now=now)
    event_type = events.AccountFrozenEvent if frozen else events.AccountUnfrozen
    uow.record(event_type(key=user_id, occurred_at=now, user_id=user_id, reason=reason[:128], actor=actor))


def record_flag(uow: UnitOfWork, flag: AccountFlag, *, now: datetime) -> bool:
    """Queue a flag for review and freeze the account; a flag already received changes nothing."""
    with uow:
        known = uow.session.execute(
            select(t.account_flags.c.flag_id).where(t.account_flags.c.flag_id == flag.flag_id)
        ).first()
        if known is not None:
            return False
        uow.session.execute(
            insert(t.account_flags).values(
                flag_id=flag.flag_id,
                user_id=flag.user_id,
                reason=flag.reason[:32],
                evidence=orjson.dumps(flag.evidence).decode(),
                flagged_at=flag.flagged_at,
                received_at=now,
                status="open",
            )
        )
        _audit(uow, user_id=flag.user_id, action="flagged", actor=STREAMS_ACTOR, note=flag.reason, now=now)
        uow.record(
            events.AccountFlagged(
                key=flag.user_id,
                occurred_at=now,
                flag_id=flag.flag_id,
                user_id=flag.user_id,
                reason=flag.reason[:32],
            )
        )
        if not is_frozen(uow, flag.user_id):
            _set_frozen(
                uow,
                user_id=flag.user_id,
                frozen=True,
                reason=f"flagged: {flag.reason}",
                actor=STREAMS_ACTOR,
                now=now,
            )
        try:
            uow.commit()
        except IntegrityError:
            return False  # the same flag, delivered twice at once: the other delivery recorded it
    return True


def list_flags(uow: UnitOfWork, *, status: str | None = "open", limit: int = 200) -> list[dict[str, Any]]:
    with uow:
        statement = select(t.account_flags).order_by(t.account_flags.c.received_at).limit(limit)
        if status:
            statement = statement.where(t.account_flags.c.status == status)
        flagged = [dict(row) for row in uow.session.execute(statement).mappings()]
        frozen = {
            row.user_id
            for row in uow.session.execute(
                select(t.account_freezes.c.user_id).where(t.account_freezes.c.is_frozen.is_(True))
            )
        }
    for flag in flagged:
        flag["evidence"] = orjson.loads(flag["evidence"])
        flag["is_frozen"] = flag["user_id"] in frozen
    return flagged


def _require_account(uow: UnitOfWork, user_id: str) -> None:
    found = uow.session.execute(select(t.users.c.user_id).where(t.users.c.user_id == user_id)).first()
    if found is None:
        raise AccountNotFound("no such account")


def freeze(uow: UnitOfWork, *, user_id: str, actor: str, reason: str, now: datetime) -> None:
    with uow:
        _require_account(uow, user_id)
        if is_frozen(uow, user_id):
            return
        _set_frozen(uow, user_id=user_id, frozen=True, reason=reason, actor=actor, now=now)
        uow.commit()


def unfreeze(uow: UnitOfWork, *, user_id: str, actor: str, reason: str, now: datetime) -> None:
    with uow:
        _require_account(uow, user_id)
        if not is_frozen(uow, user_id):
            return
        _set_frozen(uow, user_id=user_id, frozen=False, reason=reason, actor=actor, now=now)
        uow.commit()


def review_flag(
    uow: UnitOfWork, *, flag_id: str, decision: Decision, actor: str, note: str, now: datetime
) -> dict[str, Any]:
    """Confirm (the account stays frozen) or dismiss (unfrozen once no flag on it is open or confirmed)."""
    with uow:
        flag = (
            uow.session.execute(select(t.account_flags).where(t.account_flags.c.flag_id == flag_id))
            .mappings()
            .first()
        )
        if flag is None:
            raise FlagNotFound("no such flag")
        if flag["status"] != "open":
            raise InvalidTransition(f"the flag was already {flag['status']}")
        status = "confirmed" if decision == "confirm" else "dismissed"
        uow.session.execute(
            update(t.account_flags)
            .where(t.account_flags.c.flag_id == flag_id)
            .values(status=status, reviewed_by=actor[:40], reviewed_at=now)
        )
        user_id = flag["user_id"]
        _audit(uow, user_id=user_id, action=status, actor=actor, note=note or flag["reason"], now=now)
        uow.record(
            events.AccountFlagReviewed(
                key=user_id, occurred_at=now, flag_id=flag_id, user_id=user_id, decision=status, actor=actor
            )
        )
        still_held = uow.session.execute(
            select(t.account_flags.c.flag_id).where(
                t.account_flags.c.user_id == user_id,
                t.account_flags.c.flag_id != flag_id,
                t.account_flags.c.status.in_(("open", "confirmed")),
            )
        ).first()
        if status == "dismissed" and still_held is None and is_frozen(uow, user_id):
            _set_frozen(
                uow, user_id=user_id, frozen=False, reason=f"flag dismissed: {note}", actor=actor, now=now
            )
        if status == "confirmed" and not is_frozen(uow, user_id):
            _set_frozen(
                uow, user_id=user_id, frozen=True, reason=f"flag confirmed: {note}", actor=actor, now=now
            )
        uow.commit()
        frozen = is_frozen(uow, user_id)
    return {"flag_id": flag_id, "user_id": user_id, "status": status, "is_frozen": frozen}


def audit_log(uow: UnitOfWork, *, user_id: str) -> list[dict[str, Any]]:
    with uow:
        return [
            dict(row)
            for row in uow.session.execute(
                select(t.account_audit_log)
                .where(t.account_audit_log.c.user_id == user_id)
                .order_by(t.account_audit_log.c.created_at, t.account_audit_log.c.entry_id)
            ).mappings()
        ]
