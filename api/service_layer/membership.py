"""Membership (会员体系): the points ledger, levels by spend, the member day, points redemption.

Every points change is a `points_entries` row with its reason and a unique `ref` (what caused it), written in
the same transaction as `member_accounts.points_balance += delta`, so the balance always equals the sum of
the ledger and nothing is applied twice. Spending is a conditional UPDATE (`WHERE points_balance >= cost`);
a refund reverses the order's points even when that leaves the balance negative (points already spent).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from api.adapters import tables as t
from api.adapters.db import insert_or_merge
from api.domain import events
from api.domain.errors import NotEnoughPoints, RewardNotFound
from api.domain.membership import (
    REGISTRATION_POINTS,
    MemberDay,
    level_for,
    member_discount_fen,
    next_level,
    points_for_payment,
)
from api.domain.orders import Order
from api.service_layer import account_review
from api.service_layer.coupons import grant_in
from api.service_layer.unit_of_work import UnitOfWork

MEMBER_DAY_ID = "default"


def _account(uow: UnitOfWork, user_id: str, *, now: datetime) -> dict[str, Any]:
    row = (
        uow.session.execute(select(t.member_accounts).where(t.member_accounts.c.user_id == user_id))
        .mappings()
        .first()
    )
    if row is None:
        uow.session.execute(
            insert(t.member_accounts).values(
                user_id=user_id, points_balance=0, spend_fen=0, level=level_for(0).name, updated_at=now
            )
        )
        return {"user_id": user_id, "points_balance": 0, "spend_fen": 0, "level": level_for(0).name}
    return dict(row)


def _has_entry(uow: UnitOfWork, ref: str) -> bool:
    found = uow.session.execute(select(t.points_entries.c.entry_id).where(t.points_entries.c.ref == ref))
    return found.first() is not None


def _write_entry(
    uow: UnitOfWork, *, user_id: str, delta: int, reason: str, ref: str, balance: int, now: datetime
) -> None:
    entry_id = f"pe{now.strftime('%Y%m%d%H%M%S')}{secrets.token_hex(8)}"
    uow.session.execute(
        insert(t.points_entries).values(
            entry_id=entry_id,
            user_id=user_id,
            delta=delta,
            reason=reason,
            ref=ref,
            balance_after=balance,
            created_at=now,
        )
    )
    uow.record(
        events.PointsChanged(
            key=user_id,
            occurred_at=now,
            entry_id=entry_id,
            user_id=user_id,
            delta=delta,
            reason=reason,
            ref=ref,
            balance=balance,
        )
    )


def _add_points(uow: UnitOfWork, *, user_id: str, delta: int, reason: str, ref: str, now: datetime) -> None:
    """Credit (or, for reversals, debit without a floor) inside the caller's unit of work; once per ref."""
    _account(uow, user_id, now=now)
    if delta == 0 or _has_entry(uow, ref):
        return
    c = t.member_accounts.c
    balance: int = uow.session.execute(
        update(t.member_accounts)
        .where(c.user_id == user_id)
        .values(points_balance=c.points_balance + delta, updated_at=now)
        .returning(c.points_balance)
    ).scalar_one()
    _write_entry(uow, user_id=user_id, delta=delta, reason=reason, ref=ref, balance=int(balance), now=now)


def _add_spend(uow: UnitOfWork, *, user_id: str, amount_fen: int, now: datetime) -> None:
    before = _account(uow, user_id, now=now)
    c = t.member_accounts.c
    spend = int(
        uow.session.execute(
            update(t.member_accounts)
            .where(c.user_id == user_id)
            .values(spend_fen=c.spend_fen + amount_fen, updated_at=now)
            .returning(c.spend_fen)
        ).scalar_one()
    )
    _level_reached(uow, user_id=user_id, level=before["level"], spend_fen=spend, now=now)


def _level_reached(uow: UnitOfWork, *, user_id: str, level: str, spend_fen: int, now: datetime) -> None:
    """Move the account to the level its new spend reaches, if that is not its level (`level`) already."""
    reached = level_for(spend_fen).name
    if reached != level:
        c = t.member_accounts.c
        uow.session.execute(update(t.member_accounts).where(c.user_id == user_id).values(level=reached))
        uow.record(
            events.MemberLevelChanged(
                key=user_id,
                occurred_at=now,
                user_id=user_id,
                level=reached,
                previous_level=level,
                spend_fen=spend_fen,
            )
        )


# -- hooks called inside other use cases' units of work ---------------------------------------------------
def on_registration(uow: UnitOfWork, *, user_id: str, now: datetime) -> None:
    _add_points(
        uow,
        user_id=user_id,
        delta=REGISTRATION_POINTS,
        reason="registration",
        ref=f"registration:{user_id}",
        now=now,
    )


def on_order_paid(uow: UnitOfWork, order: Order, *, now: datetime) -> None:
    """Add the order's spend and points in one upsert of the account, then its ledger entry. Called once per
    order (the order's paid transition, under its row lock); the unique ref would refuse a second entry."""
    points = points_for_payment(order.total_fen, member_day=member_day(uow), now=now)
    c = t.member_accounts.c
    account = (
        uow.session.execute(
            insert_or_merge(uow.session, t.member_accounts)
            .values(
                user_id=order.user_id,
                points_balance=points,
                spend_fen=order.total_fen,
                level=level_for(0).name,
                updated_at=now,
            )
            .on_conflict_do_update(
                index_elements=["user_id"],
                set_={
                    "points_balance": c.points_balance + points,
                    "spend_fen": c.spend_fen + order.total_fen,
                    "updated_at": now,
                },
            )
            .returning(c.points_balance, c.spend_fen, c.level)
        )
        .mappings()
        .one()
    )
    _level_reached(
        uow, user_id=order.user_id, level=account["level"], spend_fen=int(account["spend_fen"]), now=now
    )
    if points:
        _write_entry(
            uow,
            user_id=order.user_id,
            delta=points,
            reason="order_paid",
            ref=f"order_paid:{order.order_id}",
            balance=int(account["points_balance"]),
            now=now,
        )


def on_order_refunded(
    uow: UnitOfWork, order: Order, *, refund_id: str, refunded_fen: int, now: datetime
) -> None:
    """Take back the points the order earned (in proportion to the refund) and its spend."""
    earned = uow.session.execute(
        select(t.points_entries.c.delta).where(t.points_entries.c.ref == f"order_paid:{order.order_id}")
    ).scalar_one_or_none()
    _add_spend(uow, user_id=order.user_id, amount_fen=-refunded_fen, now=now)
    if earned:
        taken = -(int(earned) * refunded_fen // max(order.total_fen, 1))
        _add_points(
            uow,
            user_id=order.user_id,
            delta=taken,
            reason="order_refunded",
            ref=f"refund:{refund_id}",
            now=now,
        )


def checkout_discount(uow: UnitOfWork, *, user_id: str, amount_fen: int, now: datetime) -> int:
    spend = uow.session.execute(
        select(t.member_accounts.c.spend_fen).where(t.member_accounts.c.user_id == user_id)
    ).scalar_one_or_none()
    return member_discount_fen(amount_fen, spend_fen=int(spend or 0), member_day=member_day(uow), now=now)


# -- member day ---------------------------------------------------------------------------------------------
def member_day(uow: UnitOfWork) -> MemberDay | None:
    row = uow.session.execute(select(t.member_day).where(t.member_day.c.config_id == MEMBER_DAY_ID)).first()
    if row is None:
        return None
    return MemberDay(
        day_of_month=row.day_of_month,
        extra_discount_percent=row.extra_discount_percent,
        points_multiplier=row.points_multiplier,
        is_active=row.is_active,
    )


def configure_member_day(uow: UnitOfWork, config: MemberDay, *, staff_id: str, now: datetime) -> MemberDay:
    values = {
        "day_of_month": config.day_of_month,
        "extra_discount_percent": config.extra_discount_percent,
        "points_multiplier": config.points_multiplier,
        "is_active": config.is_active,
        "updated_by": staff_id,
        "updated_at": now,
    }
    with uow:
        changed = uow.session.execute(
            update(t.member_day).where(t.member_day.c.config_id == MEMBER_DAY_ID).values(**values)
        )
        if changed.rowcount == 0:  # type: ignore[attr-defined]
            uow.session.execute(insert(t.member_day).values(config_id=MEMBER_DAY_ID, **values))
        uow.record(
            events.MemberDayConfigured(
                key=MEMBER_DAY_ID,
                occurred_at=now,
                day_of_month=config.day_of_month,
                extra_discount_percent=config.extra_discount_percent,
                points_multiplier=config.points_multiplier,
                is_active=config.is_active,
                staff_id=staff_id,
            )
        )
        uow.commit()
    return config


# -- what the shopper sees ----------------------------------------------------------------------------------
def membership(uow: UnitOfWork, *, user_id: str, now: datetime) -> dict[str, Any]:
    with uow:
        account = _account(uow, user_id, now=now)
        day = member_day(uow)
        entries = [
            dict(row)
            for row in uow.session.execute(
                select(t.points_entries)
                .where(t.points_entries.c.user_id == user_id)
                .order_by(t.points_entries.c.created_at.desc(), t.points_entries.c.entry_id.desc())
                .limit(100)
            ).mappings()
        ]
        uow.commit()
    level = level_for(account["spend_fen"])
    upcoming = next_level(account["spend_fen"])
    return {
        "points_balance": account["points_balance"],
        "spend_fen": account["spend_fen"],
        "level": level.name,
        "level_discount_percent": level.discount_percent,
        "next_level": upcoming.name if upcoming else None,
        "next_level_spend_fen": upcoming.min_spend_fen if upcoming else None,
        "member_day": None
        if day is None
        else {
            "day_of_month": day.day_of_month,
            "extra_discount_percent": day.extra_discount_percent,
            "points_multiplier": day.points_multiplier,
            "is_active": day.is_active,
            "is_today": day.is_today(now),
        },
        "entries": entries,
    }


# -- rewards ------------------------------------------------------------------------------------------------
def create_reward(
    uow: UnitOfWork,
    *,
    title: str,
    kind: str,
    cost_points: int,
    campaign_id: str | None,
    sku_id: str | None,
    now: datetime,
) -> str:
    reward_id = "rw" + secrets.token_hex(8)
    with uow:
        if kind == "coupon" and (campaign_id is None or uow.coupons.campaign(campaign_id) is None):
            raise RewardNotFound("a coupon reward needs an existing coupon campaign")
        if kind == "gift" and (sku_id is None or uow.inventory.sku(sku_id) is None):
            raise RewardNotFound("a gift reward needs an existing SKU")
        uow.session.execute(
            insert(t.point_rewards).values(
                reward_id=reward_id,
                title=title,
                kind=kind,
                cost_points=cost_points,
                campaign_id=campaign_id if kind == "coupon" else None,
                sku_id=sku_id if kind == "gift" else None,
                is_active=True,
                created_at=now,
            )
        )
        uow.commit()
    return reward_id


def list_rewards(uow: UnitOfWork) -> list[dict[str, Any]]:
    with uow:
        return [
            dict(row)
            for row in uow.session.execute(
                select(t.point_rewards)
                .where(t.point_rewards.c.is_active.is_(True))
                .order_by(t.point_rewards.c.cost_points)
            ).mappings()
        ]


def redeem(uow: UnitOfWork, *, user_id: str, reward_id: str, now: datetime) -> dict[str, Any]:
    """Spend points on a coupon or a gift; never below zero, never by a frozen account."""
    with uow:
        account_review.ensure_not_frozen(uow, user_id)
        reward = (
            uow.session.execute(
                select(t.point_rewards).where(
                    t.point_rewards.c.reward_id == reward_id, t.point_rewards.c.is_active.is_(True)
                )
            )
            .mappings()
            .first()
        )
        if reward is None:
            raise RewardNotFound("no such reward")
        _account(uow, user_id, now=now)
        cost = int(reward["cost_points"])
        c = t.member_accounts.c
        balance = uow.session.execute(
            update(t.member_accounts)
            .where(c.user_id == user_id, c.points_balance >= cost)
            .values(points_balance=c.points_balance - cost, updated_at=now)
            .returning(c.points_balance)
        ).scalar_one_or_none()
        if balance is None:
            raise NotEnoughPoints(f"this reward needs {cost} points")
        redemption_id = "rd" + secrets.token_hex(10)
        _write_entry(
            uow,
            user_id=user_id,
            delta=-cost,
            reason="redeemed",
            ref=f"redeem:{redemption_id}",
            balance=int(balance),
            now=now,
        )
        coupon_id = None
        if reward["kind"] == "coupon":
            coupon_id = grant_in(
                uow,
                campaign_id=reward["campaign_id"],
                user_id=user_id,
                source="points",
                claim_ref=f"points:{redemption_id}",
                now=now,
            )
        else:
            uow.inventory.reserve(reward["sku_id"], 1)
        uow.session.execute(
            insert(t.point_redemptions).values(
                redemption_id=redemption_id,
                user_id=user_id,
                reward_id=reward_id,
                cost_points=cost,
                coupon_id=coupon_id,
                status="granted" if coupon_id else "to_ship",
                created_at=now,
            )
        )
        uow.record(
            events.PointsRedeemed(
                key=user_id,
                occurred_at=now,
                redemption_id=redemption_id,
                user_id=user_id,
                reward_id=reward_id,
                kind=reward["kind"],
                cost_points=cost,
                coupon_id=coupon_id,
            )
        )
        uow.commit()
    return {
        "redemption_id": redemption_id,
        "reward_id": reward_id,
        "kind": reward["kind"],
        "cost_points": cost,
        "coupon_id": coupon_id,
        "points_balance": int(balance),
    }
