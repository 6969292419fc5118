"""Per-minute live tallies by event time, emitted as additive deltas.

Each batch of events yields one delta per minute it touched; summing the deltas of a minute gives its
numbers, however the batches fell. A shopper counts once per minute: the tally remembers who it has
counted for each minute still within the retention window. Events are keyed by person, so one worker
sees all of a shopper's events and the deltas of several workers add up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson

from ingestion.contract.event import TrackedEvent
from streams.inputs import Activity


@dataclass(frozen=True, slots=True)
class MinuteDelta:
    minute: datetime
    events: int = 0
    new_shoppers: int = 0
    product_views: int = 0
    cart_adds: int = 0
    checkouts: int = 0
    orders: int = 0
    gmv_fen: int = 0

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "minute": self.minute.isoformat(),
                "events": self.events,
                "new_shoppers": self.new_shoppers,
                "product_views": self.product_views,
                "cart_adds": self.cart_adds,
                "checkouts": self.checkouts,
                "orders": self.orders,
                "gmv_fen": self.gmv_fen,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> MinuteDelta:
        data = orjson.loads(raw)
        return cls(**{**data, "minute": datetime.fromisoformat(data["minute"])})


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def order_value_fen(event: TrackedEvent | Activity) -> int:
    """An order's value in fen from a Segment Order Completed event (revenue, else total, in yuan)."""
    for key in ("revenue", "total"):
        value = event.properties.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return round(value * 100)
    return 0


_MINUTE = timedelta(minutes=1)

_COUNTED_EVENTS = {
    "Product Viewed": "product_views",
    "Product Added": "cart_adds",
    "Checkout Started": "checkouts",
    "Order Completed": "orders",
}


@dataclass
class LiveTally:
    retention: timedelta = timedelta(hours=2)
    _counted_shoppers: dict[datetime, set[str]] = field(default_factory=lambda: defaultdict(set))

    def tally(self, events: Iterable[TrackedEvent]) -> list[MinuteDelta]:
        return self._tally((event.timestamp, event) for event in events)

    def tally_activities(self, activities: Iterable[Activity]) -> list[MinuteDelta]:
        """The same tally over the decision core's parsed events (the decisions agent counts its batches)."""
        return self._tally((activity.at, activity) for activity in activities)

    def _tally(self, timed: Iterable[tuple[datetime, TrackedEvent | Activity]]) -> list[MinuteDelta]:
        counts: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        newest: datetime | None = None
        # Events come mostly in time order: the minute, its row and its shoppers are looked up again only
        # when an event falls outside the minute of the one before.
        minute = minute_end = row = counted = None
        for at, event in timed:
            if minute is None or not (minute <= at < minute_end):  # type: ignore[operator]
                minute = minute_of(at)
                minute_end = minute + _MINUTE
                row = counts[minute]
                counted = self._counted_shoppers[minute]
                newest = minute if newest is None or minute > newest else newest
            row["events"] += 1  # type: ignore[index]
            if event.person_id not in counted:  # type: ignore[operator]
                counted.add(event.person_id)  # type: ignore[union-attr]
                row["new_shoppers"] += 1  # type: ignore[index]
            column = _COUNTED_EVENTS.get(event.event or "") if event.type == "track" else None
            if column is not None:
                row[column] += 1  # type: ignore[index]
                if column == "orders":
                    row["gmv_fen"] += order_value_fen(event)  # type: ignore[index]
        if newest is not None:
            self._forget_before(newest - self.retention)
        return [MinuteDelta(minute=minute, **row) for minute, row in sorted(counts.items())]

    def _forget_before(self, horizon: datetime) -> None:
        for minute in [minute for minute in self._counted_shoppers if minute < horizon]:
            del self._counted_shoppers[minute]
