-- Sessions: a shopper's events split wherever they were inactive for more than var('session_gap_minutes')
-- (30 by default), by event time. The session's channel and scene are those of its first event.

with

events as (

    {{ shopper_events() }}

),

gaps as (

    select
        person_id,
        message_id,
        event_at,
        call_type,
        event_name,
        channel,
        scene,
        case
            when lag(event_at) over by_time is null then 1
            when event_at - lag(event_at) over by_time
                > to_minutes({{ var('session_gap_minutes') }}) then 1
            else 0
        end as is_session_start
    from events
    window by_time as (partition by person_id order by event_at, message_id)

),

numbered as (

    select
        *,
        sum(is_session_start) over (
            partition by person_id order by event_at, message_id rows unbounded preceding
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
        count(*) filter (where call_type in ('page', 'screen')) as page_views,
        count(*) filter (where event_name = 'Product Viewed') as product_views,
        count(*) filter (where event_name = 'Product Added') as cart_adds,
        count(*) filter (where event_name = 'Order Completed') > 0 as has_reported_order
    from numbered
    group by person_id, session_number

)

select * from final
