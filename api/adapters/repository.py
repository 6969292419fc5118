"""Repositories: load and save aggregates with SQLAlchemy Core statements on the unit of work's session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from api.adapters import tables as t
from api.domain.coupons import Coupon, CouponOffer, CouponStatus
from api.domain.errors import ConcurrentUpdate, OutOfStock
from api.domain.group_buys import GroupBuy, GroupBuyStatus, GroupMember
from api.domain.orders import Order, OrderLine, OrderStatus


class OrderRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.seen: dict[str, Order] = {}

    def add(self, order: Order) -> None:
        self.session.execute(insert(t.orders).values(**_order_row(order), version=0))
        self.session.execute(
            insert(t.order_lines),
            [
                {
                    "order_id": order.order_id,
                    "line_no": number,
                    "sku_id": line.sku_id,
                    "product_id": line.product_id,
                    "title": line.title,
                    "unit_price_fen": line.unit_price_fen,
                    "quantity": line.quantity,
                }
                for number, line in enumerate(order.lines, start=1)
            ],
        )
        self.seen[order.order_id] = order

    def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        statement = ORDER_BY_ID_FOR_UPDATE if for_update else ORDER_BY_ID
        return self._one(statement, {"order_id": order_id})

    def get_for_user(self, order_id: str, user_id: str) -> Order | None:
        """The order only when it belongs to `user_id`: callers cannot tell 'not yours' from 'missing'."""
        return self._one(ORDER_FOR_USER, {"order_id": order_id, "user_id": user_id})

    def by_idempotency_key(self, user_id: str, key: str) -> Order | None:
        return self._one(ORDER_BY_IDEMPOTENCY_KEY, {"user_id": user_id, "idempotency_key": key})

    def _one(self, statement: Any, parameters: dict[str, Any]) -> Order | None:
        """One order and its lines in one round trip (the statements select both, joined)."""
        found = self.session.execute(statement, parameters).mappings().all()
        if not found:
            return None
        lines = [
            OrderLine(
                sku_id=row["line_sku_id"],
                product_id=row["line_product_id"],
                title=row["line_title"],
                unit_price_fen=row["line_unit_price_fen"],
                quantity=row["line_quantity"],
            )
            for row in found
            if row["line_no"] is not None
        ]
        return self._track(_order(found[0], lines))

    def list_for_user(self, user_id: str, *, status: str | None = None, limit: int = 50) -> list[Order]:
        statement = select(t.orders).where(t.orders.c.user_id == user_id)
        if status:
            statement = statement.where(t.orders.c.status == status)
        statement = statement.order_by(t.orders.c.created_at.desc()).limit(limit)
        return [self._load(row) for row in self.session.execute(statement).mappings()]

    def list_all(self, *, status: str | None = None, limit: int = 100) -> list[Order]:
        statement = select(t.orders)
        if status:
            statement = statement.where(t.orders.c.status == status)
        statement = statement.order_by(t.orders.c.created_at.desc()).limit(limit)
        return [self._load(row) for row in self.session.execute(statement).mappings()]

    def expired_unpaid_ids(self, now: datetime, *, limit: int = 100) -> list[str]:
        statement = (
            select(t.orders.c.order_id)
            .where(and_(t.orders.c.status == OrderStatus.PENDING_PAYMENT, t.orders.c.expires_at <= now))
            .order_by(t.orders.c.expires_at)
            .limit(limit)
        )
        return list(self.session.execute(statement).scalars())

    def save(self, order: Order) -> None:
        """Write the order's new state; ConcurrentUpdate if someone else changed it since it was loaded."""
        result = self.session.execute(
            update(t.orders)
            .where(and_(t.orders.c.order_id == order.order_id, t.orders.c.version == order.version))
            .values(**_order_row(order), version=order.version + 1)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentUpdate(f"order {order.order_id} changed while it was being updated")
        order.version += 1
        self.seen[order.order_id] = order

    def _track(self, order: Order) -> Order:
        self.seen[order.order_id] = order
        return order

    def _load(self, row: Any) -> Order:
        lines = [
            OrderLine(
                sku_id=line.sku_id,
                product_id=line.product_id,
                title=line.title,
                unit_price_fen=line.unit_price_fen,
                quantity=line.quantity,
            )
            for line in self.session.execute(
                select(t.order_lines)
                .where(t.order_lines.c.order_id == row["order_id"])
                .order_by(t.order_lines.c.line_no)
            )
        ]
        return _order(row, lines)


def _order(row: Any, lines: list[OrderLine]) -> Order:
    before = row["status_before_refund"]
    return Order(
        order_id=row["order_id"],
        user_id=row["user_id"],
        lines=lines,
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        discount_fen=row["discount_fen"],
        coupon_id=row["coupon_id"],
        status=OrderStatus(row["status"]),
        idempotency_key=row["idempotency_key"],
        address_id=row["address_id"],
        transaction_id=row["transaction_id"],
        prepay_id=row["prepay_id"],
        tracking_no=row["tracking_no"],
        paid_at=row["paid_at"],
        refunded_fen=row["refunded_fen"],
        status_before_refund=OrderStatus(before) if before else None,
        group_buy_id=row["group_buy_id"],
        member_discount_fen=row["member_discount_fen"],
        version=row["version"],
    )


def _order_with_lines(*conditions: Any) -> Any:
    """Built once: the order's columns and each line's, one row per line (an order always has lines, but
    an outer join keeps the order visible even if it had none)."""
    lines = t.order_lines.c
    return (
        select(
            t.orders,
            lines.line_no,
            lines.sku_id.label("line_sku_id"),
            lines.product_id.label("line_product_id"),
            lines.title.label("line_title"),
            lines.unit_price_fen.label("line_unit_price_fen"),
            lines.quantity.label("line_quantity"),
        )
        .outerjoin(t.order_lines, lines.order_id == t.orders.c.order_id)
        .where(*conditions)
        .order_by(lines.line_no)
    )


ORDER_BY_ID = _order_with_lines(t.orders.c.order_id == bindparam("order_id"))
# Locks the order row only (PostgreSQL; SQLite's write lock is the whole database).
ORDER_BY_ID_FOR_UPDATE = ORDER_BY_ID.with_for_update(of=t.orders)
ORDER_FOR_USER = _order_with_lines(
    t.orders.c.order_id == bindparam("order_id"), t.orders.c.user_id == bindparam("user_id")
)
ORDER_BY_IDEMPOTENCY_KEY = _order_with_lines(
    t.orders.c.user_id == bindparam("user_id"), t.orders.c.idempotency_key == bindparam("idempotency_key")
)


def _order_row(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "user_id": order.user_id,
        "status": str(order.status),
        "discount_fen": order.discount_fen,
        "total_fen": order.total_fen,
        "coupon_id": order.coupon_id,
        "idempotency_key": order.idempotency_key,
        "address_id": order.address_id,
        "transaction_id": order.transaction_id,
        "prepay_id": order.prepay_id,
        "tracking_no": order.tracking_no,
        "refunded_fen": order.refunded_fen,
        "status_before_refund": str(order.status_before_refund) if order.status_before_refund else None,
        "created_at": order.created_at,
        "expires_at": order.expires_at,
        "paid_at": order.paid_at,
        "group_buy_id": order.group_buy_id,
        "member_discount_fen": order.member_discount_fen,
    }


class InventoryRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def reserve(self, sku_id: str, quantity: int) -> int:
        """Take `quantity` off the shelf in one conditional UPDATE; returns the stock left.

        The WHERE clause is re-checked under the row lock (PostgreSQL) or the write lock (SQLite), so two
        buyers can never both take the last unit.
        """
        left = self.session.execute(
            RESERVE, {"wanted_sku_id": sku_id, "quantity": quantity}
        ).scalar_one_or_none()
        if left is None:
            raise OutOfStock(f"not enough stock for {sku_id}")
        return int(left)

    def release(self, sku_id: str, quantity: int) -> None:
        self.session.execute(
            update(t.skus).where(t.skus.c.sku_id == sku_id).values(stock=t.skus.c.stock + quantity)
        )

    def add_sales(self, product_id: str, quantity: int) -> None:
        self.session.execute(ADD_SALES, {"sold_product_id": product_id, "quantity": quantity})

    def sku(self, sku_id: str) -> dict[str, Any] | None:
        return self.skus([sku_id]).get(sku_id)

    def skus(self, sku_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The SKUs with their product's title and listing, by id, in one round trip (missing ones absent)."""
        found = self.session.execute(SKUS_WITH_PRODUCTS, {"sku_ids": list(sku_ids)}).mappings()
        return {row["sku_id"]: dict(row) for row in found}


# Built once (the hot path's statements; SQLAlchemy then reuses their compiled form without rebuilding them).
RESERVE = (
    update(t.skus)
    .where(and_(t.skus.c.sku_id == bindparam("wanted_sku_id"), t.skus.c.stock >= bindparam("quantity")))
    .values(stock=t.skus.c.stock - bindparam("quantity"))
    .returning(t.skus.c.stock)
)
ADD_SALES = (
    update(t.products)
    .where(t.products.c.product_id == bindparam("sold_product_id"))
    .values(sales_count=t.products.c.sales_count + bindparam("quantity"))
)
SKUS_WITH_PRODUCTS = (
    select(
        t.skus.c.sku_id,
        t.skus.c.product_id,
        t.skus.c.price_fen,
        t.skus.c.stock,
        t.skus.c.colour,
        t.skus.c.size,
        t.products.c.title,
        t.products.c.is_listed,
    )
    .join(t.products, t.products.c.product_id == t.skus.c.product_id)
    .where(t.skus.c.sku_id.in_(bindparam("sku_ids", expanding=True)))
)


class CouponRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def for_user(self, user_id: str, *, status: CouponStatus | None = None) -> list[Coupon]:
        statement = (
            select(t.coupons, t.coupon_campaigns)
            .join(t.coupon_campaigns, t.coupon_campaigns.c.campaign_id == t.coupons.c.campaign_id)
            .where(t.coupons.c.user_id == user_id)
        )
        if status:
            statement = statement.where(t.coupons.c.status == status)
        return [_coupon(row) for row in self.session.execute(statement).mappings()]

    def get(self, coupon_id: str) -> Coupon | None:
        row = (
            self.session.execute(
                select(t.coupons, t.coupon_campaigns)
                .join(t.coupon_campaigns, t.coupon_campaigns.c.campaign_id == t.coupons.c.campaign_id)
                .where(t.coupons.c.coupon_id == coupon_id)
            )
            .mappings()
            .first()
        )
        return _coupon(row) if row else None

    def mark_used(self, coupon_id: str, *, user_id: str, order_id: str) -> bool:
        """Use the coupon once: the conditional UPDATE loses the race for every second use."""
        result = self.session.execute(
            update(t.coupons)
            .where(
                and_(
                    t.coupons.c.coupon_id == coupon_id,
                    t.coupons.c.user_id == user_id,
                    t.coupons.c.status == CouponStatus.AVAILABLE,
                )
            )
            .values(status=CouponStatus.USED, used_order_id=order_id)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def give_back(self, coupon_id: str, *, order_id: str) -> None:
        self.session.execute(
            update(t.coupons)
            .where(and_(t.coupons.c.coupon_id == coupon_id, t.coupons.c.used_order_id == order_id))
            .values(status=CouponStatus.AVAILABLE, used_order_id=None)
        )

    def take_from_campaign(self, campaign_id: str, now: datetime) -> dict[str, Any] | None:
        """Count one claim against the campaign's quantity, atomically; None when none is left."""
        c = t.coupon_campaigns.c
        result = self.session.execute(
            update(t.coupon_campaigns)
            .where(
                and_(
                    c.campaign_id == campaign_id,
                    c.claimed_count < c.total_quantity,
                    c.valid_until > now,
                )
            )
            .values(claimed_count=c.claimed_count + 1)
            .returning(c.campaign_id, c.is_claimable)
        )
        row = result.mappings().first()
        return dict(row) if row else None

    def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        row = (
            self.session.execute(
                select(t.coupon_campaigns).where(t.coupon_campaigns.c.campaign_id == campaign_id)
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    def by_claim_ref(self, claim_ref: str) -> str | None:
        return self.session.execute(
            select(t.coupons.c.coupon_id).where(t.coupons.c.claim_ref == claim_ref)
        ).scalar_one_or_none()

    def add(
        self, *, coupon_id: str, campaign_id: str, user_id: str, source: str, claim_ref: str, now: datetime
    ) -> None:
        self.session.execute(
            insert(t.coupons).values(
                coupon_id=coupon_id,
                campaign_id=campaign_id,
                user_id=user_id,
                status=CouponStatus.AVAILABLE,
                source=source,
                claim_ref=claim_ref,
                claimed_at=now,
            )
        )


def _coupon(row: Any) -> Coupon:
    return Coupon(
        coupon_id=row["coupon_id"],
        campaign_id=row["campaign_id"],
        user_id=row["user_id"],
        title=row["title"],
        offer=CouponOffer(
            threshold_fen=row["threshold_fen"],
            discount_fen=row["discount_fen"],
            percent_off=row["percent_off"],
            max_discount_fen=row["max_discount_fen"],
        ),
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        status=CouponStatus(row["status"]),
    )


def count(session: Session, table: Table, *conditions: Any) -> int:
    return int(session.execute(select(func.count()).select_from(table).where(*conditions)).scalar_one())


def rows(session: Session, statement: Any) -> Sequence[dict[str, Any]]:
    return [dict(row) for row in session.execute(statement).mappings()]


class GroupBuyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.seen: dict[str, GroupBuy] = {}

    def add(self, group: GroupBuy) -> None:
        self.session.execute(insert(t.group_buys).values(**_group_row(group), version=0))
        self._write_members(group)
        self.seen[group.group_id] = group

    def get(self, group_id: str) -> GroupBuy | None:
        row = self.session.execute(select(t.group_buys).where(t.group_buys.c.group_id == group_id)).mappings()
        found = row.first()
        if found is None:
            return None
        group = self._load(found)
        self.seen[group.group_id] = group
        return group

    def expired_open_ids(self, now: datetime, *, limit: int = 100) -> list[str]:
        c = t.group_buys.c
        statement = (
            select(c.group_id)
            .where(and_(c.status == GroupBuyStatus.OPEN, c.expires_at <= now))
            .order_by(c.expires_at)
            .limit(limit)
        )
        return list(self.session.execute(statement).scalars())

    def save(self, group: GroupBuy) -> None:
        """ConcurrentUpdate when another request changed the group since it was loaded (the last seat)."""
        c = t.group_buys.c
        result = self.session.execute(
            update(t.group_buys)
            .where(and_(c.group_id == group.group_id, c.version == group.version))
            .values(**_group_row(group), version=group.version + 1)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentUpdate(f"group buy {group.group_id} changed while it was being updated")
        group.version += 1
        self.session.execute(
            delete(t.group_buy_members).where(t.group_buy_members.c.group_id == group.group_id)
        )
        self._write_members(group)
        self.seen[group.group_id] = group

    def _write_members(self, group: GroupBuy) -> None:
        if group.members:
            self.session.execute(
                insert(t.group_buy_members),
                [
                    {
                        "group_id": group.group_id,
                        "user_id": m.user_id,
                        "order_id": m.order_id,
                        "is_paid": m.is_paid,
                        "joined_at": m.joined_at,
                    }
                    for m in group.members.values()
                ],
            )

    def _load(self, row: Any) -> GroupBuy:
        members = {
            m.user_id: GroupMember(
                user_id=m.user_id, order_id=m.order_id, joined_at=m.joined_at, is_paid=m.is_paid
            )
            for m in self.session.execute(
                select(t.group_buy_members)
                .where(t.group_buy_members.c.group_id == row["group_id"])
                .order_by(t.group_buy_members.c.joined_at)
            )
        }
        return GroupBuy(
            group_id=row["group_id"],
            deal_id=row["deal_id"],
            sku_id=row["sku_id"],
            leader_id=row["leader_user_id"],
            group_size=row["group_size"],
            group_price_fen=row["group_price_fen"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            status=GroupBuyStatus(row["status"]),
            members=members,
            version=row["version"],
        )


def _group_row(group: GroupBuy) -> dict[str, Any]:
    return {
        "group_id": group.group_id,
        "deal_id": group.deal_id,
        "sku_id": group.sku_id,
        "leader_user_id": group.leader_id,
        "group_size": group.group_size,
        "group_price_fen": group.group_price_fen,
        "status": str(group.status),
        "created_at": group.created_at,
        "expires_at": group.expires_at,
    }
