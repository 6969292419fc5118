-- The order book adds up: paid orders and net GMV in fct_orders equal verified payments minus refunds, to the fen.

with

orders as (

    select
        count(*) filter (where is_paid) as paid_orders,
        coalesce(sum(net_paid_fen), 0) as net_gmv_fen
    from {{ ref('fct_orders') }}

),

payments as (

    select count(distinct order_id) as paid_orders, coalesce(sum(amount_fen), 0) as paid_fen
    from {{ ref('fct_payments') }}

),

refunds as (

    select coalesce(sum(amount_fen), 0) as refunded_fen
    from {{ ref('fct_refunds') }}

)

select
    orders.paid_orders as order_count,
    payments.paid_orders as payment_count,
    orders.net_gmv_fen,
    payments.paid_fen,
    refunds.refunded_fen
from orders
cross join payments
cross join refunds
where orders.paid_orders != payments.paid_orders
    or orders.net_gmv_fen != payments.paid_fen - refunds.refunded_fen
