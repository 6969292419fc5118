"""Index entries that only grow (paid orders, a device's accounts, flags) are checkpointed many to a row;
a restore unions them, also with rows of one entry each written before pages existed."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.engine.checkpoint import CHUNK_MAX_BYTES, fact_pages, index_row, restore_engine
from streams.engine.core import Engine

MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _engine_with_growing_entries() -> Engine:
    engine = Engine()
    engine.paid_order_ids |= {f"SL-{n}" for n in range(3000)}
    engine.accounts_by_device["phone-lily"] = {"u-lily", "u-ming"}
    engine.flagged_reasons.add(("u-wei", "order_burst"))
    return engine


def test_growing_index_entries_fit_in_a_few_rows_under_the_row_size_limit() -> None:
    engine = _engine_with_growing_entries()
    facts = [index_row(engine, "paid", order_id) for order_id in engine.paid_order_ids]
    facts.append(index_row(engine, "device", "phone-lily"))
    pages = fact_pages([fact for fact in facts if fact is not None], max_bytes=CHUNK_MAX_BYTES)
    assert 1 <= len(pages) <= 3
    assert sum(len(row["value"]) for _, row in pages) == 3001
    assert len({key for key, _ in pages}) == len(pages)


def test_a_restore_unions_fact_pages_and_the_older_one_entry_rows() -> None:
    engine = _engine_with_growing_entries()
    first = [index_row(engine, "paid", "SL-1"), index_row(engine, "device", "phone-lily")]
    engine.accounts_by_device["phone-lily"].add("u-wei")
    later = [index_row(engine, "device", "phone-lily"), index_row(engine, "flag", "u-wei\x1forder_burst")]
    rows = [row for _, row in fact_pages([f for f in first if f], max_bytes=CHUNK_MAX_BYTES)]
    rows += [row for _, row in fact_pages([f for f in later if f], max_bytes=CHUNK_MAX_BYTES)]
    rows.append({"kind": "paid", "key": "SL-old", "value": True})  # one entry, as rows were written before

    restored = Engine()
    restore_engine(restored, shop=None, persons=[], shares=[], index=rows, pending=[])

    assert restored.paid_order_ids == {"SL-1", "SL-old"}
    assert restored.accounts_by_device == {"phone-lily": {"u-lily", "u-ming", "u-wei"}}
    assert restored.flagged_reasons == {("u-wei", "order_burst")}
