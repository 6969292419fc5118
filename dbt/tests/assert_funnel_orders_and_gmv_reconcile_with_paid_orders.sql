-- The funnel mart loses no order and no fen: its orders and GMV add up to the paid orders, to the fen.

with

funnel as (

    select
        coalesce(sum(orders), 0) as orders,
        coalesce(sum(gmv_fen), 0) as gmv_fen
    from {{ ref('fct_funnel_daily') }}

),

paid_orders as (

    select
        count(*) as orders,
        coalesce(sum(amount_fen), 0) as gmv_fen
    from {{ ref('int_orders_paid') }}

)

select
    funnel.orders as funnel_orders,
    paid_orders.orders as paid_orders,
    funnel.gmv_fen as funnel_gmv_fen,
    paid_orders.gmv_fen as paid_gmv_fen
from funnel
cross join paid_orders
where funnel.orders != paid_orders.orders
    or funnel.gmv_fen != paid_orders.gmv_fen
