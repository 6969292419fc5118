-- Every journey that reached "paid" points at a real paid order: the same shopper, shop day, channel and scene,
-- paid at that moment.

with

journeys as (

    select * from {{ ref('int_funnel_journeys_sequenced') }}

),

paid_orders as (

    select * from {{ ref('int_orders_paid') }}

)

select journeys.*
from journeys
where journeys.paid_at is not null
    and not exists (
        select 1
        from paid_orders
        where paid_orders.person_id = journeys.person_id
            and paid_orders.paid_date = journeys.event_date
            and paid_orders.channel = journeys.channel
            and paid_orders.scene = journeys.scene
            and paid_orders.paid_at = journeys.paid_at
    )
