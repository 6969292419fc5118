-- One row per push: the sink writes one record per fact the streams published about it (the decision with its
-- holdout flag, the send, the open; streams/sink/pushes.py), and a re-delivered message repeats a fact, so the
-- rows of a push are folded together. A push whose decision has not reached the lake yet is left out until it has.

with

source as (

    select * from {{ source('lake', 'pushes') }}

),

final as (

    select
        push_id,
        any_value(rule_id) filter (where rule_id is not null) as rule_id,
        any_value(rule_version) filter (where rule_version is not null) as rule_version,
        any_value(person_id) filter (where person_id is not null) as person_id,
        any_value(user_id) filter (where user_id is not null) as user_id,
        coalesce(bool_or(is_holdout), false) as is_holdout,
        any_value(template_id) filter (where template_id is not null) as template_id,
        cast(min(decided_at) as timestamptz) as decided_at,
        cast(min(sent_at) as timestamptz) as sent_at,
        cast(min(opened_at) as timestamptz) as opened_at
    from source
    group by push_id
    having bool_or(is_holdout is not null)

)

select * from final
