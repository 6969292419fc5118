"""A person's cart as the streams see it: built from tracked cart events and verified payments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class CartLine:
    product_id: str
    quantity: int
    sku: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Cart:
    lines: tuple[CartLine, ...] = ()
    # The last add, remove or checkout: an abandoned-cart reminder is due `delay` after it.
    changed_at: datetime | None = None
    checkout_started_at: datetime | None = None
    paid_at: datetime | None = None

    @property
    def is_empty(self) -> bool:
        return not self.lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": [[line.product_id, line.quantity, line.sku, line.name] for line in self.lines],
            "changed_at": self.changed_at.isoformat() if self.changed_at else None,
            "checkout_started_at": self.checkout_started_at.isoformat() if self.checkout_started_at else None,
            "paid_at": self.paid_at.isoformat() if self.paid_at else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cart:
        def moment(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(
            # A line is a list (to_dict) or an object (orjson's form of the dataclass).
            lines=tuple(
                CartLine(**line) if isinstance(line, dict) else CartLine(*line)
                for line in data.get("lines", ())
            ),
            changed_at=moment(data.get("changed_at")),
            checkout_started_at=moment(data.get("checkout_started_at")),
            paid_at=moment(data.get("paid_at")),
        )
