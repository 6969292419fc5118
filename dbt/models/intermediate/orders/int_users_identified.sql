-- Which shopper (person_id, the tracking key) each logged-in user is: the first event that carried the user_id.

with

events as (

    {{ shopper_events() }}

),

final as (

    -- An aggregate, not a window: one pass, no need to hold every event of a user in order.
    select
        user_id,
        arg_min(person_id, (event_at, message_id)) as person_id,
        min(event_at) as identified_at
    from events
    where user_id is not null
    group by user_id

)

select * from final
