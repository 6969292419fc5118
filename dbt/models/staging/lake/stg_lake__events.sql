-- One row per message: the lake is at-least-once (client retries, sink re-deliveries), so keep the copy
-- received first. Money leaves here as integer fen; the event's date is the shop's calendar date.
-- Incremental and append-only: a build that starts from the last published warehouse (warehouse/publish.py)
-- re-reads only the partitions of the lookback window and appends the messages not staged yet, stamped with
-- staged_at = this run's start, so that the incremental marts downstream know exactly which events are new.

{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='ignore',
    pre_hook=any_row_order(),
    post_hook=reset_row_order()
) }}

{%- set window_start = incremental_window_start() %}

with

{%- set window_filter = 'true' if window_start is none else
    "received_date >= cast(timestamptz '" ~ window_start ~ "' as date) and received_at >= timestamptz '"
    ~ window_start ~ "'" %}

source as (

    -- with a window, the partition filter is a constant, so DuckDB opens only the window's folders
    select * from {{ source('lake', 'events') }}
    where {{ window_filter }}

),

repeated_ids as (

    {{ repeated_ids(source('lake', 'events'), 'message_id', window_filter) }}

),

deduplicated as (

    select source.*
    from source
    left join repeated_ids using (message_id)
    where {{ is_first_copy('source', 'repeated_ids', 'message_id') }}
    {%- if window_start is not none %}
        and source.message_id not in (
            -- already staged (the window is read again on every build), or a later copy of a message staged
            -- before the window: a duplicate reaches the lake only within two days of the first copy
            select message_id from {{ this }}
            where received_at >= timestamptz '{{ window_start }}' - interval 2 day
        )
    {%- endif %}

),

parsed as (

    -- Each JSON document is parsed once, into every field the models read (text; numbers cast below).
    select
        *,
        from_json(properties, '{{ tojson(var("event_property_fields")) }}') as props,
        -- most calls carry no traits ('{}', which parses to nulls anyway)
        case when traits <> '{}' then from_json(traits, '{{ tojson(var("identify_trait_fields")) }}') end as trait
    from deduplicated

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
        props.product_id,
        props.order_id,
        try_cast(props.quantity as integer) as quantity,
        props.category as product_category,
        props.name as product_name,
        -- a launch carries the share or push it came from in properties or in the page's query
        coalesce(props.share_id, props.query ->> '$.share_id') as share_id,
        props.parent_share_id,
        coalesce(props.share_via, props.method) as share_via,
        props.experiment_id,
        props.variant as experiment_variant,
        coalesce(props.push_id, props.query ->> '$.push_id') as push_id,
        props.previous_id,
        props.products as ordered_products,

        -- money (yuan on the wire; a non-number becomes null rather than failing the build)
        {{ yuan_to_fen("try_cast(props.price as double)") }} as price_fen,
        {{ yuan_to_fen("try_cast(props.total as double)") }} as total_fen,
        {{ yuan_to_fen("try_cast(props.revenue as double)") }} as revenue_fen,
        {{ yuan_to_fen("try_cast(props.discount as double)") }} as discount_fen,
        {{ yuan_to_fen("try_cast(props.shipping as double)") }} as shipping_fen,

        -- identify traits the profile uses
        trait.province as trait_province,
        trait.city as trait_city,
        trait.country as trait_country,
        trait.gender as trait_gender,

        -- where the shopper came from; events without a scene report 0
        coalesce(scene, 0) as scene,
        channel,
        source as source_name,

        -- The JSON documents themselves stay in the lake (read_parquet of var('events_glob')): every field a
        -- model reads is extracted above, and writing 10 M documents again cost a third of this model's time.
        -- So do the client's own clock readings (original_timestamp, sent_at): no model reads them, and every
        -- 10 M-row column costs about 0.3 s of CPU to write.

        -- time
        cast(timestamp as timestamptz) as event_at,
        cast(received_at as timestamptz) as received_at,
        {{ shop_date('timestamp') }} as event_date,
        -- the dbt run that staged it: incremental marts recompute what this run's new events touch
        timestamptz '{{ run_started_at }}' as staged_at

    from parsed

),

final as (

    select * from renamed

)

select * from final
