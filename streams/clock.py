"""Event time: the watermark that says up to when the streams have seen everything."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class Watermark:
    """The latest event time seen on each input partition, minus the lateness we wait for.

    The watermark is the minimum over partitions, so a partition that a fast replay has read further than
    another does not make the other's events late.
    """

    allowed_lateness: timedelta
    latest_by_partition: dict[str, datetime] = field(default_factory=dict)

    def observe(self, partition: str, at: datetime) -> None:
        seen = self.latest_by_partition.get(partition)
        if seen is None or at > seen:
            self.latest_by_partition[partition] = at

    def current(self) -> datetime | None:
        if not self.latest_by_partition:
            return None
        return min(self.latest_by_partition.values()) - self.allowed_lateness
