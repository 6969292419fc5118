-- The batch truth of abandoned carts: a cart is a shopper's run of adds since their previous paid order. It
-- converted when a paid order followed its first add; it is abandoned when it did not and its last add is more
-- than var('cart_abandoned_after_minutes') older than the newest event in the warehouse. The streams' real-time
-- cart agent is checked against this.

with

events as (

    {{ shopper_events() }}

),

paid_orders as (

    select * from {{ ref('int_orders_paid') }}

),

numbered_orders as (

    -- orders paid at or before each payment (orders paid at the same instant count together)
    select person_id, paid_at, count(*) over (partition by person_id order by paid_at) as orders_so_far
    from paid_orders

),

adds as (

    -- The cart an add belongs to: how many paid orders the shopper had before it (the as-of join finds the
    -- last order paid strictly before the add).
    select
        events.person_id,
        events.event_at,
        events.product_id,
        coalesce(events.quantity, 1) * coalesce(events.price_fen, 0) as value_fen,
        coalesce(numbered_orders.orders_so_far, 0) as orders_before
    from events
    asof left join numbered_orders
        on numbered_orders.person_id = events.person_id
        and events.event_at > numbered_orders.paid_at
    where events.event_name = 'Product Added'

),

carts as (

    select
        person_id,
        orders_before,
        min(event_at) as first_added_at,
        max(event_at) as last_added_at,
        count(*) as adds,
        count(distinct product_id) as products,
        sum(value_fen)::bigint as value_fen
    from adds
    group by all

),

next_order as (

    select
        carts.person_id,
        carts.orders_before,
        min(paid_orders.paid_at) as converted_at
    from carts
    inner join paid_orders
        on paid_orders.person_id = carts.person_id
        and paid_orders.paid_at >= carts.first_added_at
    group by all

),

newest as (

    select max(event_at) as newest_event_at from events

),

final as (

    select
        carts.person_id || '#' || carts.orders_before as cart_id,
        carts.person_id,
        carts.first_added_at,
        carts.last_added_at,
        {{ shop_date('carts.last_added_at') }} as last_added_date,
        carts.adds,
        carts.products,
        carts.value_fen,
        next_order.converted_at,
        next_order.converted_at is not null as is_converted,
        next_order.converted_at is null
            and carts.last_added_at
                < newest.newest_event_at - to_minutes({{ var('cart_abandoned_after_minutes') }})
            as is_abandoned
    from carts
    cross join newest
    left join next_order using (person_id, orders_before)

)

select * from final
