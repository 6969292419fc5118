"""An incremental build after a new batch publishes exactly what a full rebuild of the same lake publishes.

The fixture lake is split at a received time: the first part is built from scratch, the rest arrives as the next
batch and is built incrementally from the published file. Every table of the result (each mart, intermediate and
staging model) must then equal, row for row, a full rebuild of the whole lake; only the columns that say which
run computed a row (`staged_at`, `built_at`) may differ.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pyarrow.compute as pc
import pytest

from ingestion.contract.event import TrackedEvent
from warehouse.lake import OrderBookEvent, write_events, write_order_events, write_partition
from warehouse.publish import (
    WarmDbt,
    build_and_publish,
    load_fixture_events,
    load_fixture_order_book,
    load_fixture_pushes,
)
from warehouse.settings import WarehouseSettings

# `previous_person_id` (int_orders_placed) is where the order was before the run that computed it: null in a full build.
RUN_COLUMNS = ("staged_at", "built_at", "previous_person_id")


def _unknown_order_reported(after: datetime) -> TrackedEvent:
    """Sun's app reports o-9999 paid, an order the order book never saw (a client claiming a payment), received
    after `after`: only the client report can tell a build that the order exists."""
    (report,) = [e for e in load_fixture_events() if e.message_id == "fx-021"]
    return dataclasses.replace(
        report,
        message_id="fx-unknown-order",
        properties={**report.properties, "order_id": "o-9999"},
        timestamp=after + timedelta(minutes=1),
        original_timestamp=after + timedelta(minutes=1),
        sent_at=after + timedelta(minutes=1),
        received_at=after + timedelta(minutes=1),
    )


def _report_of_an_order_the_book_never_sees(person_id: str, received_at: datetime) -> TrackedEvent:
    """`person_id`'s app reports o-9998 paid at `received_at`, an order the order book never sees."""
    (report,) = [e for e in load_fixture_events() if e.message_id == "fx-021"]
    return dataclasses.replace(
        report,
        message_id=f"fx-unknown-order-of-{person_id}",
        person_id=person_id,
        anonymous_id=person_id,
        properties={**report.properties, "order_id": "o-9998"},
        timestamp=received_at - timedelta(seconds=2),
        original_timestamp=received_at - timedelta(seconds=2),
        sent_at=received_at - timedelta(seconds=1),
        received_at=received_at,
    )


def _order_placed_and_paid_by_ma(paid_at: datetime) -> tuple[OrderBookEvent, ...]:
    """Ma places o-1006 a minute before `paid_at` and pays it then (received a second after each)."""
    placed = {
        "event_id": "ob-ma-placed",
        "event": "OrderPlaced",
        "key": "o-1006",
        "order_id": "o-1006",
        "user_id": "u-ma",
        "occurred_at": (paid_at - timedelta(minutes=1)).isoformat(),
        "total_fen": 1999,
        "discount_fen": 0,
        "coupon_id": None,
        "lines": [["22834", 1, 1999]],
        "shipping_province": "四川省",
        "shipping_city": "成都市",
    }
    paid = {
        "event_id": "ob-ma-paid",
        "event": "OrderPaid",
        "key": "o-1006",
        "order_id": "o-1006",
        "user_id": "u-ma",
        "occurred_at": paid_at.isoformat(),
        "total_fen": 1999,
        "transaction_id": "wx-tx-1006",
    }
    return tuple(
        OrderBookEvent.from_json(
            orjson.dumps(event),
            received_at=datetime.fromisoformat(event["occurred_at"]) + timedelta(seconds=1),
        )
        for event in (placed, paid)
    )


def _event_id(event: TrackedEvent | OrderBookEvent) -> str:
    return event.message_id if isinstance(event, TrackedEvent) else event.event_id


def _write_lake(
    settings: WarehouseSettings,
    *,
    received_from: datetime | None,
    received_before: datetime | None,
    extra_events: Sequence[TrackedEvent | OrderBookEvent] = (),
) -> None:
    def wanted(received_at: datetime) -> bool:
        return (received_from is None or received_at >= received_from) and (
            received_before is None or received_at < received_before
        )

    events = [*load_fixture_events(), *(e for e in extra_events if isinstance(e, TrackedEvent))]
    write_events(settings.events_dir, [e for e in events if wanted(e.received_at)])
    order_events = [*load_fixture_order_book(), *(e for e in extra_events if isinstance(e, OrderBookEvent))]
    write_order_events(settings.order_book_dir, [e for e in order_events if wanted(e.received_at)])
    if received_from is None:  # push records are not split: their models are not incremental
        pushes = load_fixture_pushes()
        days = pc.strftime(pushes["received_at"], format="%Y-%m-%d")
        for day in sorted(set(days.to_pylist())):
            write_partition(settings.pushes_dir, day, pushes.filter(pc.equal(days, day)))


def _tables_that_differ(incremental: Path, full: Path) -> dict[str, tuple[int, int]]:
    """Each table whose rows (without the run columns) differ, with how many rows each side has that the other
    lacks (a multiset difference, so a duplicated row counts)."""
    differ: dict[str, tuple[int, int]] = {}
    with duckdb.connect() as connection:
        connection.execute("attach ? as incremental (read_only)", [str(incremental)])
        connection.execute("attach ? as full_build (read_only)", [str(full)])
        tables = connection.execute(
            """
            select schema_name, table_name from duckdb_tables()
            where database_name = 'full_build' and table_name <> 'meta_build_info'
            order by all
            """
        ).fetchall()
        assert len(tables) > 30, tables
        for schema, table in tables:
            columns = [
                name
                for (name,) in connection.execute(
                    "select column_name from duckdb_columns() where database_name = 'full_build' "
                    "and schema_name = ? and table_name = ? order by column_index",
                    [schema, table],
                ).fetchall()
                if name not in RUN_COLUMNS
            ]
            selected = ", ".join(f'"{name}"' for name in columns)
            counts = []
            for left, right in (("incremental", "full_build"), ("full_build", "incremental")):
                row = connection.execute(
                    f'select count(*) from (select {selected} from {left}."{schema}"."{table}" '
                    f'except all select {selected} from {right}."{schema}"."{table}")'
                ).fetchone()
                assert row is not None
                counts.append(int(row[0]))
            if any(counts):
                differ[f"{schema}.{table}"] = (counts[0], counts[1])
    return differ


LOGIN_AFTER_PAYING = datetime(2024, 11, 11, 10, 10, tzinfo=UTC)
CHENS_CART_STILL_OPEN = datetime(2024, 11, 11, 16, 30, tzinfo=UTC)
MA_PAYS_ON_THE_12TH = datetime(2024, 11, 12, 2, 11, tzinfo=UTC)  # 10:11 in Shanghai
BEFORE_THE_FIRST_PAYMENT = datetime(
    2024, 11, 11, 2, 6, 8, tzinfo=UTC
)  # Lily's report at 02:06:05, paid at 02:06:10


@dataclass
class Builds:
    """Builds the cases share, made once: a case's first batch built from scratch (the same lake for cases with the
    same cutoff, as the extra events arrive later) and the full rebuild of a whole lake (the same for cases with
    the same extra events). Each case continues from a copy, so none sees another's incremental build."""

    root: Path
    warm_dbt: WarmDbt
    first_batches: dict[tuple[datetime, tuple[str, ...]], WarehouseSettings] = field(default_factory=dict)
    full_rebuilds: dict[tuple[str, ...], WarehouseSettings] = field(default_factory=dict)

    def first_batch(
        self, cutoff: datetime, extra_events: Sequence[TrackedEvent | OrderBookEvent]
    ) -> WarehouseSettings:
        early = tuple(e for e in extra_events if e.received_at < cutoff)
        key = (cutoff, tuple(map(_event_id, early)))
        if key not in self.first_batches:
            built = WarehouseSettings(data_dir=self.root / f"first-batch-{len(self.first_batches)}")
            _write_lake(built, received_from=None, received_before=cutoff, extra_events=early)
            assert build_and_publish(built, full_refresh=True, warm_dbt=self.warm_dbt) == 0
            self.first_batches[key] = built
        return self.first_batches[key]

    def full_rebuild(self, extra_events: Sequence[TrackedEvent | OrderBookEvent]) -> WarehouseSettings:
        key = tuple(map(_event_id, extra_events))
        if key not in self.full_rebuilds:
            full = WarehouseSettings(data_dir=self.root / f"full-{len(self.full_rebuilds)}")
            _write_lake(full, received_from=None, received_before=None, extra_events=extra_events)
            assert build_and_publish(full, full_refresh=True, warm_dbt=self.warm_dbt) == 0
            self.full_rebuilds[key] = full
        return self.full_rebuilds[key]


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory, warm_dbt: WarmDbt) -> Builds:
    return Builds(root=tmp_path_factory.mktemp("shared-builds"), warm_dbt=warm_dbt)


@pytest.mark.parametrize(
    ("cutoff", "orders_kept", "extra_events"),
    [
        # o-1003's payment and refund, o-1001's refunds and Lily's second phone arrive in the second batch: every
        # order is touched by it.
        (datetime(2024, 11, 11, 6, 59, 30, tzinfo=UTC), set(), ()),
        # Qian logs in after her order o-1005 was paid (its shopper is only known from the second batch), Lily's
        # refund and second phone, Ma's order: only Sun's o-1003 is untouched and keeps the first build's row.
        (LOGIN_AFTER_PAYING, {"o-1003"}, ()),
        # The same, and Sun reports an order the order book never saw: only the report itself can make the
        # order-report check (dq_order_reports_vs_order_book) recompute it. Sun has a new event now, so her
        # o-1003 is recomputed too.
        (LOGIN_AFTER_PAYING, set(), (_unknown_order_reported(LOGIN_AFTER_PAYING),)),
        # Chen's cart (last add 16:10) is the newest event of the first batch, so still open; the second batch
        # (from midnight on) has nothing of Chen's, only newer events of others: her cart must turn abandoned
        # although nothing rebuilds it (fct_cart_abandonment redoes open carts). Sun's and Qian's orders are
        # untouched.
        (CHENS_CART_STILL_OPEN, {"o-1003", "o-1005"}, ()),
        # The same, and Ma pays an order on the 12th (shop time): the newest paid date moves, so RFM recency grows
        # by a day for every buyer, also Sun and Qian whose orders and events are untouched (dim_users redoes
        # every row when its reference day moves).
        (CHENS_CART_STILL_OPEN, {"o-1003", "o-1005"}, _order_placed_and_paid_by_ma(MA_PAYS_ON_THE_12TH)),
        # The first batch ends before the order book's first payment: paid orders are the client's reports, among
        # them Zhao's report of o-9998, which the order book never sees. The second batch brings the verified
        # payments, and nothing of Zhao's: her report must stop counting as a paid order (and its lines go), and
        # her buyer summary, profile row and RFM segment must say she never paid, although nothing of hers is new.
        (
            BEFORE_THE_FIRST_PAYMENT,
            set(),
            (
                _report_of_an_order_the_book_never_sees(
                    "anon-zhao", datetime(2024, 11, 11, 1, 7, 2, tzinfo=UTC)
                ),
            ),
        ),
    ],
    ids=[
        "payments-and-merge-later",
        "login-after-paying",
        "report-of-an-unknown-order",
        "an-open-cart-turns-abandoned-without-its-shopper",
        "a-later-payment-moves-everyones-rfm-recency",
        "the-first-verified-payment-replaces-client-reports",
    ],
)
def test_an_incremental_build_after_a_new_batch_equals_a_full_rebuild_row_for_row(
    tmp_path: Path,
    builds: Builds,
    cutoff: datetime,
    orders_kept: set[str],
    extra_events: tuple[TrackedEvent | OrderBookEvent, ...],
) -> None:
    incremental = WarehouseSettings(data_dir=tmp_path / "incremental")
    shutil.copytree(builds.first_batch(cutoff, extra_events).data_dir, incremental.data_dir)
    _write_lake(incremental, received_from=cutoff, received_before=None, extra_events=extra_events)
    assert build_and_publish(incremental, warm_dbt=builds.warm_dbt) == 0

    full = builds.full_rebuild(extra_events)

    assert _tables_that_differ(incremental.warehouse_path, full.warehouse_path) == {}
    # The second build recomputed the orders the batch touched, and only those.
    with duckdb.connect() as connection:
        connection.execute("attach ? as w (read_only)", [str(incremental.warehouse_path)])
        kept = connection.execute(
            "select order_id from w.intermediate.int_orders_placed "
            "where built_at < (select max(built_at) from w.intermediate.int_orders_placed)"
        ).fetchall()
    assert {order_id for (order_id,) in kept} == orders_kept
