-- Automated pushes per rule and version: shoppers chosen, sent, opened (the shopper came into the mini-program
-- from the message: a launch or show with scene 1014 subscribe message or 1107 service notifications carrying
-- the push id, as the push page's query sets it; or an opened_at the streams recorded), converted (a verified order within
-- var('attribution_days') of being chosen) and attributed revenue, against the holdout the rule kept back;
-- lift = treated conversion − holdout conversion with a 95% confidence interval (unpooled normal).

with

pushes as (

    select * from {{ ref('stg_lake__pushes') }}

),

paid_orders as (

    select * from {{ ref('int_orders_paid') }}

),

opens as (

    select push_id, min(event_at) as opened_at
    from {{ ref('stg_lake__events') }}
    where push_id is not null
        and scene in ({{ var('push_open_scenes') | join(', ') }})
        and event_name in ('Mini Program Launched', 'Mini Program Shown')
    group by push_id

),

outcomes as (

    select
        pushes.push_id,
        pushes.rule_id,
        pushes.rule_version,
        pushes.is_holdout,
        pushes.sent_at is not null as is_sent,
        pushes.sent_at is not null and coalesce(pushes.opened_at, opens.opened_at) is not null as is_opened,
        count(paid_orders.order_id) > 0 as is_converted,
        coalesce(sum(paid_orders.amount_fen), 0) as revenue_fen
    from pushes
    left join opens using (push_id)
    left join paid_orders
        on paid_orders.person_id = pushes.person_id
        and paid_orders.paid_at >= pushes.decided_at
        and paid_orders.paid_at < pushes.decided_at + to_days({{ var('attribution_days') }})
    group by all

),

rules as (

    select
        rule_id,
        rule_version,
        count(*) filter (where not is_holdout) as treated_shoppers,
        count(*) filter (where is_sent) as sent,
        count(*) filter (where is_opened) as opened,
        count(*) filter (where not is_holdout and is_converted) as converted,
        coalesce(sum(revenue_fen) filter (where not is_holdout), 0)::bigint as attributed_revenue_fen,
        count(*) filter (where is_holdout) as holdout_shoppers,
        count(*) filter (where is_holdout and is_converted) as holdout_converted
    from outcomes
    group by all

),

rates as (

    select
        *,
        converted / nullif(treated_shoppers, 0) as conversion_rate,
        holdout_converted / nullif(holdout_shoppers, 0) as holdout_conversion_rate
    from rules

),

final as (

    select
        *,
        conversion_rate - holdout_conversion_rate as lift,
        conversion_rate - holdout_conversion_rate - 1.959964 * sqrt(
            conversion_rate * (1 - conversion_rate) / treated_shoppers
            + holdout_conversion_rate * (1 - holdout_conversion_rate) / holdout_shoppers
        ) as lift_ci_low,
        conversion_rate - holdout_conversion_rate + 1.959964 * sqrt(
            conversion_rate * (1 - conversion_rate) / treated_shoppers
            + holdout_conversion_rate * (1 - holdout_conversion_rate) / holdout_shoppers
        ) as lift_ci_high
    from rates

)

select * from final
