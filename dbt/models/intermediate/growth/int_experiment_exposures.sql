-- One row per shopper and experiment: the variant of their first "Experiment Viewed" and when it was.

with

events as (

    select * from {{ ref('stg_lake__events') }}

),

final as (

    select
        properties ->> '$.experiment_id' as experiment_id,
        person_id,
        arg_min(properties ->> '$.variant', event_at) as variant,
        min(event_at) as exposed_at
    from events
    where event_name = 'Experiment Viewed'
        and properties ->> '$.experiment_id' is not null
    group by all

)

select * from final
