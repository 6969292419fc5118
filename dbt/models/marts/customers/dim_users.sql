-- One row per shopper: when and how they first came (channel, scene, the share and sharer that brought
-- them), where they live (the shipping address of their latest order that had one; when none did, the province
-- and city of their identify traits, labelled by region_source), what they buy (RFM segment, lifetime value), what
-- they like (interest tags from category affinity) and when they are usually active.

-- The expensive part, everything read from the shopper's events, is int_users_profiled (incremental per
-- shopper); what comes from orders is computed here over all orders (a tenth of the events), because an order can
-- move from one shopper to another and the RFM recency is measured from the newest order in the warehouse.

with

profiles as (

    select * from {{ ref('int_users_profiled') }}

),

paid_orders as (

    select * from {{ ref('int_orders_paid') }}

),

orders as (

    select * from {{ ref('int_orders_placed') }}

),

shares as (

    select * from {{ ref('int_shares_linked') }}

),

shipping as (

    -- The address of the shopper's latest order that carried one.
    select
        person_id,
        arg_max({'province': shipping_province, 'city': shipping_city}, placed_at) as address
    from orders
    where shipping_province is not null or shipping_city is not null
    group by person_id

),

purchases as (

    select
        person_id,
        count(*) as orders,
        min(paid_at) as first_order_at,
        max(paid_at) as last_order_at,
        max(paid_date) as last_order_date,
        sum(amount_fen)::bigint as paid_fen
    from paid_orders
    group by person_id

),

refunds as (

    select person_id, sum(refunded_fen)::bigint as refunded_fen
    from orders
    group by person_id

),

as_of as (

    -- RFM recency is measured from the day after the newest paid order, so a rebuild of the same data
    -- gives the same segments.
    select max(paid_date) + 1 as as_of_date from paid_orders

),

rfm as (

    select
        purchases.person_id,
        as_of.as_of_date - purchases.last_order_date as recency_days,
        purchases.orders as frequency,
        -- The thresholds come from shoploop/rfm.py (passed as vars by `shoploop dbt build`): the streams'
        -- audience filters and the console's preview use the same ones.
        case
            when as_of.as_of_date - purchases.last_order_date <= {{ var('rfm_recent_days') }} then 3
            when as_of.as_of_date - purchases.last_order_date <= {{ var('rfm_lapsing_days') }} then 2
            else 1
        end as recency_score,
        case
            when purchases.orders >= {{ var('rfm_frequent_orders') }} then 3
            when purchases.orders >= {{ var('rfm_repeat_orders') }} then 2
            else 1
        end as frequency_score
    from purchases
    cross join as_of

),

final as (

    select
        profiles.person_id,
        profiles.user_id,
        profiles.first_seen_at,
        {{ shop_date('profiles.first_seen_at') }} as first_seen_date,
        profiles.last_seen_at,
        profiles.first_channel as acquisition_channel,
        profiles.first_scene as acquisition_scene,
        profiles.referrer_share_id,
        shares.sharer_person_id as referrer_person_id,
        case when shipping.person_id is not null then shipping.address.province else profiles.trait_province end
            as province,
        case when shipping.person_id is not null then shipping.address.city else profiles.trait_city end as city,
        case
            when shipping.person_id is not null then 'shipping_address'
            when profiles.trait_province is not null or profiles.trait_city is not null then 'identify_traits'
            else 'unknown'
        end as region_source,
        profiles.trait_country as country,
        profiles.trait_gender as gender,
        coalesce(purchases.orders, 0) as orders,
        purchases.first_order_at,
        purchases.last_order_at,
        coalesce(purchases.paid_fen, 0) - coalesce(refunds.refunded_fen, 0) as lifetime_value_fen,
        {{ fen_to_yuan('coalesce(purchases.paid_fen, 0) - coalesce(refunds.refunded_fen, 0)') }}
            as lifetime_value_yuan,
        rfm.recency_days,
        rfm.recency_score,
        rfm.frequency_score,
        case
            when rfm.person_id is null then 'prospect'
            when rfm.recency_score = 3 and rfm.frequency_score = 3 then 'champion'
            when rfm.recency_score >= 2 and rfm.frequency_score >= 2 then 'loyal'
            when rfm.recency_score = 3 and rfm.frequency_score = 1 then 'new'
            when rfm.recency_score = 1 and rfm.frequency_score >= 2 then 'at_risk'
            when rfm.recency_score = 1 then 'hibernating'
            else 'needs_attention'
        end as rfm_segment,
        profiles.interest_tags,
        profiles.usual_active_hours,
        profiles.events
    from profiles
    left join shares on shares.share_id = profiles.referrer_share_id
    left join shipping using (person_id)
    left join purchases using (person_id)
    left join refunds using (person_id)
    left join rfm using (person_id)

)

select * from final
