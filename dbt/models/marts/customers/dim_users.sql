-- depends_on: {{ ref('int_orders_placed') }}, {{ ref('int_orders_paid') }}, {{ ref('int_people_merged') }}
-- One row per shopper: when and how they first came (channel, scene, the share and sharer that brought
-- them), where they live (the shipping address of their latest order that had one; when none did, the province
-- and city of their identify traits, labelled by region_source), what they buy (RFM segment, lifetime value), what
-- they like (interest tags from category affinity) and when they are usually active.

-- Everything read from the shopper's events is int_users_profiled, everything read from their orders
-- int_buyers_summarised (both incremental per shopper); this joins them with the referrer's share and scores RFM.

-- Incremental per shopper: a build redoes the shoppers whose profile or orders it recomputed, those whose referring
-- share now has another sharer, and every shopper when the RFM reference day moves (the day after the newest paid
-- order: recency and segment change for everyone). Merged people's rows are deleted (pre-hook), as their profiles.

{{ per_shopper_incremental_config() }}

with

summaries as (

    select * from {{ ref('int_buyers_summarised') }}

),

shares as (

    select * from {{ ref('int_shares_linked') }}

),

as_of as (

    -- RFM recency is measured from the day after the newest paid order, so a rebuild of the same data
    -- gives the same segments.
    select max(last_order_date) + 1 as as_of_date from summaries

),

profiles as (

    select * from {{ ref('int_users_profiled') }}
    {%- if is_incremental() %}
    where built_at = timestamptz '{{ run_started_at }}'
        or {{ is_buyer_to_rebuild() }}
        or person_id in (
            select stored.person_id
            from {{ this }} as stored
            left join shares on shares.share_id = stored.referrer_share_id
            where stored.referrer_share_id is not null
                and shares.sharer_person_id is distinct from stored.referrer_person_id
        )
        or (select as_of_date from as_of) is distinct from (select max(rfm_as_of_date) from {{ this }})
    {%- endif %}

),

purchases as (

    select * from summaries where orders > 0

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
        case when summaries.has_shipping_address then summaries.shipping_province else profiles.trait_province end
            as province,
        case when summaries.has_shipping_address then summaries.shipping_city else profiles.trait_city end as city,
        case
            when summaries.has_shipping_address then 'shipping_address'
            when profiles.trait_province is not null or profiles.trait_city is not null then 'identify_traits'
            else 'unknown'
        end as region_source,
        profiles.trait_country as country,
        profiles.trait_gender as gender,
        coalesce(summaries.orders, 0) as orders,
        summaries.first_order_at,
        summaries.last_order_at,
        coalesce(summaries.paid_fen, 0) - coalesce(summaries.refunded_fen, 0) as lifetime_value_fen,
        {{ fen_to_yuan('coalesce(summaries.paid_fen, 0) - coalesce(summaries.refunded_fen, 0)') }}
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
        profiles.events,
        (select as_of_date from as_of) as rfm_as_of_date,
        timestamptz '{{ run_started_at }}' as built_at
    from profiles
    left join shares on shares.share_id = profiles.referrer_share_id
    left join summaries using (person_id)
    left join rfm using (person_id)

)

select * from final
