"""The unit of work: one transaction; events recorded by the aggregates go to the outbox in it.

Leaving the `with` block without `commit()` rolls everything back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType

import orjson
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from api.adapters import tables as t
from api.adapters.repository import (
    CouponRepository,
    GroupBuyRepository,
    InventoryRepository,
    OrderRepository,
)
from api.domain.events import Event


class UnitOfWork:
    session: Session
    orders: OrderRepository
    inventory: InventoryRepository
    coupons: CouponRepository
    group_buys: GroupBuyRepository

    def __init__(
        self, session_factory: sessionmaker[Session], clock: Callable[[], datetime] | None = None
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock or (lambda: datetime.now(UTC))
        self.events: list[Event] = []
        self.messages: list[tuple[str, str, str, bytes]] = []

    def __enter__(self) -> UnitOfWork:
        self.session = self.session_factory()
        self.orders = OrderRepository(self.session)
        self.inventory = InventoryRepository(self.session)
        self.coupons = CouponRepository(self.session)
        self.group_buys = GroupBuyRepository(self.session)
        self.events = []
        self.messages = []
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.rollback()
        self.session.close()

    def record(self, event: Event) -> None:
        """Record an event that belongs to no order (coupon granted, stock low)."""
        self.events.append(event)

    def publish(self, *, topic: str, name: str, key: str, value: bytes) -> None:
        """Send a message as is to another topic than shoploop.orders, through the outbox (same transaction)."""
        self.messages.append((topic, name, key, value))

    def commit(self) -> None:
        pending = list(self.events)
        for order in self.orders.seen.values():
            pending.extend(order.events)
        for group in self.group_buys.seen.values():
            pending.extend(group.events)
        if pending:
            now = self.clock()
            self.session.execute(
                insert(t.outbox),
                [
                    {
                        "event_id": str(uuid.uuid4()),
                        "event_name": event.name,
                        "key": event.key,
                        "payload": orjson.dumps({"event": event.name, **event.payload()}).decode(),
                        "created_at": now,
                    }
                    for event in pending
                ],
            )
        if self.messages:
            now = self.clock()
            self.session.execute(
                insert(t.outbox),
                [
                    {
                        "event_id": str(uuid.uuid4()),
                        "event_name": name,
                        "key": key,
                        "payload": value.decode(),
                        "created_at": now,
                        "topic": topic,
                    }
                    for topic, name, key, value in self.messages
                ],
            )
        self.session.commit()
        self.events.clear()
        self.messages.clear()
        for order in self.orders.seen.values():
            order.events.clear()
        for group in self.group_buys.seen.values():
            group.events.clear()

    def rollback(self) -> None:
        self.session.rollback()


UnitOfWorkFactory = Callable[[], UnitOfWork]
