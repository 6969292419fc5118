-- One row per verified payment (OrderPaid from the order core, after WeChat Pay's signed notification).

with

order_events as (

    select * from {{ ref('stg_order_book__events') }}

),

orders as (

    select * from {{ ref('int_orders_placed') }}

),

final as (

    select
        order_events.event_id as payment_id,
        order_events.transaction_id,
        order_events.order_id,
        order_events.user_id,
        orders.person_id,
        order_events.total_fen as amount_fen,
        {{ fen_to_yuan('order_events.total_fen') }} as amount_yuan,
        order_events.occurred_at as paid_at,
        order_events.occurred_date as paid_date
    from order_events
    left join orders using (order_id)
    where order_events.event_name = 'OrderPaid'

)

select * from final
