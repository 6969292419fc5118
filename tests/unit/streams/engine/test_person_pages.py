"""Persons are checkpointed many to a table row: a batch writes only the persons it changed, a restore finds
the newest copy of each, and rows that hold few current persons are compacted away."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.engine.checkpoint import PersonPages
from streams.engine.core import PersonState

MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _persons(*names: str, active: datetime = MORNING) -> dict[str, PersonState]:
    return {name: PersonState(name, user_id=f"u-{name}", last_active_at=active) for name in names}


def _table(rows: dict[str, bytes], written: list[tuple[str, bytes]], deleted: list[str]) -> None:
    rows.update(written)
    for key in deleted:
        rows.pop(key)


def test_a_batch_writes_only_the_persons_it_changed() -> None:
    pages, persons = PersonPages(), _persons("lily", "ming", "wei")
    pages.write({"lily", "ming", "wei"}, persons)
    written, deleted = pages.write({"ming"}, persons)
    assert len(written) == 1 and deleted == []
    assert b"ming" in written[0][1] and b"lily" not in written[0][1]


def test_a_restore_finds_the_newest_copy_of_every_person() -> None:
    rows: dict[str, bytes] = {}
    pages, persons = PersonPages(), _persons("lily", "ming", "wei")
    _table(rows, *pages.write(set(persons), persons))
    persons["ming"].last_active_at = MORNING.replace(hour=9)
    _table(rows, *pages.write({"ming"}, persons))

    restored, stale = PersonPages().restore(list(rows.items()))

    by_id = {p["person_id"]: PersonState.from_dict(p) for p in restored}
    assert by_id == persons and stale == []


def test_a_row_with_few_current_persons_is_rewritten_and_deleted_so_the_table_stays_small() -> None:
    rows: dict[str, bytes] = {}
    names = [f"p{n:02d}" for n in range(20)]
    pages, persons = PersonPages(), _persons(*names)
    _table(rows, *pages.write(set(names), persons))
    first_row = next(iter(rows))
    for name in names[:16]:  # one at a time: the first row keeps fewer and fewer current persons
        _table(rows, *pages.write({name}, persons))

    assert first_row not in rows
    restored, _ = PersonPages().restore(list(rows.items()))
    assert sorted(p["person_id"] for p in restored) == names
    assert sum(len(PersonPages().restore([row])[0]) for row in rows.items()) <= 4 * len(names)
