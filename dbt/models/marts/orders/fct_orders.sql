-- One row per order in the order book: what it cost (items − discount = total), what was verifiably paid and
-- refunded, and the net GMV the shop kept.

-- Incremental by order: the orders int_orders_placed recomputed in this run.

{{ config(
    materialized='incremental',
    unique_key='order_id',
    incremental_strategy='delete+insert',
    on_schema_change='ignore'
) }}

with

orders as (

    select * from {{ ref('int_orders_placed') }}
    {%- if is_incremental() %}
    where built_at = timestamptz '{{ run_started_at }}'
    {%- endif %}

),

items as (

    select
        order_id,
        sum(line_fen)::bigint as items_fen,
        sum(quantity)::bigint as units
    from {{ ref('fct_order_items') }}
    {%- if is_incremental() %}
    where order_id in (select order_id from orders)
    {%- endif %}
    group by order_id

),

final as (

    select
        orders.order_id,
        orders.user_id,
        orders.person_id,
        orders.channel,
        orders.scene,
        orders.coupon_id,
        orders.status,
        coalesce(items.units, 0) as units,
        coalesce(items.items_fen, 0) as items_fen,
        0::bigint as shipping_fen,
        orders.discount_fen,
        orders.total_fen,
        orders.paid_fen,
        orders.refunded_fen,
        orders.paid_fen - orders.refunded_fen as net_paid_fen,
        {{ fen_to_yuan('orders.paid_fen - orders.refunded_fen') }} as net_paid_yuan,
        orders.paid_at is not null as is_paid,
        orders.placed_at,
        orders.placed_date,
        orders.paid_at,
        orders.paid_date,
        orders.transaction_id,
        timestamptz '{{ run_started_at }}' as built_at
    from orders
    left join items using (order_id)

)

select * from final
