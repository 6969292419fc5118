-- Lines of paid orders: the order book's lines once it holds verified payments, else the products the client
-- listed in its first "Order Completed" report (the same switch as int_orders_paid).

with

paid_orders as (

    select * from {{ ref('int_orders_paid') }}

),

items as (

    select * from {{ ref('fct_order_items') }}

),

events as not materialized (

    select * from {{ ref('stg_lake__events') }}

),

verified as (

    select
        paid_orders.order_id,
        paid_orders.person_id,
        paid_orders.paid_date,
        items.product_id,
        items.quantity,
        items.line_fen
    from paid_orders
    inner join items using (order_id)
    where paid_orders.paid_source = 'order_book'

),

reported_products as (

    select
        events.order_id,
        unnest(cast(events.ordered_products as json[])) as product
    from events
    inner join paid_orders
        on paid_orders.order_id = events.order_id
        and paid_orders.paid_source = 'client_report'
    where events.event_name = 'Order Completed'
    qualify row_number() over (partition by events.order_id order by events.event_at, events.message_id) = 1

),

reported as (

    select
        paid_orders.order_id,
        paid_orders.person_id,
        paid_orders.paid_date,
        reported_products.product ->> '$.product_id' as product_id,
        coalesce(try_cast(reported_products.product ->> '$.quantity' as bigint), 1) as quantity,
        coalesce(try_cast(reported_products.product ->> '$.quantity' as bigint), 1)
            * {{ yuan_to_fen("coalesce(try_cast(reported_products.product ->> '$.price' as double), 0)") }}
            as line_fen
    from reported_products
    inner join paid_orders using (order_id)

),

final as (

    select * from verified
    union all
    select * from reported

)

select * from final
