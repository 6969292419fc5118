"""Every read the dashboards make, in one place: parameterised SQL against the marts of the published warehouse.

Each query opens the published file afresh, read-only, so the next query after a publish sees the new build.
It attaches the file into a new in-memory DuckDB instance rather than `duckdb.connect(path)`: DuckDB reuses the
instance it already has open for a path in this process, which would keep serving the replaced file.
Results are cached for a few seconds so many sessions share one query, while live numbers still move.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import streamlit as st

CACHE_TTL_S = 5


@dataclass(frozen=True, slots=True)
class WarehouseStatus:
    built_at: datetime
    last_event_received_at: datetime | None
    event_count: int


@dataclass(frozen=True, slots=True)
class FunnelOptions:
    """What the funnel filters can offer: the channels and scenes present and the dates covered."""

    channels: tuple[str, ...]
    scenes: tuple[int, ...]
    first_date: date
    last_date: date


@contextmanager
def read_only(warehouse_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    try:
        connection.execute("attach ? as warehouse (read_only)", [str(warehouse_path)])
        connection.execute("use warehouse")
        yield connection
    finally:
        connection.close()


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def warehouse_status(warehouse_path: Path) -> WarehouseStatus | None:
    """When the published warehouse was built; None when nothing has been published yet."""
    if not warehouse_path.exists():
        return None
    with read_only(warehouse_path) as connection:
        row = connection.execute(
            "select built_at, last_event_received_at, event_count from meta_build_info"
        ).fetchone()
    if row is None:
        return None
    return WarehouseStatus(built_at=row[0], last_event_received_at=row[1], event_count=int(row[2]))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def funnel_options(warehouse_path: Path) -> FunnelOptions | None:
    """The filter choices of the funnel page; None when the mart has no rows yet."""
    with read_only(warehouse_path) as connection:
        bounds = connection.execute(
            "select min(event_date), max(event_date) from fct_funnel_daily"
        ).fetchone()
        if bounds is None or bounds[0] is None:
            return None
        channels = connection.execute(
            "select distinct channel from fct_funnel_daily order by channel"
        ).fetchall()
        scenes = connection.execute("select distinct scene from fct_funnel_daily order by scene").fetchall()
    return FunnelOptions(
        channels=tuple(str(row[0]) for row in channels),
        scenes=tuple(int(row[0]) for row in scenes),
        first_date=bounds[0],
        last_date=bounds[1],
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def funnel_daily(
    warehouse_path: Path,
    *,
    start: date,
    end: date,
    channels: tuple[str, ...] = (),
    scenes: tuple[int, ...] = (),
) -> pl.DataFrame:
    """fct_funnel_daily rows between two shop dates (inclusive); empty channels/scenes mean all of them."""
    with read_only(warehouse_path) as connection:
        result = connection.sql(
            """
            select
                event_date, channel, scene,
                viewed_shoppers, added_shoppers, checkout_shoppers, paid_shoppers,
                orders, gmv_fen, gmv_yuan, view_to_paid_rate
            from fct_funnel_daily
            where event_date between $start and $end
                and (len($channels) = 0 or list_contains($channels, channel))
                and (len($scenes) = 0 or list_contains($scenes, scene))
            order by event_date desc, viewed_shoppers desc, channel, scene
            """,
            params={"start": start, "end": end, "channels": list(channels), "scenes": list(scenes)},
        )
        return pl.DataFrame(result.to_arrow_table())


@dataclass(frozen=True, slots=True)
class PeriodTotals:
    """The Overview's headline numbers for one period (paid orders from the order book, visits from sessions)."""

    orders: int
    gmv_fen: int
    buyers: int
    active_shoppers: int


def _frame(warehouse_path: Path, sql: str, params: dict[str, object] | None = None) -> pl.DataFrame:
    with read_only(warehouse_path) as connection:
        return pl.DataFrame(connection.sql(sql, params=params or {}).to_arrow_table())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def data_dates(warehouse_path: Path) -> tuple[date, date] | None:
    """The first and last shop dates with sessions or paid orders; None when both marts are empty."""
    with read_only(warehouse_path) as connection:
        row = connection.execute(
            """
            select min(d), max(d) from (
                select session_date as d from fct_sessions
                union all select paid_date from fct_orders where is_paid
            )
            """
        ).fetchone()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def period_totals(warehouse_path: Path, *, start: date, end: date) -> PeriodTotals:
    with read_only(warehouse_path) as connection:
        row = connection.execute(
            """
            select
                (select count(*) from fct_orders where is_paid and paid_date between $start and $end),
                (select coalesce(sum(paid_fen), 0) from fct_orders where is_paid and paid_date between $start and $end),
                (select count(distinct person_id) from fct_orders
                    where is_paid and paid_date between $start and $end),
                (select count(distinct person_id) from fct_sessions where session_date between $start and $end)
            """,
            {"start": start, "end": end},
        ).fetchone()
    assert row is not None  # an aggregate always returns one row
    return PeriodTotals(
        orders=int(row[0]), gmv_fen=int(row[1]), buyers=int(row[2]), active_shoppers=int(row[3])
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def daily_sales(warehouse_path: Path, *, start: date, end: date) -> pl.DataFrame:
    """Per shop day: paid orders, GMV (fen), buyers and active shoppers."""
    return _frame(
        warehouse_path,
        """
        with days as (select unnest(generate_series($start::date, $end::date, interval 1 day))::date as day),
        sales as (
            select paid_date as day, count(*) as orders, sum(paid_fen) as gmv_fen,
                count(distinct person_id) as buyers
            from fct_orders where is_paid and paid_date between $start and $end group by 1
        ),
        visits as (
            select session_date as day, count(distinct person_id) as active_shoppers
            from fct_sessions where session_date between $start and $end group by 1
        )
        select days.day, coalesce(orders, 0) as orders, coalesce(gmv_fen, 0)::bigint as gmv_fen,
            coalesce(buyers, 0) as buyers, coalesce(active_shoppers, 0) as active_shoppers
        from days left join sales using (day) left join visits using (day)
        order by days.day
        """,
        {"start": start, "end": end},
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def retention_cohorts(warehouse_path: Path, *, grain: str) -> pl.DataFrame:
    return _frame(
        warehouse_path,
        """
        select cohort_start, periods_since, cohort_shoppers, active_shoppers, retention_rate
        from fct_retention_cohorts where grain = $grain order by cohort_start, periods_since
        """,
        {"grain": grain},
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def repurchase(warehouse_path: Path) -> pl.DataFrame:
    return _frame(
        warehouse_path,
        """
        select cohort_month, buyers, repeat_buyers, repeat_rate, orders,
            avg_days_between_orders, median_days_between_orders
        from fct_repurchase order by cohort_month
        """,
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def product_performance(warehouse_path: Path, *, start: date, end: date) -> pl.DataFrame:
    """Per product over the dates: views, viewers, cart adds, buyers, units, revenue (fen); best sellers first."""
    return _frame(
        warehouse_path,
        """
        select d.product_id, coalesce(p.name, d.product_id) as name, coalesce(p.category, '') as category,
            sum(d.views)::bigint as views, sum(d.viewers)::bigint as viewers, sum(d.cart_adds)::bigint as cart_adds,
            sum(d.buyers)::bigint as buyers, sum(d.units)::bigint as units, sum(d.revenue_fen)::bigint as revenue_fen
        from fct_product_daily d left join dim_products p using (product_id)
        where d.event_date between $start and $end
        group by all
        order by revenue_fen desc, units desc, d.product_id
        """,
        {"start": start, "end": end},
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def product_dates(warehouse_path: Path) -> tuple[date, date] | None:
    with read_only(warehouse_path) as connection:
        row = connection.execute("select min(event_date), max(event_date) from fct_product_daily").fetchone()
    return None if row is None or row[0] is None else (row[0], row[1])


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def rfm_segments(warehouse_path: Path) -> pl.DataFrame:
    return _frame(
        warehouse_path,
        """
        select rfm_segment, count(*) as shoppers, sum(orders)::bigint as orders,
            sum(lifetime_value_fen)::bigint as lifetime_value_fen
        from dim_users group by 1 order by shoppers desc, rfm_segment
        """,
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def interest_tags(warehouse_path: Path, *, limit: int = 20) -> pl.DataFrame:
    return _frame(
        warehouse_path,
        """
        select tag, count(*) as shoppers
        from (select unnest(interest_tags) as tag from dim_users)
        group by 1 order by shoppers desc, tag limit $limit
        """,
        {"limit": limit},
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def active_hours(warehouse_path: Path) -> pl.DataFrame:
    """Shoppers per usual active hour of the day (0-23, shop time), every hour present."""
    return _frame(
        warehouse_path,
        """
        with hours as (select unnest(usual_active_hours) as hour from dim_users)
        select h.hour, count(hours.hour) as shoppers
        from (select unnest(range(24))::bigint as hour) h left join hours using (hour)
        group by 1 order by 1
        """,
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def regions(warehouse_path: Path, *, start: date, end: date) -> pl.DataFrame:
    """Per province over the dates (shopper-days, as the mart is daily): active shoppers, buyers, orders, GMV."""
    return _frame(
        warehouse_path,
        """
        select coalesce(province, '未知') as province, sum(active_shoppers)::bigint as active_shoppers,
            sum(buyers)::bigint as buyers, sum(orders)::bigint as orders, sum(gmv_fen)::bigint as gmv_fen
        from fct_region_daily where event_date between $start and $end
        group by 1 order by active_shoppers desc, province
        """,
        {"start": start, "end": end},
    )


@dataclass(frozen=True, slots=True)
class ReferralTotals:
    shares: int
    sharers: int
    new_shoppers: int
    attributed_orders: int
    attributed_gmv_fen: int
    rewards: int

    @property
    def k_factor(self) -> float | None:
        """New shoppers brought in per sharer over the period."""
        return self.new_shoppers / self.sharers if self.sharers else None


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def referral_totals(warehouse_path: Path, *, start: date, end: date) -> ReferralTotals:
    with read_only(warehouse_path) as connection:
        row = connection.execute(
            """
            select count(*), count(distinct sharer_person_id), coalesce(sum(new_shoppers), 0),
                coalesce(sum(attributed_orders), 0), coalesce(sum(attributed_gmv_fen), 0),
                -- A sharer's referral rewards repeat on each of their shares: counted once per sharer.
                coalesce((
                    select sum(rewards) from (
                        select max(sharer_referral_rewards) as rewards from fct_referrals
                        where shared_date between $start and $end group by sharer_person_id
                    )
                ), 0)
            from fct_referrals where shared_date between $start and $end
            """,
            {"start": start, "end": end},
        ).fetchone()
    assert row is not None
    return ReferralTotals(*(int(value) for value in row))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def referrals_daily(warehouse_path: Path, *, start: date, end: date) -> pl.DataFrame:
    return _frame(
        warehouse_path,
        """
        select shared_date, shares, sharers, new_shoppers, k_factor, attributed_orders, attributed_gmv_fen
        from fct_referrals_daily where shared_date between $start and $end order by shared_date
        """,
        {"start": start, "end": end},
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def top_sharers(warehouse_path: Path, *, start: date, end: date, limit: int = 20) -> pl.DataFrame:
    return _frame(
        warehouse_path,
        """
        select sharer_person_id, count(*) as shares, sum(entered_shoppers)::bigint as entered_shoppers,
            sum(new_shoppers)::bigint as new_shoppers, sum(attributed_orders)::bigint as attributed_orders,
            sum(attributed_gmv_fen)::bigint as attributed_gmv_fen,
            max(sharer_referral_rewards)::bigint as rewards  -- the sharer's, on each of their shares
        from fct_referrals where shared_date between $start and $end
        group by 1 order by new_shoppers desc, attributed_gmv_fen desc, sharer_person_id limit $limit
        """,
        {"start": start, "end": end, "limit": limit},
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def share_trees(warehouse_path: Path, *, start: date, end: date, limit: int = 50) -> pl.DataFrame:
    """The largest share trees started in the dates: root, sharer, size, depth, new shoppers, GMV."""
    return _frame(
        warehouse_path,
        """
        select root_share_id, arg_min(sharer_person_id, depth) as root_sharer, count(*) as shares,
            max(depth) as depth, sum(new_shoppers)::bigint as new_shoppers,
            sum(attributed_gmv_fen)::bigint as attributed_gmv_fen
        from fct_referrals
        where root_share_id in (select share_id from fct_referrals
                                where parent_share_id is null and shared_date between $start and $end)
        group by 1 order by shares desc, new_shoppers desc, root_share_id limit $limit
        """,
        {"start": start, "end": end, "limit": limit},
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def share_tree(warehouse_path: Path, *, root_share_id: str) -> pl.DataFrame:
    return _frame(
        warehouse_path,
        """
        select share_id, parent_share_id, depth, sharer_person_id, product_id, share_via, shared_at,
            entered_shoppers, new_shoppers, attributed_orders, attributed_gmv_fen
        from fct_referrals where root_share_id = $root order by depth, shared_at, share_id
        """,
        {"root": root_share_id},
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def experiments(warehouse_path: Path) -> pl.DataFrame:
    return _frame(
        warehouse_path,
        """
        select experiment_id, variant, is_control, exposed_shoppers, converted_shoppers, orders, revenue_fen,
            conversion_rate, conversion_ci_low, conversion_ci_high, uplift, z_score, p_value, is_significant
        from fct_experiments order by experiment_id, is_control desc, variant
        """,
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def live_minutes(warehouse_path: Path, *, minutes: int) -> pl.DataFrame:
    """The latest `minutes` minutes that have numbers, oldest first."""
    return _frame(
        warehouse_path,
        """
        select minute_at, events, new_shoppers, product_views, cart_adds, checkouts, orders, gmv_fen
        from fct_live_minutes
        where minute_at > (select max(minute_at) from fct_live_minutes) - to_minutes($minutes::integer)
        order by minute_at
        """,
        {"minutes": minutes},
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def pushes(warehouse_path: Path) -> pl.DataFrame:
    return _frame(
        warehouse_path,
        """
        select rule_id, rule_version, treated_shoppers, sent, opened, converted, attributed_revenue_fen,
            holdout_shoppers, holdout_converted, conversion_rate, holdout_conversion_rate,
            lift, lift_ci_low, lift_ci_high
        from fct_pushes order by rule_id, rule_version desc
        """,
    )


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def audience_filter_options(warehouse_path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The RFM segments and provinces an audience can be narrowed to (a shopper of unknown province matches no
    province filter, in the streams as here, so it is not offered)."""
    with read_only(warehouse_path) as connection:
        segments = connection.execute("select distinct rfm_segment from dim_users order by 1").fetchall()
        provinces = connection.execute(
            "select distinct province from dim_users where province is not null order by 1"
        ).fetchall()
    return tuple(str(row[0]) for row in segments), tuple(str(row[0]) for row in provinces)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def audience_size(
    warehouse_path: Path,
    *,
    kind: str,
    delay_s: int,
    segments: tuple[str, ...] = (),
    provinces: tuple[str, ...] = (),
    min_paid_orders: int = 0,
) -> int:
    """How many shoppers a rule would reach today, from the marts (an estimate before the streams run it).

    The audience filters are the rule's own (`streams.automations.rules.Audience`) on dim_users, whose RFM
    segment, province and paid orders the streams compute with the same definitions when a push is due.

    Abandoned cart: owners of abandoned carts last changed within the cooldown week and at least `delay_s` ago.
    Win-back: shoppers who have ordered and not been seen for `delay_s`. Birthday: the whole filtered base
    (the marts hold no birthdays).
    """
    with read_only(warehouse_path) as connection:
        row = connection.execute(
            """
            with now as (select coalesce((select max(last_event_received_at) from meta_build_info), now()) as moment),
            audience as (
                select u.person_id
                from dim_users u
                where (len($segments) = 0 or list_contains($segments, u.rfm_segment))
                    and (len($provinces) = 0 or coalesce(list_contains($provinces, u.province), false))
                    and u.orders >= $min_paid_orders
                    and case $kind
                        when 'abandoned_cart' then exists (
                            select 1 from fct_cart_abandonment c, now
                            where c.person_id = u.person_id and c.is_abandoned
                                and c.last_added_at <= now.moment - to_seconds($delay_s::bigint)
                                and c.last_added_at > now.moment - interval 7 day)
                        when 'win_back' then u.orders > 0 and u.last_seen_at <= (
                            select moment from now) - to_seconds($delay_s::bigint)
                        else true
                    end
            )
            select count(*) from audience
            """,
            {
                "kind": kind,
                "delay_s": delay_s,
                "segments": list(segments),
                "provinces": list(provinces),
                "min_paid_orders": min_paid_orders,
            },
        ).fetchone()
    return int(row[0]) if row else 0


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def most_active_shoppers(warehouse_path: Path, *, limit: int = 50) -> tuple[str, ...]:
    with read_only(warehouse_path) as connection:
        rows = connection.execute(
            # The recommender keys shoppers by their order-core user id when they have one (recsys.warehouse).
            "select coalesce(user_id, person_id) from dim_users order by events desc, 1 limit ?",
            [limit],
        ).fetchall()
    return tuple(str(row[0]) for row in rows)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def recommendation_clicks(warehouse_path: Path, *, days: int = 28) -> pl.DataFrame:
    """Per shop day of the latest `days` and model version: recommendation lists shown, taps, lists tapped and
    the click-through rate (lists tapped / lists shown), from the fct_recommendation_daily mart."""
    return _frame(
        warehouse_path,
        """
        select event_date, model_version, lists_shown, clicks, lists_clicked, click_through_rate
        from fct_recommendation_daily
        where event_date > (select max(event_date) from fct_recommendation_daily) - $days::integer
        order by event_date, model_version
        """,
        {"days": days},
    )
