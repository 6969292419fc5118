"""A warehouse file shaped like the published one (every mart the dashboards read), filled with made-up shops.

Used by the browser test, the screenshots and `bench/dashboards.py`; `write_sample_warehouse(shoppers=...)`
scales it. The columns mirror the dbt marts; tests of exact numbers seed their own rows with `create_marts`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import duckdb

MART_COLUMNS: Final[dict[str, str]] = {
    "dim_products": "product_id varchar, name varchar, category varchar, latest_price_fen bigint, first_seen_at timestamptz, views bigint, cart_adds bigint, units_sold bigint, revenue_fen bigint",
    "dim_users": "person_id varchar, user_id varchar, first_seen_at timestamptz, first_seen_date date, last_seen_at timestamptz, acquisition_channel varchar, acquisition_scene integer, referrer_share_id varchar, referrer_person_id varchar, province varchar, city varchar, country varchar, gender varchar, orders bigint, first_order_at timestamptz, last_order_at timestamptz, lifetime_value_fen bigint, lifetime_value_yuan decimal(18,2), recency_days bigint, recency_score integer, frequency_score integer, rfm_segment varchar, interest_tags varchar[], usual_active_hours bigint[], events bigint",
    "fct_cart_abandonment": "cart_id varchar, person_id varchar, first_added_at timestamptz, last_added_at timestamptz, last_added_date date, adds bigint, products bigint, value_fen bigint, converted_at timestamptz, is_converted boolean, is_abandoned boolean",
    "fct_coupons": "coupon_id varchar, campaign_id varchar, user_id varchar, grant_source varchar, granted_at timestamptz, redeemed_order_id varchar, discount_fen bigint, redeemed_at timestamptz, is_redeemed boolean",
    "fct_experiments": "experiment_id varchar, variant varchar, is_control boolean, exposed_shoppers bigint, converted_shoppers bigint, orders bigint, revenue_fen bigint, revenue_yuan decimal(18,2), aov_fen double, conversion_rate double, conversion_ci_low double, conversion_ci_high double, uplift double, z_score double, p_value double, is_significant boolean",
    "fct_funnel_daily": "event_date date, channel varchar, scene integer, viewed_shoppers bigint, added_shoppers bigint, checkout_shoppers bigint, paid_shoppers bigint, orders bigint, gmv_fen bigint, gmv_yuan decimal(18,2), view_to_cart_rate double, cart_to_checkout_rate double, checkout_to_paid_rate double, view_to_paid_rate double",
    "fct_live_minutes": "minute_at timestamptz, minute_date date, events bigint, new_shoppers bigint, product_views bigint, cart_adds bigint, checkouts bigint, orders bigint, gmv_fen bigint, gmv_yuan decimal(18,2)",
    "fct_order_items": "order_item_id varchar, order_id varchar, line_number integer, person_id varchar, product_id varchar, quantity bigint, unit_price_fen bigint, line_fen bigint, is_paid boolean, placed_date date",
    "fct_orders": "order_id varchar, user_id varchar, person_id varchar, channel varchar, scene integer, coupon_id varchar, status varchar, units bigint, items_fen bigint, shipping_fen bigint, discount_fen bigint, total_fen bigint, paid_fen bigint, refunded_fen bigint, net_paid_fen bigint, net_paid_yuan decimal(18,2), is_paid boolean, placed_at timestamptz, placed_date date, paid_at timestamptz, paid_date date, transaction_id varchar",
    "fct_payments": "payment_id varchar, transaction_id varchar, order_id varchar, user_id varchar, person_id varchar, amount_fen bigint, amount_yuan decimal(18,2), paid_at timestamptz, paid_date date",
    "fct_product_daily": "event_date date, product_id varchar, views bigint, viewers bigint, cart_adds bigint, buyers bigint, units bigint, revenue_fen bigint, revenue_yuan decimal(18,2), view_to_purchase_rate double",
    "fct_pushes": "rule_id varchar, rule_version integer, treated_shoppers bigint, sent bigint, opened bigint, converted bigint, attributed_revenue_fen bigint, holdout_shoppers bigint, holdout_converted bigint, conversion_rate double, holdout_conversion_rate double, lift double, lift_ci_low double, lift_ci_high double",
    "fct_recommendation_daily": "event_date date, model_version varchar, lists_shown bigint, products_shown bigint, clicks bigint, lists_clicked bigint, click_through_rate double, product_click_through_rate double",
    "fct_referrals": "share_id varchar, parent_share_id varchar, root_share_id varchar, depth integer, sharer_person_id varchar, product_id varchar, share_event varchar, share_via varchar, shared_at timestamptz, shared_date date, entered_shoppers bigint, new_shoppers bigint, attributed_orders bigint, attributed_gmv_fen bigint, sharer_referral_rewards bigint",
    "fct_referrals_daily": "shared_date date, shares bigint, sharers bigint, new_shoppers bigint, k_factor double, attributed_orders bigint, attributed_gmv_fen bigint",
    "fct_refunds": "refund_id varchar, order_id varchar, user_id varchar, amount_fen bigint, amount_yuan decimal(18,2), reason varchar, requested_at timestamptz, refunded_at timestamptz, refunded_date date",
    "fct_region_daily": "event_date date, province varchar, city varchar, active_shoppers bigint, buyers bigint, orders bigint, gmv_fen bigint, gmv_yuan decimal(18,2)",
    "fct_repurchase": "cohort_month date, buyers bigint, repeat_buyers bigint, repeat_rate double, orders bigint, avg_days_between_orders double, median_days_between_orders double",
    "fct_retention_cohorts": "grain varchar, cohort_start date, periods_since integer, cohort_shoppers bigint, active_shoppers bigint, retention_rate double",
    "fct_sessions": "session_id varchar, person_id varchar, session_number integer, started_at timestamptz, ended_at timestamptz, session_date date, duration_s bigint, channel varchar, scene integer, events bigint, page_views bigint, product_views bigint, cart_adds bigint, has_reported_order boolean",
    "meta_build_info": "built_at timestamptz, last_event_received_at timestamptz, event_count bigint, shop_timezone varchar",
}

# The staged events the recommender reads besides the marts (the real model has many more columns).
STAGED_EVENT_COLUMNS: Final = (
    "person_id varchar, event_name varchar, product_id varchar, event_at timestamptz, event_date date"
)
CATEGORIES: Final = ("美妆护肤", "母婴", "零食", "茶饮", "家居", "服饰", "数码", "生鲜")
PROVINCES: Final = (
    "广东",
    "浙江",
    "江苏",
    "上海",
    "北京",
    "四川",
    "湖北",
    "山东",
    "福建",
    "湖南",
    "河南",
    "陕西",
)
SEGMENTS: Final = ("champion", "loyal", "new", "at_risk", "hibernating", "prospect")
CHANNELS: Final = ("share_single_chat", "share_group_chat", "search", "qr_code", "official_account_article")


def create_marts(connection: duckdb.DuckDBPyConnection) -> None:
    """Create every mart (empty) with the published columns, and the staged events the recommender reads."""
    for table, columns in MART_COLUMNS.items():
        connection.execute(f"create table {table} ({columns})")
    connection.execute("create schema staging")
    connection.execute(f"create table staging.stg_lake__events ({STAGED_EVENT_COLUMNS})")


def write_sample_warehouse(
    path: Path, *, shoppers: int = 2000, days: int = 56, now: datetime | None = None
) -> Path:
    """Write a deterministic sample warehouse of `shoppers` people over the `days` up to `now`."""
    built_at = now or datetime.now(UTC)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    params = {
        "now": built_at,
        "shoppers": shoppers,
        "days": days,
        "categories": list(CATEGORIES),
        "provinces": list(PROVINCES),
        "segments": list(SEGMENTS),
        "channels": list(CHANNELS),
    }
    with duckdb.connect(str(path)) as connection:
        connection.execute("set timezone = 'UTC'")
        create_marts(connection)
        for statement in _SAMPLE_SQL:
            used = {name: value for name, value in params.items() if f"${name}" in statement}
            connection.execute(statement, used)
        connection.execute(
            "insert into meta_build_info values (?, ?, (select sum(events) from fct_sessions), 'Asia/Shanghai')",
            [built_at, built_at - timedelta(seconds=2)],
        )
    return path


# hash(x) % n gives stable pseudo-random choices; every statement reads only earlier marts.
_SAMPLE_SQL: Final = (
    """
    insert into dim_products
    select 'p-' || lpad(i::varchar, 4, '0'), '商品 ' || i, $categories[1 + i % 8], 990 + (hash(i) % 300) * 100,
        $now - interval 90 day, 0, 0, 0, 0
    from range(1, 241) t(i)
    """,
    """
    insert into dim_users
    with people as (
        select i, (hash(i * 7919) % 1000003)::bigint as h, ($now - to_days((i * 7 % $days)::integer)) as first_seen_at
        from range(1, $shoppers + 1) t(i)
    )
    select 'u' || i, 'wx' || i, first_seen_at, (first_seen_at at time zone 'Asia/Shanghai')::date,
        first_seen_at + to_days((h % 5)::integer), $channels[1 + h % 5], 1007, null, null,
        $provinces[1 + (h // 7) % 12], null, '中国', case when h % 2 = 0 then 'female' else 'male' end,
        h % 4, null, null, (h % 4) * (5000 + h % 20000), ((h % 4) * (5000 + h % 20000)) / 100,
        h % 60, 1 + h % 5, 1 + h % 3, $segments[1 + (h // 11) % 6],
        [$categories[1 + h % 8], $categories[1 + (h // 8) % 8]], [(h % 24)::bigint, ((h // 24) % 24)::bigint],
        20 + h % 200
    from people
    """,
    """
    insert into fct_sessions
    select 's' || p.i || '-' || k, 'u' || p.i, k, started, started + interval 5 minute,
        (started at time zone 'Asia/Shanghai')::date, 300, $channels[1 + (p.i + k) % 5], 1007,
        12, 4, 3, (p.i + k) % 2, false
    from (select i from range(1, $shoppers + 1) t(i)) p, range(1, 5) s(k),
        lateral (select $now - to_days(((p.i * 31 + k * 17) % $days)::integer)
            - to_minutes(((p.i * 13 + k) % 600)::integer) as started)
    """,
    """
    insert into fct_orders
    select 'o' || i, 'wx' || (1 + i % $shoppers), 'u' || (1 + i % $shoppers), $channels[1 + i % 5], 1007, null,
        case when i % 10 = 0 then 'closed' else 'paid' end, 1 + i % 3, amount, 0, 0, amount,
        case when i % 10 = 0 then 0 else amount end, 0, case when i % 10 = 0 then 0 else amount end,
        (case when i % 10 = 0 then 0 else amount end) / 100, i % 10 <> 0, placed, (placed at time zone 'Asia/Shanghai')::date,
        case when i % 10 = 0 then null else placed + interval 1 minute end,
        case when i % 10 = 0 then null else ((placed + interval 1 minute) at time zone 'Asia/Shanghai')::date end,
        null
    from range(1, ($shoppers * 0.6)::bigint + 1) t(i),
        lateral (select 1990 + (hash(i) % 400) * 50 as amount,
            $now - to_days((i % $days)::integer) - to_minutes(((i * 11) % 600)::integer) as placed)
    """,
    """
    -- Each shopper buys mostly in their first interest category (dim_users.interest_tags[1]), the 30 products
    -- of a category skewed towards its first ones, one line in five from their second interest: a taste a
    -- recommender can learn.
    insert into fct_order_items
    select o.order_id || '-' || k, o.order_id, k, o.person_id, 'p-' || lpad(product::varchar, 4, '0'), 1,
        p.latest_price_fen, p.latest_price_fen, o.is_paid, o.placed_date
    from fct_orders o, range(1, 4) l(k),
        lateral (select (hash(replace(o.person_id, 'u', '')::bigint * 7919) % 1000003)::bigint as h,
            hash(o.order_id, k) as pick),
        lateral (select case when pick % 5 = 0 then (h // 8) % 8 else h % 8 end as category),
        lateral (select coalesce(nullif(category + 8 * least(pick // 5 % 30, pick // 150 % 30), 0), 240)
            as product),
        dim_products p
    where k <= o.units and p.product_id = 'p-' || lpad(product::varchar, 4, '0')
    """,
    """
    -- Views and add-to-carts in the same categories, spread over the days of the sample.
    insert into staging.stg_lake__events
    select u.person_id, case when k % 4 = 0 then 'Product Added' else 'Product Viewed' end,
        'p-' || lpad(product::varchar, 4, '0'), seen_at, (seen_at at time zone 'Asia/Shanghai')::date
    from dim_users u, range(0, 8) v(k),
        lateral (select (hash(replace(u.person_id, 'u', '')::bigint * 7919) % 1000003)::bigint as h,
            hash(u.person_id, k) as pick),
        lateral (select case when pick % 4 = 0 then (h // 8) % 8 else h % 8 end as category),
        lateral (select coalesce(nullif(category + 8 * least(pick // 4 % 30, pick // 120 % 30), 0), 240)
            as product),
        lateral (select $now - to_days((pick % $days)::integer) - to_minutes((pick % 600)::integer) as seen_at)
    """,
    """
    -- Recommendation lists on screen per day and model version (the model retrained weekly, best sellers
    -- before it); about one list in nine is tapped.
    insert into fct_recommendation_daily
    select d, version, shown, shown * 6, taps + taps // 5, taps, taps / shown, (taps + taps // 5) / (shown * 6)
    from (
        select (($now at time zone 'Asia/Shanghai')::date - day::integer)::date as d,
            case when day >= $days - 7 then 'popular' else 'run-' || lpad((($days - day) // 7)::varchar, 2, '0')
                end as version,
            ($shoppers / 4 + (day * 37) % 60)::bigint as shown
        from range(0, $days) a(day)
    ), lateral (select shown // 9 + (hash(d) % 5)::bigint as taps)
    """,
    """
    insert into fct_funnel_daily
    select d, c, 1007, v, a, ck, pd, pd, pd * 8800, pd * 88, a / v, ck / a, pd / ck, pd / v
    from (
        select (($now at time zone 'Asia/Shanghai')::date - day::integer)::date as d, $channels[1 + j] as c,
            ($shoppers / 10 + (day * 7 + j * 13) % 50)::bigint as v
        from range(0, $days) a(day), range(0, 5) b(j)
    ), lateral (select v * 2 // 5 as a, v // 4 as ck, v // 8 as pd)
    """,
    """
    insert into fct_product_daily
    select d, product_id, v, v * 3 // 4, v // 4, v // 10, v // 8, (v // 8) * latest_price_fen,
        (v // 8) * latest_price_fen / 100, (v // 10) / (v * 3 // 4)
    from dim_products, range(0, 28) a(day),
        lateral (select (($now at time zone 'Asia/Shanghai')::date - day::integer)::date as d,
            (8 + (hash(product_id) + day) % 60)::bigint as v)
    """,
    """
    update dim_products set views = t.views, cart_adds = t.cart_adds, units_sold = t.units, revenue_fen = t.revenue
    from (select product_id, sum(views) as views, sum(cart_adds) as cart_adds, sum(units) as units,
            sum(revenue_fen) as revenue from fct_product_daily group by 1) t
    where dim_products.product_id = t.product_id
    """,
    """
    insert into fct_region_daily
    select (($now at time zone 'Asia/Shanghai')::date - day::integer)::date, $provinces[k + 1], null, s, s // 5, s // 4,
        (s // 4) * 9900, (s // 4) * 99
    from range(0, $days) a(day), range(0, len($provinces)) u(k),
        lateral (select ($shoppers / 40 + (k * 7) % 40 + day % 7)::bigint as s)
    """,
    """
    insert into fct_retention_cohorts
    select 'week', start, k, cohort, case when k = 0 then cohort else cohort * (40 - k * 3) // 100 end,
        case when k = 0 then 1.0 else (cohort * (40 - k * 3) // 100) / cohort end
    from range(0, 8) w(n), range(0, 8) p(k),
        lateral (select (date_trunc('week', ($now at time zone 'Asia/Shanghai')::date) - to_weeks(n::integer))::date
            as start, ($shoppers / 8 + n * 9)::bigint as cohort)
    where k <= n
    union all
    select 'month', start, k, cohort, case when k = 0 then cohort else cohort * (30 - k * 5) // 100 end,
        case when k = 0 then 1.0 else (cohort * (30 - k * 5) // 100) / cohort end
    from range(0, 3) w(n), range(0, 3) p(k),
        lateral (select (date_trunc('month', ($now at time zone 'Asia/Shanghai')::date) - to_months(n::integer))::date
            as start, ($shoppers / 3 + n * 20)::bigint as cohort)
    where k <= n
    """,
    """
    insert into fct_repurchase
    select (date_trunc('month', ($now at time zone 'Asia/Shanghai')::date) - to_months(n::integer))::date,
        b, b * (20 + n * 4) // 100, b + b * (20 + n * 4) // 100, 12.5 + n, 10.0 + n, 0
    from range(0, 3) t(n), lateral (select ($shoppers / 4 + n * 11)::bigint as b)
    """,
    """
    update fct_repurchase set repeat_rate = repeat_buyers / buyers
    """,
    """
    insert into fct_referrals
    with shares as (
        select i, case when i % 4 = 1 then null else i - 1 - (i % 4 = 0)::integer end as parent
        from range(1, ($shoppers * 0.2)::bigint + 1) t(i)
    )
    select 'sh' || i, case when parent is null then null else 'sh' || parent end,
        'sh' || (i - (i - 1) % 4), 1 + (i - 1) % 4 - ((i - 1) % 4 = 3)::integer, 'u' || (1 + (i * 37) % 50),
        'p-' || lpad((1 + i % 240)::varchar, 4, '0'), 'Product Shared',
        case when i % 2 = 0 then 'group_chat' else 'single_chat' end, ts, (ts at time zone 'Asia/Shanghai')::date,
        2 + i % 5, i % 3, i % 2, (i % 2) * 5900, (i % 3 = 0)::integer
    from shares, lateral (select $now - to_days((i % 28)::integer) - to_minutes((i % 300)::integer) as ts)
    """,
    """
    insert into fct_referrals_daily
    select shared_date, count(*), count(distinct sharer_person_id), sum(new_shoppers),
        sum(new_shoppers) / count(distinct sharer_person_id), sum(attributed_orders), sum(attributed_gmv_fen)
    from fct_referrals group by 1
    """,
    """
    insert into fct_experiments values
        ('checkout_button_color', 'control', true, 4000, 480, 500, 4400000, 44000, 8800.0, 0.12, 0.110, 0.130,
            null, null, null, null),
        ('checkout_button_color', 'green', false, 4000, 560, 590, 5200000, 52000, 8813.6, 0.14, 0.129, 0.151,
            0.02, 2.66, 0.0078, true),
        ('coupon_banner', 'control', true, 1000, 100, 100, 880000, 8800, 8800.0, 0.10, 0.081, 0.119,
            null, null, null, null),
        ('coupon_banner', 'banner', false, 1000, 104, 104, 915200, 9152, 8800.0, 0.104, 0.085, 0.123,
            0.004, 0.30, 0.77, false)
    """,
    """
    insert into fct_pushes values
        ('cart-reminder', 3, 900, 880, 420, 132, 1161600, 100, 9, 0.15, 0.09, 0.06, 0.002, 0.118),
        ('win-back', 1, 450, 450, 120, 27, 237600, 50, 2, 0.06, 0.04, 0.02, -0.040, 0.080)
    """,
    """
    insert into fct_live_minutes
    select m, (m at time zone 'Asia/Shanghai')::date, e, e // 6, e // 3, e // 10, e // 25, e // 40,
        (e // 40) * 8800, (e // 40) * 88
    from range(0, 120) t(k),
        lateral (select date_trunc('minute', $now) - to_minutes(k::integer) as m,
            (2000 + (hash(k) % 1500))::bigint as e)
    """,
    """
    insert into fct_cart_abandonment
    select 'c' || i, 'u' || (1 + i % $shoppers), ts, ts, (ts at time zone 'Asia/Shanghai')::date, 1 + i % 3,
        1 + i % 2, 3900 + (i % 20) * 100, null, false, true
    from range(1, ($shoppers * 0.3)::bigint + 1) t(i),
        lateral (select $now - to_hours((i % 240)::integer) as ts)
    """,
)
