"""Account erasure (PIPL art. 47, WeChat mini-program 注销): a shopper's profile leaves the order core; what the
E-commerce Law (art. 31: goods, service and transaction information kept at least three years) requires stays.

Erased, in one transaction:

- the WeChat identity: ``openid`` becomes an irreversible placeholder (``erased:`` + random; nothing derived from
  the openid, so it cannot be recomputed from it), ``unionid`` and ``session_key`` are cleared. Logging in again
  with the same WeChat account creates a new, unrelated account;
- every login session of the account (the token cache of a serving process trusts a token for at most
  ``SHOPLOOP_API_RECOMMENDER_TOKEN_CACHE_S`` more);
- the address book, favourites, footprints, hidden recommendations and cart;
- coupons not used on an order, the membership account with its points ledger and redemptions, and the
  order subscribe messages (notifications) addressed to the shopper;
- device ids and WeChat ids on bargains: her own bargains' ``device_id`` and, where she helped a friend cut,
  ``helper_openid`` / ``helper_unionid`` / ``device_id`` (the friend's bargain and its price stay).

Kept: orders with their lines, payments, refunds, coupons used on orders and group-buy seats (transaction
records), keyed by the internal ``user_id``, which no longer leads to a WeChat identity; the shipping address
an order points to (``orders.address_id`` is the only record of where an order went: it stays encrypted with
the rest of the order's record, leaves nothing else behind, and is needed to ship a paid order and for
after-sales); and the risk-control records (account flags, freezes and their audit log, which gains an
``erased`` entry). No domain event is published: an event naming the account would bring the erased id back
into the lake after ``privacy forget`` removed it. What is recorded instead, in the same transaction, is an erasure
*request* (``request_erasure_everywhere``; the routes ask for it, ``privacy forget`` itself does not): an outbox row
for ``shoploop.privacy.erasure-requests``, keyed by ``user_id``, which no lake sink reads, and on which
``shoploop privacy worker`` runs ``privacy forget <user_id>`` (the collector's ``userId`` is the order core's
``user_id``, so ``forget`` finds the person in the identity graph without the openid replaced here).

Idempotent: erasing an erased account deletes nothing more and keeps its placeholder.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from sqlalchemy import Select, and_, delete, func, insert, select, update

from api.adapters import tables as t
from api.domain.errors import DomainError, NotFound
from api.service_layer.unit_of_work import UnitOfWork
from shoploop.kafka import Topics

ERASED_OPENID_PREFIX = "erased:"
ERASURE_REQUESTED = "AccountErasureRequested"


class AccountNotFound(NotFound):
    code = "account_not_found"


class AccountErased(DomainError):
    """The account was erased: nothing may be addressed to it any more (its openid is a placeholder)."""

    status_code = 410
    code = "account_erased"


@dataclass(frozen=True)
class AccountErasure:
    """What one erasure did, table by table (row counts)."""

    user_id: str
    erased_at: datetime
    was_already_erased: bool
    deleted: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)


def erased_placeholder() -> str:
    """A new irreversible stand-in for an openid (unique: ``users.openid`` is)."""
    return ERASED_OPENID_PREFIX + secrets.token_hex(24)


def is_erased_openid(openid: str) -> bool:
    return openid.startswith(ERASED_OPENID_PREFIX)


def accounts_among(uow: UnitOfWork, ids: Collection[str]) -> list[str]:
    """The ids of ``ids`` that are order-core accounts (``privacy forget`` passes every id of the person)."""
    with uow:
        found: list[str] = list(
            uow.session.execute(select(t.users.c.user_id).where(t.users.c.user_id.in_(sorted(set(ids)))))
            .scalars()
            .all()
        )
        return sorted(found)


def erasure_request(*, user_id: str, actor: str, now: datetime) -> bytes:
    """The erasure request's message (`shoploop.privacy_worker.erasure_request_from_json` reads it back)."""
    return orjson.dumps({"user_id": user_id, "requested_by": actor[:64], "requested_at": now.isoformat()})


def erase_account(
    uow: UnitOfWork,
    *,
    user_id: str,
    actor: str,
    now: datetime,
    request_erasure_everywhere: bool = False,
) -> AccountErasure:
    """Erase the shopper's profile data and keep the transaction records (see the module docstring); with
    ``request_erasure_everywhere``, also record, in the same transaction, a request for ``privacy forget``.

    Raises
    ------
    AccountNotFound
        When no account has this ``user_id``.
    """
    with uow:
        session = uow.session
        openid = session.execute(
            select(t.users.c.openid).where(t.users.c.user_id == user_id).with_for_update()
        ).scalar_one_or_none()
        if openid is None:
            raise AccountNotFound("no such account")
        was_erased = is_erased_openid(openid)
        placeholder = openid if was_erased else erased_placeholder()
        session.execute(
            update(t.users)
            .where(t.users.c.user_id == user_id)
            .values(openid=placeholder, unionid=None, session_key="")
        )
        shipped_to = select(t.orders.c.address_id).where(
            and_(t.orders.c.user_id == user_id, t.orders.c.address_id.is_not(None))
        )
        deletions = {
            "sessions": delete(t.sessions).where(
                and_(t.sessions.c.subject_id == user_id, t.sessions.c.kind == "shopper")
            ),
            "addresses": delete(t.addresses).where(
                and_(t.addresses.c.user_id == user_id, t.addresses.c.address_id.not_in(shipped_to))
            ),
            "cart_items": delete(t.cart_items).where(t.cart_items.c.user_id == user_id),
            "favourites": delete(t.favourites).where(t.favourites.c.user_id == user_id),
            "footprints": delete(t.footprints).where(t.footprints.c.user_id == user_id),
            "hidden_products": delete(t.hidden_products).where(t.hidden_products.c.user_id == user_id),
            "coupons": delete(t.coupons).where(
                and_(t.coupons.c.user_id == user_id, t.coupons.c.used_order_id.is_(None))
            ),
            "member_accounts": delete(t.member_accounts).where(t.member_accounts.c.user_id == user_id),
            "points_entries": delete(t.points_entries).where(t.points_entries.c.user_id == user_id),
            "point_redemptions": delete(t.point_redemptions).where(t.point_redemptions.c.user_id == user_id),
            "order_notifications": delete(t.order_notifications).where(
                t.order_notifications.c.user_id == user_id
            ),
        }
        deleted = {table: _count(session.execute(statement)) for table, statement in deletions.items()}
        anonymised = {
            "users": 0 if was_erased else 1,
            "bargains": _count(
                session.execute(
                    update(t.bargains)
                    .where(and_(t.bargains.c.user_id == user_id, t.bargains.c.device_id != placeholder))
                    .values(device_id=placeholder)
                )
            ),
            # one cut per helper and bargain: the account's own placeholder stays unique per bargain
            "bargain_cuts": _count(
                session.execute(
                    update(t.bargain_cuts)
                    .where(
                        and_(
                            t.bargain_cuts.c.helper_user_id == user_id,
                            t.bargain_cuts.c.helper_openid != placeholder,
                        )
                    )
                    .values(helper_openid=placeholder, helper_unionid=None, device_id=placeholder)
                )
            ),
        }
        kept = {
            "orders": _rows(uow, select(t.orders.c.order_id).where(t.orders.c.user_id == user_id)),
            "refunds": _rows(uow, select(t.refunds.c.refund_id).where(t.refunds.c.user_id == user_id)),
            "addresses": _rows(uow, select(t.addresses.c.address_id).where(t.addresses.c.user_id == user_id)),
        }
        if not was_erased:
            session.execute(
                insert(t.account_audit_log).values(
                    # the audit log's own id format (time-ordered; see account_review._audit)
                    entry_id=f"al{time.time_ns():019d}{secrets.token_hex(4)}",
                    user_id=user_id,
                    action="erased",
                    actor=actor[:64],
                    note="account erased on request (PIPL); transaction records kept",
                    created_at=now,
                )
            )
        if request_erasure_everywhere:
            # Also for an account erased before: the worker's `forget` is idempotent, and a re-run finishes one
            # that failed half-way.
            uow.publish(
                topic=Topics.PRIVACY_ERASURE_REQUESTS.name,
                name=ERASURE_REQUESTED,
                key=user_id,
                value=erasure_request(user_id=user_id, actor=actor, now=now),
            )
        uow.commit()
    return AccountErasure(
        user_id=user_id,
        erased_at=now,
        was_already_erased=was_erased,
        deleted=deleted,
        anonymised=anonymised,
        kept=kept,
    )


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _rows(uow: UnitOfWork, statement: Select[tuple[str]]) -> int:
    return int(uow.session.execute(select(func.count()).select_from(statement.subquery())).scalar_one())
