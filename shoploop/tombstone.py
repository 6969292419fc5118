"""One erasure by `shoploop privacy forget`, as every writer that must drop the person's later data reads it: the
lake's writers (a JSON file under `lake/.erasures/`, warehouse/erasure.py) and the streams' decisions task (a message
on `shoploop.privacy.erasures`, streams/erasure.py), with the same content and the same two rules.

`person_ids` are the erased person ids; data keyed by one of them up to `people_until` is dropped. `ids` are every
anonymousId / userId of the person; data carrying one of them up to `erased_at` is dropped, later ones are the same
device or account coming back as a new person. `people_until` is later than `erased_at`: a collector worker keys new
events by the old person until it has read the identity graph's erasure log, and the person id is not unique in
time — a device that comes back gets the same person id again (`person_of_new_identity`), so the person rule cannot
last for ever. The lake judges rows by when they were received, the streams inputs by their event time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Tombstone:
    erased_at: datetime
    people_until: datetime
    person_ids: frozenset[str]
    ids: frozenset[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "erased_at": self.erased_at.isoformat(),
            "people_until": self.people_until.isoformat(),
            "person_ids": sorted(self.person_ids),
            "ids": sorted(self.ids),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tombstone:
        return cls(
            erased_at=datetime.fromisoformat(data["erased_at"]).astimezone(UTC),
            people_until=datetime.fromisoformat(data["people_until"]).astimezone(UTC),
            person_ids=frozenset(data["person_ids"]),
            ids=frozenset(data["ids"]),
        )

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes) -> Tombstone:
        return cls.from_dict(orjson.loads(data))
