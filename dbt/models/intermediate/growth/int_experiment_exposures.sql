-- One row per shopper and experiment: the variant of their first "Experiment Viewed" and when it was.

with

events as not materialized (

    {{ shopper_events() }}

),

final as (

    select
        experiment_id as experiment_id,
        person_id,
        arg_min(experiment_variant, event_at) as variant,
        min(event_at) as exposed_at
    from events
    where event_name = 'Experiment Viewed'
        and experiment_id is not null
    group by all

)

select * from final
