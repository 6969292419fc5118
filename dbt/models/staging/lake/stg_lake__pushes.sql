-- Push records from the streams, once each (the sink is at-least-once for stream outputs too).

with

source as (

    select * from {{ source('lake', 'pushes') }}

),

final as (

    select
        push_id,
        rule_id,
        rule_version,
        person_id,
        user_id,
        coalesce(is_holdout, false) as is_holdout,
        template_id,
        cast(decided_at as timestamptz) as decided_at,
        cast(sent_at as timestamptz) as sent_at,
        cast(opened_at as timestamptz) as opened_at
    from source
    qualify row_number() over (partition by push_id order by received_at) = 1

)

select * from final
