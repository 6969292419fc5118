-- One row per order-core domain event: the outbox relay is at-least-once (a crash between Kafka's ack and
-- marking the row published re-sends it with the same event_id), so the first copy received wins. Amounts are
-- already integer fen on this topic.
-- Incremental like stg_lake__events, with the lookback on received_at: the lake is partitioned by the date an
-- event occurred, which a late relay can put far in the past, so no partition is skipped here; Parquet's
-- min/max statistics on received_at skip the old row groups instead.

{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail'
) }}

{%- set window_start = incremental_window_start() %}

with

source as (

    select * from {{ source('order_book', 'events') }}
    {%- if window_start is not none %}
    where received_at >= timestamptz '{{ window_start }}'
    {%- endif %}

),

deduplicated as (

    select *
    from source
    {%- if window_start is not none %}
    where event_id not in (
        -- a duplicate reaches the lake only within two days of the first copy (warehouse/dedup.py)
        select event_id from {{ this }}
        where received_at < timestamptz '{{ window_start }}'
            and received_at >= timestamptz '{{ window_start }}' - interval 2 day
    )
    {%- endif %}
    qualify row_number() over (partition by event_id order by received_at, filename) = 1

),

renamed as (

    select
        -- ids
        event_id,
        key as aggregate_key,
        order_id,
        user_id,
        payload ->> '$.coupon_id' as coupon_id,
        payload ->> '$.refund_id' as refund_id,
        payload ->> '$.transaction_id' as transaction_id,
        payload ->> '$.campaign_id' as campaign_id,

        -- what happened
        event as event_name,
        payload ->> '$.reason' as reason,
        payload ->> '$.source' as grant_source,
        payload ->> '$.tracking_no' as tracking_no,
        payload -> '$.lines' as lines,

        -- money (integer fen on the wire)
        try_cast(payload ->> '$.total_fen' as bigint) as total_fen,
        try_cast(payload ->> '$.discount_fen' as bigint) as discount_fen,
        try_cast(payload ->> '$.amount_fen' as bigint) as amount_fen,

        payload,

        -- time
        cast(occurred_at as timestamptz) as occurred_at,
        cast(received_at as timestamptz) as received_at,
        {{ shop_date('occurred_at') }} as occurred_date

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
