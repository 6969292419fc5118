-- Buyer retention by cohort: a shopper's cohort is the week (Monday) and the month of their first paid order
-- (shop time zone); a later period counts the cohort's shoppers who paid again in it. Grain: cohort grain,
-- cohort start, periods since.

-- Read from int_buyers_summarised (incremental per buyer): the distinct weeks and months each buyer paid in, kept
-- sorted, so a build counts 300,000 buyers' periods instead of deduplicating every paid order.

with

buyers as (

    select * from {{ ref('int_buyers_summarised') }}
    where orders > 0

),

purchases as (

    -- one row per buyer and period they paid in; the first is their cohort
    select person_id, 'week' as grain, paid_weeks[1] as cohort_start, unnest(paid_weeks) as period_start
    from buyers
    union all
    select person_id, 'month' as grain, paid_months[1] as cohort_start, unnest(paid_months) as period_start
    from buyers

),

activity as (

    -- a buyer's periods are distinct, so rows are shoppers
    select
        grain,
        cohort_start,
        case grain
            when 'week' then date_diff('week', cohort_start, period_start)
            else date_diff('month', cohort_start, period_start)
        end as periods_since,
        count(*) as active_shoppers
    from purchases
    group by all

),

sizes as (

    select grain, cohort_start, active_shoppers as cohort_shoppers
    from activity
    where periods_since = 0

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
