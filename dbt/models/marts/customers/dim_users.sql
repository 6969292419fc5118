-- One row per shopper: when and how they first came (channel, scene, the share and sharer that brought
-- them), where they live (the shipping address of their latest order that had one; when none did, the province
-- and city of their identify traits, labelled by region_source), what they buy (RFM segment, lifetime value), what
-- they like (interest tags from category affinity) and when they are usually active.

with

events as (

    {{ shopper_events() }}

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

interest_tags as (

    select * from {{ ref('category_interest_tags') }}

),

first_seen as (

    select
        person_id,
        min(event_at) as first_seen_at,
        max(event_at) as last_seen_at,
        arg_min(channel, event_at) as first_channel,
        arg_min(scene, event_at) as first_scene,
        max(user_id) as user_id,
        count(*) as events
    from events
    group by person_id

),

first_share_entry as (

    select
        person_id,
        arg_min(share_id, event_at) as referrer_share_id
    from events
    where event_name in ('Mini Program Launched', 'Mini Program Shown')
        and share_id is not null
    group by person_id

),

traits as (

    select
        person_id,
        arg_max(trait_province, event_at) filter (where trait_province is not null) as province,
        arg_max(trait_city, event_at) filter (where trait_city is not null) as city,
        arg_max(trait_gender, event_at) filter (where trait_gender is not null) as gender,
        arg_max(trait_country, event_at) filter (where trait_country is not null) as country
    from events
    where call_type = 'identify'
    group by person_id

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

category_views as (

    select
        person_id,
        product_category as category_label,
        count(*) as views
    from events
    where event_name = 'Product Viewed'
        and product_category is not null
    group by all

),

tag_views as (

    select
        category_views.person_id,
        interest_tags.interest_tag,
        sum(category_views.views) as views,
        any_value(totals.views) as all_views
    from category_views
    inner join interest_tags using (category_label)
    inner join (
        select person_id, sum(views) as views from category_views group by person_id
    ) as totals using (person_id)
    group by all

),

tags as (

    -- A tag is an interest when its categories hold at least 3 of the shopper's product views and a third of them.
    select
        person_id,
        list(interest_tag order by interest_tag) as interest_tags
    from tag_views
    where views >= 3
        and views * 3 >= all_views
    group by person_id

),

hours as (

    select
        person_id,
        hour(timezone('{{ var("shop_timezone") }}', event_at)) as hour_of_day,
        count(*) as events
    from events
    group by all

),

active_hours as (

    select
        person_id,
        list(hour_of_day order by events desc, hour_of_day) [1:3] as usual_active_hours
    from hours
    group by person_id

),

final as (

    select
        first_seen.person_id,
        first_seen.user_id,
        first_seen.first_seen_at,
        {{ shop_date('first_seen.first_seen_at') }} as first_seen_date,
        first_seen.last_seen_at,
        first_seen.first_channel as acquisition_channel,
        first_seen.first_scene as acquisition_scene,
        first_share_entry.referrer_share_id,
        shares.sharer_person_id as referrer_person_id,
        case when shipping.person_id is not null then shipping.address.province else traits.province end
            as province,
        case when shipping.person_id is not null then shipping.address.city else traits.city end as city,
        case
            when shipping.person_id is not null then 'shipping_address'
            when traits.province is not null or traits.city is not null then 'identify_traits'
            else 'unknown'
        end as region_source,
        traits.country,
        traits.gender,
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
        coalesce(tags.interest_tags, []) as interest_tags,
        active_hours.usual_active_hours,
        first_seen.events
    from first_seen
    left join first_share_entry using (person_id)
    left join shares on shares.share_id = first_share_entry.referrer_share_id
    left join traits using (person_id)
    left join shipping using (person_id)
    left join purchases using (person_id)
    left join refunds using (person_id)
    left join rfm using (person_id)
    left join tags using (person_id)
    left join active_hours using (person_id)

)

select * from final
