-- Buyer retention by cohort: a shopper's cohort is the week (Monday) and the month of their first paid order
-- (shop time zone); a later period counts the cohort's shoppers who paid again in it. Grain: cohort grain,
-- cohort start, periods since.

with

paid_orders as (

    select * from {{ ref('int_orders_paid') }}

),

purchases as (

    select distinct
        person_id,
        grain,
        case grain
            when 'week' then date_trunc('week', paid_date)
            else date_trunc('month', paid_date)
        end::date as period_start
    from paid_orders
    cross join (values ('week'), ('month')) as grains(grain)

),

cohorts as (

    select person_id, grain, min(period_start) as cohort_start
    from purchases
    group by person_id, grain

),

activity as (

    select
        cohorts.grain,
        cohorts.cohort_start,
        case cohorts.grain
            when 'week' then date_diff('week', cohorts.cohort_start, purchases.period_start)
            else date_diff('month', cohorts.cohort_start, purchases.period_start)
        end as periods_since,
        count(distinct purchases.person_id) as active_shoppers
    from purchases
    inner join cohorts using (person_id, grain)
    group by all

),

sizes as (

    select grain, cohort_start, count(*) as cohort_shoppers
    from cohorts
    group by all

),

final as (

    select
        activity.grain,
        activity.cohort_start,
        activity.periods_since::integer as periods_since,
        sizes.cohort_shoppers,
        activity.active_shoppers,
        activity.active_shoppers / sizes.cohort_shoppers as retention_rate
    from activity
    inner join sizes using (grain, cohort_start)

)

select * from final
