-- Which shopper (person_id, the tracking key) each logged-in user is: the first event that carried the user_id.

with

events as (

    {{ shopper_events() }}

),

final as (

    select
        user_id,
        person_id,
        event_at as identified_at
    from events
    where user_id is not null
    qualify row_number() over (partition by user_id order by event_at, message_id) = 1

)

select * from final
