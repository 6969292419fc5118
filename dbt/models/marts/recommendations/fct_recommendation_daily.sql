-- Per shop day and model version: recommendation lists shown, products shown in them, taps, and the
-- click-through rates. A tap counts on the day and model version of the list it was tapped in (joined by
-- request_id); a tap whose list was never tracked counts on its own day and version.

with

events as (

    select * from {{ ref('stg_lake__recommendation_events') }}

),

shown as (

    -- a list is tracked once; keep one row per request_id should a phone track it twice
    select
        request_id,
        min(event_date) as event_date,
        min(model_version) as model_version,
        max(products_shown) as products_shown
    from events
    where event_name = 'Recommendation Shown'
    group by request_id

),

clicks as (

    select
        coalesce(shown.event_date, events.event_date) as event_date,
        coalesce(shown.model_version, events.model_version) as model_version,
        events.request_id
    from events
    left join shown using (request_id)
    where events.event_name = 'Recommendation Clicked'

),

shown_daily as (

    select event_date, model_version, count(*) as lists_shown, sum(products_shown) as products_shown
    from shown
    group by event_date, model_version

),

clicks_daily as (

    select event_date, model_version, count(*) as clicks, count(distinct request_id) as lists_clicked
    from clicks
    group by event_date, model_version

),

final as (

    select
        event_date,
        model_version,
        coalesce(shown_daily.lists_shown, 0) as lists_shown,
        coalesce(shown_daily.products_shown, 0) as products_shown,
        coalesce(clicks_daily.clicks, 0) as clicks,
        coalesce(clicks_daily.lists_clicked, 0) as lists_clicked,
        -- taps per list on screen (what the Recommender page plots) and per product on screen
        coalesce(clicks_daily.lists_clicked, 0) / nullif(shown_daily.lists_shown, 0) as click_through_rate,
        coalesce(clicks_daily.clicks, 0) / nullif(shown_daily.products_shown, 0) as product_click_through_rate
    from shown_daily
    full outer join clicks_daily using (event_date, model_version)

)

select * from final
