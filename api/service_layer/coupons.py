"""Coupon campaigns (back office), claims (owner-only, once) and reward grants from the streams."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select
from sqlalchemy.exc import IntegrityError

from api.adapters import tables as t
from api.domain import events
from api.domain.coupons import Coupon, CouponOffer, CouponStatus, best_coupon
from api.domain.errors import CouponAlreadyClaimed, CouponNotFound, CouponSoldOut
from api.service_layer import account_review
from api.service_layer.unit_of_work import UnitOfWork


def create_campaign(
    uow: UnitOfWork,
    *,
    title: str,
    offer: CouponOffer,
    total_quantity: int,
    valid_from: datetime,
    valid_until: datetime,
    is_claimable: bool = True,
    campaign_id: str | None = None,
) -> str:
    campaign_id = campaign_id or "cc" + secrets.token_hex(8)
    with uow:
        uow.session.execute(
            insert(t.coupon_campaigns).values(
                campaign_id=campaign_id,
                title=title,
                threshold_fen=offer.threshold_fen,
                discount_fen=offer.discount_fen,
                percent_off=offer.percent_off,
                max_discount_fen=offer.max_discount_fen,
                total_quantity=total_quantity,
                claimed_count=0,
                valid_from=valid_from,
                valid_until=valid_until,
                is_claimable=is_claimable,
            )
        )
        uow.commit()
    return campaign_id


def claimable_campaigns(uow: UnitOfWork, *, now: datetime) -> list[dict[str, Any]]:
    c = t.coupon_campaigns.c
    with uow:
        return [
            dict(r)
            for r in uow.session.execute(
                select(t.coupon_campaigns)
                .where(
                    and_(c.is_claimable.is_(True), c.valid_until > now, c.claimed_count < c.total_quantity)
                )
                .order_by(c.valid_until)
            ).mappings()
        ]


def _grant(
    uow: UnitOfWork,
    *,
    campaign_id: str,
    user_id: str,
    source: str,
    claim_ref: str,
    now: datetime,
    claimable_only: bool,
) -> str:
    campaign = uow.coupons.campaign(campaign_id)
    if campaign is None or (claimable_only and not campaign["is_claimable"]):
        raise CouponNotFound("no such coupon campaign")
    if uow.coupons.take_from_campaign(campaign_id, now) is None:
        raise CouponSoldOut("this coupon is no longer available")
    coupon_id = "cp" + secrets.token_hex(10)
    uow.coupons.add(
        coupon_id=coupon_id,
        campaign_id=campaign_id,
        user_id=user_id,
        source=source,
        claim_ref=claim_ref,
        now=now,
    )
    uow.record(
        events.CouponGranted(
            key=user_id,
            occurred_at=now,
            coupon_id=coupon_id,
            campaign_id=campaign_id,
            user_id=user_id,
            source=source,
        )
    )
    return coupon_id


def grant_in(
    uow: UnitOfWork, *, campaign_id: str, user_id: str, source: str, claim_ref: str, now: datetime
) -> str:
    """Grant a coupon of any campaign inside the caller's unit of work (points redemption)."""
    return _grant(
        uow,
        campaign_id=campaign_id,
        user_id=user_id,
        source=source,
        claim_ref=claim_ref,
        now=now,
        claimable_only=False,
    )


def claim_coupon(uow: UnitOfWork, *, user_id: str, campaign_id: str, now: datetime) -> str:
    """One claim per shopper per campaign, enforced by a unique claim reference."""
    claim_ref = f"claim:{campaign_id}:{user_id}"
    with uow:
        account_review.ensure_not_frozen(uow, user_id)
        if uow.coupons.by_claim_ref(claim_ref):
            raise CouponAlreadyClaimed("you already have this coupon")
        coupon_id = _grant(
            uow,
            campaign_id=campaign_id,
            user_id=user_id,
            source="claim",
            claim_ref=claim_ref,
            now=now,
            claimable_only=True,
        )
        try:
            uow.commit()
        except IntegrityError as error:
            raise CouponAlreadyClaimed("you already have this coupon") from error
    return coupon_id


# The coupon's source names what earned it, by the role the streams gave the reward; the warehouse counts a
# sharer's referral rewards by it (fct_referrals).
REWARD_SOURCES = {
    "sharer": "referral_sharer",
    "friend": "referral_friend",
    "second_level": "referral_second_level",
    "push_gift": "push_gift",
}


def reward_source(role: str | None) -> str:
    """The coupon source for a reward of this role; "reward" for a role this order core does not know."""
    return REWARD_SOURCES.get(role or "", "reward")


def grant_reward_coupon(
    uow: UnitOfWork,
    *,
    command_id: str,
    user_id: str,
    campaign_id: str,
    now: datetime,
    role: str | None = None,
) -> str:
    """Reward commands from the streams (referral and push coupons) arrive at least once; the command id makes
    them idempotent."""
    claim_ref = f"reward:{command_id}"
    with uow:
        existing = uow.coupons.by_claim_ref(claim_ref)
        if existing:
            return existing
        coupon_id = _grant(
            uow,
            campaign_id=campaign_id,
            user_id=user_id,
            source=reward_source(role),
            claim_ref=claim_ref,
            now=now,
            claimable_only=False,
        )
        try:
            uow.commit()
        except IntegrityError:
            uow.rollback()
            with uow:
                found = uow.coupons.by_claim_ref(claim_ref)
                if found:
                    return found
            raise
    return coupon_id


def my_coupons(
    uow: UnitOfWork, *, user_id: str, now: datetime, usable_for_fen: int | None = None
) -> list[Coupon]:
    with uow:
        coupons = uow.coupons.for_user(user_id)
    if usable_for_fen is None:
        return coupons
    return [
        c
        for c in coupons
        if c.status == CouponStatus.AVAILABLE
        and c.is_usable(user_id=user_id, now=now)
        and c.offer.discount_for(usable_for_fen) > 0
    ]


def preview_best_coupon(
    uow: UnitOfWork, *, user_id: str, subtotal_fen: int, now: datetime
) -> tuple[Coupon | None, int]:
    with uow:
        coupons = uow.coupons.for_user(user_id, status=CouponStatus.AVAILABLE)
    return best_coupon(coupons, user_id=user_id, subtotal_fen=subtotal_fen, now=now)
