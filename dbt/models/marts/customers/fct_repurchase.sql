-- Repurchase per first-purchase month: buyers, those who paid again, and the days between consecutive orders.

with

paid_orders as (

    select * from {{ ref('int_orders_paid') }}

),

sequenced as (

    select
        person_id,
        paid_at,
        paid_date,
        min(paid_date) over (partition by person_id) as first_paid_date,
        date_diff('day', lag(paid_at) over (partition by person_id order by paid_at, order_id), paid_at)
            as days_since_previous_order
    from paid_orders

),

buyers as (

    select
        person_id,
        date_trunc('month', min(first_paid_date))::date as cohort_month,
        count(*) as orders
    from sequenced
    group by person_id

),

gaps as (

    select
        date_trunc('month', first_paid_date)::date as cohort_month,
        avg(days_since_previous_order) as avg_days_between_orders,
        median(days_since_previous_order) as median_days_between_orders
    from sequenced
    where days_since_previous_order is not null
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
