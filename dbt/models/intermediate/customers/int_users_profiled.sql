-- What a shopper's own events say about them, one row per shopper: when and how they first came, the share that
-- brought them, their identify traits, their interest tags from category affinity and their usual active hours.
-- dim_users adds what their orders say.

-- Incremental by shopper: a build recomputes the shoppers this run staged events for and every merged shopper
-- (a merge can hand a person's events to another shopper; the merged person's own row is deleted by a pre-hook),
-- from all their events, and no others. Nothing here depends on other shoppers or on the newest event.

{{ per_shopper_incremental_config() }}

with

-- read by five CTEs: in an incremental build the few shoppers' events are read once (a scan of every event
-- each time otherwise); in a full build they are every event, not worth a copy
events as {% if is_incremental() %}materialized{% else %}not materialized{% endif %} (

    {{ events_of_shoppers_to_rebuild() }}

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
        count(*) as events,
        list(distinct event_date order by event_date) as active_dates
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
        first_seen.last_seen_at,
        first_seen.first_channel,
        first_seen.first_scene,
        first_share_entry.referrer_share_id,
        traits.province as trait_province,
        traits.city as trait_city,
        traits.country as trait_country,
        traits.gender as trait_gender,
        coalesce(tags.interest_tags, []) as interest_tags,
        active_hours.usual_active_hours,
        first_seen.events,
        first_seen.active_dates,
        timestamptz '{{ run_started_at }}' as built_at
    from first_seen
    left join first_share_entry using (person_id)
    left join traits using (person_id)
    left join tags using (person_id)
    left join active_hours using (person_id)

)

select * from final
