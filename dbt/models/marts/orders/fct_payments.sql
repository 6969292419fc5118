-- One row per verified payment (OrderPaid from the order core, after WeChat Pay's signed notification).

-- Incremental by order: the payments of the orders int_orders_placed recomputed in this run and of any order
-- with new order-book events (a payment can arrive for an order whose placement has not).

{{ config(
    materialized='incremental',
    unique_key='order_id',
    incremental_strategy='delete+insert',
    on_schema_change='ignore'
) }}

with

{%- if is_incremental() %}

touched_orders as (

    select order_id
    from {{ ref('int_orders_placed') }}
    where built_at = timestamptz '{{ run_started_at }}'
    union
    select order_id
    from {{ ref('stg_order_book__events') }}
    where staged_at = timestamptz '{{ run_started_at }}' and event_name = 'OrderPaid'

),
{%- endif %}

order_events as not materialized (

    select * from {{ ref('stg_order_book__events') }}
    {%- if is_incremental() %}
    where order_id in (select order_id from touched_orders)
    {%- endif %}

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
        order_events.occurred_date as paid_date,
        timestamptz '{{ run_started_at }}' as built_at
    from order_events
    left join orders using (order_id)
    where order_events.event_name = 'OrderPaid'

)

select * from final
