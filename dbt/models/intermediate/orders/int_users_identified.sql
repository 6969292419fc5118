-- Which shopper (person_id, the tracking key) each logged-in user is: the first event that carried the user_id.

-- Incremental by user: a build recomputes the users this run staged events for (an earlier event may arrive
-- late) and the users whose shopper was merged into another, from all their events, and no others.

{{ config(
    materialized='incremental',
    unique_key='user_id',
    incremental_strategy='delete+insert',
    on_schema_change='ignore'
) }}

with

{%- if is_incremental() %}

touched as (

    select user_id
    from {{ ref('stg_lake__events') }}
    where staged_at = timestamptz '{{ run_started_at }}' and user_id is not null
    union
    select user_id
    from {{ this }}
    where person_id in (
        select person_id from {{ ref('int_people_merged') }}
        union
        select shopper_id from {{ ref('int_people_merged') }}
    )

),
{%- endif %}

events as not materialized (

    select * from ({{ shopper_events() }})
    where user_id is not null
    {%- if is_incremental() %}
        and user_id in (select user_id from touched)
    {%- endif %}

),

final as (

    -- An aggregate, not a window: one pass, no need to hold every event of a user in order.
    select
        user_id,
        arg_min(person_id, (event_at, message_id)) as person_id,
        min(event_at) as identified_at
    from events
    group by user_id

)

select * from final
