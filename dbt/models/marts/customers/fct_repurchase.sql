-- Repurchase per first-purchase month: buyers, those who paid again, and the days between consecutive orders.

-- Read from int_buyers_summarised (incremental per buyer): each buyer's first paid date, paid orders and the days
-- between their consecutive paid orders.

with

buyers as (

    select
        person_id,
        date_trunc('month', first_order_date)::date as cohort_month,
        orders,
        days_between_orders
    from {{ ref('int_buyers_summarised') }}
    where orders > 0

),

gaps as (

    select
        cohort_month,
        avg(days_since_previous_order) as avg_days_between_orders,
        median(days_since_previous_order) as median_days_between_orders
    from (select cohort_month, unnest(days_between_orders) as days_since_previous_order from buyers)
    group by all

),

final as (

    select
        buyers.cohort_month,
        count(*) as buyers,
        count(*) filter (where buyers.orders >= 2) as repeat_buyers,
        count(*) filter (where buyers.orders >= 2) / count(*) as repeat_rate,
        sum(buyers.orders)::bigint as orders,
        any_value(gaps.avg_days_between_orders) as avg_days_between_orders,
        any_value(gaps.median_days_between_orders) as median_days_between_orders
    from buyers
    left join gaps using (cohort_month)
    group by buyers.cohort_month

)

select * from final
