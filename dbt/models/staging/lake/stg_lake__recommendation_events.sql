-- One row per Recommendation Shown / Clicked message (the copy received first), with the properties the
-- click-through marts read. Its own model rather than columns of stg_lake__events: only these two events carry
-- them, and the list of shown products is an array. Rebuilt in full each run from the lake's two event names.

with

source as (

    select * from {{ source('lake', 'events') }}
    where event in ('Recommendation Shown', 'Recommendation Clicked')

),

repeated_ids as (

    {{ repeated_ids(source('lake', 'events'), 'message_id',
        "event in ('Recommendation Shown', 'Recommendation Clicked')") }}

),

deduplicated as (

    select source.*
    from source
    left join repeated_ids using (message_id)
    where {{ is_first_copy('source', 'repeated_ids', 'message_id') }}

),

parsed as (

    select
        *,
        from_json(
            properties,
            '{"request_id": "VARCHAR", "slot": "VARCHAR", "model_version": "VARCHAR", "product_id": "VARCHAR",
              "position": "VARCHAR", "product_ids": "VARCHAR[]"}'
        ) as props
    from deduplicated

),

renamed as (

    select
        message_id,
        person_id,
        user_id,
        event as event_name,
        props.request_id,
        coalesce(props.slot, 'unknown') as slot,
        -- lists answered from best sellers (no model yet) have no version
        coalesce(props.model_version, 'popular') as model_version,
        props.product_id as clicked_product_id,
        try_cast(props.position as integer) as clicked_position,
        coalesce(len(props.product_ids), 0) as products_shown,
        cast(timestamp as timestamptz) as event_at,
        {{ shop_date('timestamp') }} as event_date

    from parsed

),

final as (

    select * from renamed
    where request_id is not null

)

select * from final
