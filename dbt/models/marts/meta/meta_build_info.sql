-- One row saying when this warehouse was built and how fresh its data is; the dashboards' freshness badge.

with

events as not materialized (

    select * from {{ ref('stg_lake__events') }}

),

final as (

    select
        current_timestamp as built_at,
        max(received_at) as last_event_received_at,
        count(*) as event_count,
        '{{ var("shop_timezone") }}' as shop_timezone,
        -- which version of the dbt project built this file: publish.py continues incrementally only from its own
        '{{ var("project_fingerprint") }}' as project_fingerprint
    from events

)

select * from final
