-- Sessions: a shopper's events split wherever they were inactive for more than var('session_gap_minutes')
-- (30 by default), by event time. The session's channel and scene are those of its first event.

-- Incremental by shopper: a build recomputes every session of the shoppers this run staged events for (and of
-- every merged shopper, whose earlier events may just have become theirs), and nobody else's.

{{ per_shopper_incremental_config() }}

with

events as not materialized (

    {{ events_of_shoppers_to_rebuild() }}

),

timelines as (

    -- Each shopper's distinct event times in order. Sessions are cut where consecutive times lie more than
    -- var('session_gap_minutes') apart: events at the same instant have no gap between them, so times alone
    -- decide every boundary. A hash aggregate and a sort of each shopper's few times, where two ordered windows
    -- over every event sorted all 10 M events twice (13-15 → 8-11 CPU-s at 10 M events).
    select
        person_id,
        list_sort(list_distinct(list(event_at))) as times
    from events
    group by person_id

),

session_starts as (

    -- the positions in `times` where a session starts
    select
        person_id,
        times,
        list_filter(
            range(1, len(times) + 1),
            lambda i: i = 1 or times[i] - times[i - 1] > to_minutes({{ var('session_gap_minutes') }})
        ) as starts
    from timelines

),

times_numbered as (

    -- every distinct time of the shopper with the number of its session (session k runs from position
    -- starts[k] up to the next start)
    select
        person_id,
        unnest(times) as event_at,
        unnest(flatten(list_transform(
            range(1, len(starts) + 1),
            lambda k: list_resize([]::bigint[], coalesce(starts[k + 1], len(times) + 1) - starts[k], k)
        ))) as session_number
    from session_starts

),

numbered as (

    select
        events.person_id,
        events.event_at,
        events.channel,
        events.scene,
        events.call_type in ('page', 'screen') as is_page_view,
        events.event_name = 'Product Viewed' as is_product_view,
        events.event_name = 'Product Added' as is_cart_add,
        events.event_name = 'Order Completed' as is_reported_order,
        times_numbered.session_number
    from events
    inner join times_numbered using (person_id, event_at)

),

final as (

    select
        person_id || '#' || session_number as session_id,
        person_id,
        session_number::integer as session_number,
        min(event_at) as started_at,
        max(event_at) as ended_at,
        {{ shop_date('min(event_at)') }} as session_date,
        date_diff('second', min(event_at), max(event_at)) as duration_s,
        arg_min(channel, event_at) as channel,
        arg_min(scene, event_at) as scene,
        count(*) as events,
        count(*) filter (where is_page_view) as page_views,
        count(*) filter (where is_product_view) as product_views,
        count(*) filter (where is_cart_add) as cart_adds,
        bool_or(is_reported_order) as has_reported_order,
        timestamptz '{{ run_started_at }}' as built_at
    from numbered
    group by person_id, session_number

)

select * from final
