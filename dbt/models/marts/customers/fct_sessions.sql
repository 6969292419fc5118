-- Sessions: a shopper's events split wherever they were inactive for more than var('session_gap_minutes')
-- (30 by default), by event time. The session's channel and scene are those of its first event.

-- Incremental by shopper: a build recomputes every session of the shoppers this run staged events for (and of
-- every merged shopper, whose earlier events may just have become theirs), and nobody else's.

{{ per_shopper_incremental_config() }}

with

events as not materialized (

    {{ events_of_shoppers_to_rebuild() }}

),

gaps as (

    -- Only the columns sessions need travel through the two ordered windows, ordered by time alone: events at
    -- the same instant have no gap between them, so their order cannot move a session boundary (and sorting by
    -- a string tie-breaker as well doubled the cost at 10 M events).
    select
        person_id,
        event_at,
        channel,
        scene,
        call_type in ('page', 'screen') as is_page_view,
        event_name = 'Product Viewed' as is_product_view,
        event_name = 'Product Added' as is_cart_add,
        event_name = 'Order Completed' as is_reported_order,
        coalesce(
            event_at - lag(event_at) over by_time > to_minutes({{ var('session_gap_minutes') }}), true
        )::integer as is_session_start
    from events
    window by_time as (partition by person_id order by event_at)

),

numbered as (

    select
        *,
        sum(is_session_start) over (
            partition by person_id order by event_at range unbounded preceding
        ) as session_number
    from gaps

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
