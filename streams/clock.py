"""Event time: the watermark that says up to when the streams have seen everything."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class Watermark:
    """The latest event time seen on each input partition, minus the lateness we wait for.

    The watermark is the minimum over partitions, so a partition that a fast replay has read further than
    another does not make the other's events late. A partition that has delivered nothing since
    `idle_before` (the caller's processing-time clock, e.g. monotonic seconds) is idle and left out of the
    minimum — otherwise one quiet partition would hold every decision back; when every partition is idle,
    the latest of them counts. Callers that pass no `seen_at` (tests, replays of a list) never go idle.
    """

    allowed_lateness: timedelta
    latest_by_partition: dict[str, datetime] = field(default_factory=dict)
    seen_at_by_partition: dict[str, float] = field(default_factory=dict)

    def observe(self, partition: str, at: datetime, *, seen_at: float | None = None) -> None:
        seen = self.latest_by_partition.get(partition)
        if seen is None or at > seen:
            self.latest_by_partition[partition] = at
        if seen_at is not None:
            self.seen_at_by_partition[partition] = seen_at

    def expect(self, partition: str, *, seen_at: float) -> None:
        """A partition that will deliver: until it does (or goes idle), it holds the watermark back.

        Without this, a reader that gets one partition's first fetch before another's would let the first
        alone set the watermark, and the other's events would all be late.
        """
        self.seen_at_by_partition.setdefault(partition, seen_at)

    def touch_all(self, seen_at: float) -> None:
        """Count every known partition as just seen (after a restart, before any has delivered)."""
        for partition in self.latest_by_partition:
            self.seen_at_by_partition[partition] = seen_at

    def current(self, *, idle_before: float | None = None) -> datetime | None:
        if not self.latest_by_partition:
            return None
        for partition, seen_at in self.seen_at_by_partition.items():
            if partition not in self.latest_by_partition and (idle_before is None or seen_at >= idle_before):
                return None  # expected, not idle yet, and nothing from it so far
        active = [
            at
            for partition, at in self.latest_by_partition.items()
            if idle_before is None or self.seen_at_by_partition.get(partition, idle_before) >= idle_before
        ]
        if active:
            return min(active) - self.allowed_lateness
        return max(self.latest_by_partition.values()) - self.allowed_lateness
