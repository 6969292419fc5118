-- depends_on: {{ ref('int_orders_placed') }}
-- Lines of paid orders: the order book's lines once it holds verified payments, else the products the client
-- listed in its first "Order Completed" report (the same switch as int_orders_paid).

-- Incremental by order, as int_orders_paid: a build redoes the lines of the paid orders int_orders_paid computed in
-- this run; the first verified payment deletes the client reports' lines (pre-hook), as it deletes their orders.

{{ per_paid_order_incremental_config() }}

with

paid_orders as (

    select * from {{ ref('int_orders_paid') }}
    {%- if is_incremental() %}
    where built_at = timestamptz '{{ run_started_at }}'
    {%- endif %}

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
        items.line_fen,
        paid_orders.paid_source
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
            as line_fen,
        paid_orders.paid_source
    from reported_products
    inner join paid_orders using (order_id)

),

final as (

    select *, timestamptz '{{ run_started_at }}' as built_at from verified
    union all
    select *, timestamptz '{{ run_started_at }}' as built_at from reported

)

select * from final
