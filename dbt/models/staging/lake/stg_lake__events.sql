-- One row per message: the lake is at-least-once (client retries, sink re-deliveries), so keep the copy
-- received first. Money leaves here as integer fen; the event's date is the shop's calendar date.
-- Incremental: a build that starts from the last published warehouse (warehouse/publish.py) re-reads only the
-- partitions of the lookback window and replaces those rows by message_id; a message already kept from before
-- the window is not taken again, so "first received wins" holds across builds.

{{ config(
    materialized='incremental',
    unique_key='message_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

{%- set window_start = incremental_window_start() %}

with

source as (

    select * from {{ source('lake', 'events') }}
    {%- if window_start is not none %}
    -- the partition filter is a constant, so DuckDB opens only the window's folders
    where received_date >= cast(timestamptz '{{ window_start }}' as date)
        and received_at >= timestamptz '{{ window_start }}'
    {%- endif %}

),

deduplicated as (

    select *
    from source
    {%- if window_start is not none %}
    where message_id not in (
        -- a duplicate reaches the lake only within two days of the first copy (warehouse/dedup.py)
        select message_id from {{ this }}
        where received_at < timestamptz '{{ window_start }}'
            and received_at >= timestamptz '{{ window_start }}' - interval 2 day
    )
    {%- endif %}
    qualify row_number() over (
        partition by message_id
        order by received_at, filename
    ) = 1

),

renamed as (

    select
        -- ids
        message_id,
        person_id,
        anonymous_id,
        user_id,

        -- what happened
        type as call_type,
        event as event_name,
        properties ->> '$.product_id' as product_id,
        properties ->> '$.order_id' as order_id,
        try_cast(properties ->> '$.quantity' as integer) as quantity,

        -- money (yuan on the wire; a non-number becomes null rather than failing the build)
        {{ yuan_to_fen("try_cast(properties ->> '$.price' as double)") }} as price_fen,
        {{ yuan_to_fen("try_cast(properties ->> '$.total' as double)") }} as total_fen,
        {{ yuan_to_fen("try_cast(properties ->> '$.revenue' as double)") }} as revenue_fen,
        {{ yuan_to_fen("try_cast(properties ->> '$.discount' as double)") }} as discount_fen,
        {{ yuan_to_fen("try_cast(properties ->> '$.shipping' as double)") }} as shipping_fen,

        -- where the shopper came from; events without a scene report 0
        coalesce(scene, 0) as scene,
        channel,
        source as source_name,

        -- documents kept for later models
        properties,
        traits,
        context,

        -- time
        cast(timestamp as timestamptz) as event_at,
        cast(original_timestamp as timestamptz) as client_event_at,
        cast(sent_at as timestamptz) as sent_at,
        cast(received_at as timestamptz) as received_at,
        {{ shop_date('timestamp') }} as event_date

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
