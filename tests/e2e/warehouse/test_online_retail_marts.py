"""Real data: cohorts, repurchase and RFM from the marts equal the same numbers computed here, independently,
with polars on the raw UCI Online Retail file.

The rules are the loader's documented ones: an order is an invoice of a known customer, made of its rows
with a positive quantity and price, not a cancellation; dates are UK local.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import duckdb
import polars as pl
import pytest

from warehouse.online_retail import LoadReport
from warehouse.settings import WarehouseSettings

pytestmark = pytest.mark.integration


def _orders(raw: pl.DataFrame) -> pl.DataFrame:
    """One row per (customer, invoice) with its UK-local date."""
    return (
        raw.filter(
            pl.col("CustomerID").is_not_null()
            & ~pl.col("InvoiceNo").str.starts_with("C")
            & (pl.col("Quantity") > 0)
            & (pl.col("UnitPrice") > 0)
        )
        .group_by("CustomerID", "InvoiceNo")
        .agg(pl.col("InvoiceDate").min().dt.date().alias("day"))
    )


def _query(settings: WarehouseSettings, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_monthly_cohort_retention_equals_the_raw_file(
    online_retail_warehouse: tuple[WarehouseSettings, LoadReport], raw_online_retail: pl.DataFrame
) -> None:
    orders = _orders(raw_online_retail).with_columns(pl.col("day").dt.truncate("1mo").alias("month"))
    cohorts = orders.group_by("CustomerID").agg(pl.col("month").min().alias("cohort"))
    active = (
        orders.join(cohorts, on="CustomerID")
        .with_columns(
            (
                (pl.col("month").dt.year() - pl.col("cohort").dt.year()) * 12
                + pl.col("month").dt.month()
                - pl.col("cohort").dt.month()
            ).alias("period")
        )
        .group_by("cohort", "period")
        .agg(pl.col("CustomerID").n_unique().alias("active"))
    )
    expected = {(row["cohort"], row["period"]): row["active"] for row in active.iter_rows(named=True)}

    rows = _query(
        online_retail_warehouse[0],
        "select cohort_start, periods_since, active_shoppers from fct_retention_cohorts where grain = 'month'",
    )
    assert {(cohort, period): active for cohort, period, active in rows} == expected
    assert expected[(date(2010, 12, 1), 0)] == 885  # the December 2010 cohort: 885 first-time buyers


def test_the_repurchase_rate_equals_the_raw_file(
    online_retail_warehouse: tuple[WarehouseSettings, LoadReport], raw_online_retail: pl.DataFrame
) -> None:
    per_customer = _orders(raw_online_retail).group_by("CustomerID").agg(pl.len().alias("orders"))
    buyers = per_customer.height
    repeat_buyers = per_customer.filter(pl.col("orders") >= 2).height

    [(mart_buyers, mart_repeaters)] = _query(
        online_retail_warehouse[0], "select sum(buyers), sum(repeat_buyers) from fct_repurchase"
    )
    assert (mart_buyers, mart_repeaters) == (buyers, repeat_buyers)
    assert 0.6 < repeat_buyers / buyers < 0.75  # a wholesale-heavy shop: about two in three buy again


def test_rfm_segments_equal_the_raw_file(
    online_retail_warehouse: tuple[WarehouseSettings, LoadReport], raw_online_retail: pl.DataFrame
) -> None:
    orders = _orders(raw_online_retail)
    last_day = orders["day"].max()
    assert isinstance(last_day, date)
    as_of = last_day + timedelta(days=1)
    rfm = (
        orders.group_by("CustomerID")
        .agg(pl.col("day").max().alias("last"), pl.len().alias("frequency"))
        .with_columns((pl.lit(as_of) - pl.col("last")).dt.total_days().alias("recency"))
        .with_columns(
            pl.when(pl.col("recency") <= 30)
            .then(3)
            .when(pl.col("recency") <= 90)
            .then(2)
            .otherwise(1)
            .alias("r"),
            pl.when(pl.col("frequency") >= 5)
            .then(3)
            .when(pl.col("frequency") >= 2)
            .then(2)
            .otherwise(1)
            .alias("f"),
        )
        .with_columns(
            pl.when((pl.col("r") == 3) & (pl.col("f") == 3))
            .then(pl.lit("champion"))
            .when((pl.col("r") >= 2) & (pl.col("f") >= 2))
            .then(pl.lit("loyal"))
            .when((pl.col("r") == 3) & (pl.col("f") == 1))
            .then(pl.lit("new"))
            .when((pl.col("r") == 1) & (pl.col("f") >= 2))
            .then(pl.lit("at_risk"))
            .when(pl.col("r") == 1)
            .then(pl.lit("hibernating"))
            .otherwise(pl.lit("needs_attention"))
            .alias("segment")
        )
    )
    expected = {f"uk-{row['CustomerID']}": row["segment"] for row in rfm.iter_rows(named=True)}

    rows = _query(online_retail_warehouse[0], "select person_id, rfm_segment from dim_users where orders > 0")
    assert dict(rows) == expected
    assert set(expected.values()) == {"champion", "loyal", "new", "at_risk", "hibernating", "needs_attention"}


def test_the_dirty_rows_are_handled_on_purpose_and_the_money_still_reconciles(
    online_retail_warehouse: tuple[WarehouseSettings, LoadReport],
) -> None:
    settings, report = online_retail_warehouse
    assert report.rows_without_customer == 135_080  # guest checkouts, as the dataset's README says
    assert report.refunds > 3_000 and report.rows_with_free_or_negative_price > 0
    [(orders, net_fen, refunded_fen)] = _query(
        settings, "select count(*), sum(net_paid_fen), sum(refunded_fen) from fct_orders where is_paid"
    )
    [(paid_fen,)] = _query(settings, "select sum(amount_fen) from fct_payments")
    [(refunds_fen,)] = _query(settings, "select sum(amount_fen) from fct_refunds")
    assert orders == report.orders
    assert net_fen == paid_fen - refunds_fen and refunded_fen == refunds_fen
    assert _query(
        settings,
        "select reconciliation_status, count(*) from dq_order_reports_vs_order_book group by all",
    ) == [("matched", report.orders)]
